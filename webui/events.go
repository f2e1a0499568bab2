package webui

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

// subscriptionBuffer is how many store events a tab may lag behind before
// the store drops it; the tab then reconnects and reloads its list.
const subscriptionBuffer = 256

// frame is one WebSocket message, shaped like Mailpit's.
type frame struct {
	Type string
	Data any
}

type idsData struct {
	ID  string `json:",omitempty"` // set when exactly one ID, as Mailpit sends it
	IDs []string
}

type updateData struct {
	ID   string `json:",omitempty"`
	IDs  []string
	Read bool
}

type statsData struct {
	Total  int
	Unread int
}

// sessionData is a transcript without its lines, which can run to hundreds:
// the inbox fetches GET /api/v1/session/{ID} when one is opened. The
// counts let a list show what happened without that fetch.
type sessionData struct {
	*storage.Transcript
	Lines     []storage.TranscriptLine `json:",omitempty"` // hides the transcript's: left nil, so not sent
	LineCount int                      // len(Lines)
	// The session's apitypes.Verdict, as the API's transcripts carry it:
	// ErrorCount (4xx and 5xx replies, a multi-line one once, and notes on
	// a TLS mistake such as a failed handshake), LastError (e.g. "530 5.7.0
	// Must issue a STARTTLS command first") and Reason.
	ErrorCount int
	LastError  string
	Reason     string
}

// sessionOf summarises t, the store's copy for this event, shared by every
// subscriber: it is only read. (The store keeps its lists non-nil.)
func sessionOf(t *storage.Transcript) sessionData {
	var v apitypes.Verdict
	for _, l := range t.Lines {
		v.Add(l.Dir, l.Text)
	}
	return sessionData{Transcript: t, LineCount: len(t.Lines), ErrorCount: v.ErrorCount, LastError: v.LastError, Reason: v.Reason}
}

// checkOrigin allows non-browser clients (no Origin), the same origin, and
// the configured extra origins.
func (h *Handler) checkOrigin(r *http.Request) bool { return OriginAllowed(r, h.opts.AllowedOrigins) }

// OriginAllowed reports whether a request may act for its Origin: no Origin
// (not a browser), the same origin, or one of allowed ("*", a full origin
// such as "https://app.test:8443", or a bare host:port).
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range allowed {
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if strings.EqualFold(strings.TrimSuffix(a, "/"), u.Scheme+"://"+u.Host) {
				return true
			}
		case strings.EqualFold(a, u.Host):
			return true
		}
	}
	return false
}

// serveEvents upgrades to a WebSocket and streams store events to it. This
// goroutine is the connection's only writer; a second one reads, only to
// see pongs and the close.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !h.track() {
		httperr.Write(w, r, h.log, httperr.New(http.StatusServiceUnavailable, "mailsink is shutting down"))
		return
	}
	defer h.conns.Done()
	// Subscribe before the handshake completes, so that a client which
	// loads its list once the socket is open misses nothing in between.
	sub := h.store.Subscribe(subscriptionBuffer)
	defer sub.Close()
	h.clients.Add(1) // before the handshake's answer, so a client that has it is counted
	defer h.clients.Add(-1)
	conn, err := h.upgrader.Upgrade(w, r, nil) // answers 403 itself when checkOrigin refuses
	if err != nil {
		h.log.Debug("events: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	log := h.log.With("remote", r.RemoteAddr)
	log.Debug("events: connected")

	readDone := make(chan struct{})
	go h.readLoop(conn, readDone)
	defer func() {
		conn.Close() // ends readLoop too, if it still runs
		<-readDone
	}()

	reason, err := h.writeLoop(r, conn, sub, readDone)
	if err != nil {
		log.Debug("events: connection ended", "err", err)
		return
	}
	if reason.code == websocket.CloseTryAgainLater {
		log.Info("events: client fell behind; closing so it reloads", "buffer", subscriptionBuffer)
	} else {
		log.Debug("events: closing", "reason", reason.text)
	}
	msg := websocket.FormatCloseMessage(reason.code, reason.text)
	_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(h.opts.WriteTimeout)) // best effort: closing anyway
	// Give the client a moment to answer the close, so it sees a clean close.
	select {
	case <-readDone:
	case <-time.After(time.Second):
	}
}

type closeReason struct {
	code int
	text string
}

// writeLoop writes frames until the subscription or connection ends. It
// returns why the server is closing, or an error when the connection broke.
func (h *Handler) writeLoop(r *http.Request, conn *websocket.Conn, sub *storage.Subscription, readDone <-chan struct{}) (closeReason, error) {
	ping := time.NewTicker(h.opts.PingPeriod)
	defer ping.Stop()
	var stats <-chan time.Time // armed after a change, so stats frames coalesce

	write := func(f frame) error {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)); err != nil {
			return err
		}
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	writeStats := func() error {
		st := h.store.Stats()
		return write(frame{Type: "stats", Data: statsData{Total: st.Total, Unread: st.Unread}})
	}
	if err := writeStats(); err != nil {
		return closeReason{}, err
	}
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					return closeReason{websocket.CloseTryAgainLater, "fell behind; reconnect and reload"}, nil
				}
				return closeReason{websocket.CloseGoingAway, "subscription closed"}, nil
			}
			if err := write(frameOf(e)); err != nil {
				return closeReason{}, err
			}
			if stats == nil && e.Transcript == nil { // sessions do not change the counts
				stats = time.After(h.opts.StatsInterval)
			}
		case <-stats:
			stats = nil
			if err := writeStats(); err != nil {
				return closeReason{}, err
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteTimeout)); err != nil {
				return closeReason{}, err
			}
		case <-readDone:
			return closeReason{}, errors.New("client closed the connection")
		case <-r.Context().Done():
			return closeReason{websocket.CloseGoingAway, "server shutting down"}, nil
		case <-h.quit:
			return closeReason{websocket.CloseGoingAway, "server shutting down"}, nil
		}
	}
}

func frameOf(e storage.Event) frame {
	one := func(ids []string) string {
		if len(ids) == 1 {
			return ids[0]
		}
		return ""
	}
	switch e.Type {
	case storage.EventNew:
		return frame{Type: "new", Data: e.Message.Summary()}
	case storage.EventTruncate:
		return frame{Type: "truncate", Data: nil}
	case storage.EventUpdate:
		return frame{Type: "update", Data: updateData{ID: one(e.IDs), IDs: e.IDs, Read: e.Read}}
	case storage.EventEvict:
		return frame{Type: "evict", Data: idsData{IDs: e.IDs}}
	case storage.EventSessionStart, storage.EventSessionEnd:
		return frame{Type: "session", Data: sessionOf(e.Transcript)}
	default: // storage.EventDelete, and any type added later: the client reloads
		return frame{Type: string(e.Type), Data: idsData{ID: one(e.IDs), IDs: e.IDs}}
	}
}

// readLoop reads until the connection fails, so that pongs and the peer's
// close are processed; clients have nothing to say. It closes done on exit.
func (h *Handler) readLoop(conn *websocket.Conn, done chan<- struct{}) {
	defer close(done)
	pongWait := 2 * h.opts.PingPeriod
	conn.SetReadLimit(512)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait)) // fails only on a closed conn, which NextReader reports
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		if _, _, err := conn.NextReader(); err != nil {
			var ne net.Error
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && !(errors.As(err, &ne) && ne.Timeout()) {
				h.log.Debug("events: read ended", "err", err)
			}
			return
		}
	}
}
