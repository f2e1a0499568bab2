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
	"github.com/mailsink/mailsink/server/api"
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

// The Data of Mailpit's frames (its websocket broadcasts): one "update"
// or "delete" frame per message, as Mailpit sends them.
type (
	readData struct {
		ID   string
		Read bool
	}
	tagsData struct {
		ID   string
		Tags []string
	}
	deleteData struct{ ID string }
	statsData  struct {
		Total   int
		Unread  int
		Version string
	}
	// pruneData is what mailsink adds to Mailpit's "prune" (whose Data is
	// null: reload the list) when it knows what went: the IDs, and why
	// ("evicted" to respect the store limits, or "deleted").
	pruneData struct {
		IDs    []string
		Reason string
	}
)

// maxPerMessageFrames is how many messages one change may touch and still
// be sent as a frame per message (Mailpit's cut-off for a search delete);
// beyond it one "prune" frame tells the client to reload.
const maxPerMessageFrames = 200

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
		return write(frame{Type: "stats", Data: statsData{Total: st.Total, Unread: st.Unread, Version: h.opts.Version}})
	}
	if err := writeStats(); err != nil {
		return closeReason{}, err
	}
	// The ports' state, and again whenever one is paused or resumed.
	changed := h.listenersChanged()
	writeListeners := func() error {
		if h.opts.Listeners == nil {
			return nil
		}
		return write(frame{Type: "listeners", Data: h.opts.Listeners()})
	}
	if err := writeListeners(); err != nil {
		return closeReason{}, err
	}
	for {
		select {
		case <-changed:
			changed = h.listenersChanged()
			if err := writeListeners(); err != nil {
				return closeReason{}, err
			}
		case e, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					return closeReason{websocket.CloseTryAgainLater, "fell behind; reconnect and reload"}, nil
				}
				return closeReason{websocket.CloseGoingAway, "subscription closed"}, nil
			}
			for _, f := range framesOf(e) {
				if err := write(f); err != nil {
					return closeReason{}, err
				}
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

// framesOf turns a store event into Mailpit's frames.
func framesOf(e storage.Event) []frame {
	perMessage := func(typ string, data func(i int, id string) any) []frame {
		out := make([]frame, len(e.IDs))
		for i, id := range e.IDs {
			out[i] = frame{Type: typ, Data: data(i, id)}
		}
		return out
	}
	many := len(e.IDs) > maxPerMessageFrames
	switch e.Type {
	case storage.EventNew:
		return []frame{{Type: "new", Data: e.Message.Summary()}}
	case storage.EventTruncate:
		return []frame{{Type: "truncate", Data: nil}}
	case storage.EventUpdate:
		if many {
			return []frame{{Type: "prune", Data: nil}}
		}
		return perMessage("update", func(_ int, id string) any { return readData{ID: id, Read: e.Read} })
	case storage.EventTags:
		if many {
			return []frame{{Type: "prune", Data: nil}}
		}
		return perMessage("update", func(i int, id string) any { return tagsData{ID: id, Tags: e.Tags[i]} })
	case storage.EventDelete:
		if many {
			return []frame{{Type: "prune", Data: pruneData{IDs: e.IDs, Reason: "deleted"}}}
		}
		return perMessage("delete", func(_ int, id string) any { return deleteData{ID: id} })
	case storage.EventEvict:
		return []frame{{Type: "prune", Data: pruneData{IDs: e.IDs, Reason: "evicted"}}}
	case storage.EventSessionStart, storage.EventSessionEnd:
		// The API's summary of a session, without its lines (hundreds,
		// maybe): the inbox fetches them for the session it opens.
		return []frame{{Type: "session", Data: api.TranscriptOf(e.Transcript, false)}}
	default: // a type added later: Mailpit's way to say "reload"
		return []frame{{Type: "prune", Data: nil}}
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
