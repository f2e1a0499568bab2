package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// browsers is -ws: N WebSocket connections to the sink's /api/events, as N
// open inbox tabs hold them, each read continuously by its own goroutine.
// A message's "new" event is matched to the message by its recipient,
// which is unique per message.
type browsers struct {
	// timeout is how long after its 250 a message's event may take to
	// reach a socket before it counts as missed (-ws-timeout): a lost
	// event costs one message that long rather than hanging the run.
	timeout time.Duration
	conns   []*websocket.Conn
	readers sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*eventWatch // recipient -> the watch of a message in flight
	alive   []bool
	lost    []error // why a socket ended before close; nil: it did not
	closing bool
}

// eventWatch collects when one message's "new" event reached each socket.
type eventWatch struct {
	at   []time.Time   // per socket; zero: not arrived
	left int           // live sockets yet to deliver it
	done chan struct{} // closed when left reaches 0
}

// openBrowsers dials n sockets to api's /api/events, one after the other.
// The sink subscribes a socket to its store before the handshake ends, so
// every message sent afterwards reaches every socket.
func openBrowsers(ctx context.Context, api string, n int, dialTimeout, eventTimeout time.Duration) (*browsers, error) {
	u, err := url.Parse(api + "/api/events")
	if err != nil {
		return nil, fmt.Errorf("-ws: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("-ws: -api %q: want http:// or https://", api)
	}
	// No Origin header: the sink lets non-browser clients in. No proxy: loopback.
	d := &websocket.Dialer{HandshakeTimeout: dialTimeout}
	b := &browsers{timeout: eventTimeout, pending: map[string]*eventWatch{}, alive: make([]bool, n), lost: make([]error, n)}
	for i := range n {
		conn, _, err := d.DialContext(ctx, u.String(), nil)
		if err != nil {
			b.close()
			return nil, fmt.Errorf("-ws: opening socket %d of %d to %s: %w", i+1, n, u, err)
		}
		b.conns = append(b.conns, conn)
		b.alive[i] = true
		b.readers.Go(func() { b.read(i, conn) })
	}
	return b, nil
}

// eventFrame is the part of a sink's WebSocket frame the tool reads: for a
// "new" frame, the message summary's recipients. mailsink sends the SMTP
// envelope; Mailpit's summary has only the To: header, which holds the
// same address in the tool's messages.
type eventFrame struct {
	Type string
	Data json.RawMessage
}

type newEventData struct {
	Envelope struct{ To []string }
	To       []struct{ Address string }
}

// read records the arrival of every "new" event on socket i until the
// socket ends.
func (b *browsers) read(i int, conn *websocket.Conn) {
	for {
		_, msg, err := conn.ReadMessage()
		now := time.Now()
		if err != nil {
			b.end(i, err)
			return
		}
		var f eventFrame
		if json.Unmarshal(msg, &f) != nil || f.Type != "new" {
			continue
		}
		var d newEventData
		if json.Unmarshal(f.Data, &d) != nil {
			continue
		}
		b.mu.Lock()
		for _, rcpt := range d.Envelope.To {
			b.arrived(i, rcpt, now)
		}
		for _, a := range d.To {
			b.arrived(i, a.Address, now)
		}
		b.mu.Unlock()
	}
}

// arrived notes that rcpt's event reached socket i at t. b.mu is held.
func (b *browsers) arrived(i int, rcpt string, t time.Time) {
	w := b.pending[rcpt]
	if w == nil || !w.at[i].IsZero() {
		return // not a message in flight, or already seen (Envelope and To: name the same one)
	}
	w.at[i] = t
	if w.left--; w.left == 0 {
		close(w.done)
	}
}

// end marks socket i gone: messages in flight stop waiting for it, and its
// events count as missed.
func (b *browsers) end(i int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.alive[i] = false
	if !b.closing {
		b.lost[i] = err
	}
	for _, w := range b.pending {
		if w.at[i].IsZero() {
			if w.left--; w.left == 0 {
				close(w.done)
			}
		}
	}
}

// expect starts watching for rcpt's event; call it before sending.
func (b *browsers) expect(rcpt string) *eventWatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := &eventWatch{at: make([]time.Time, len(b.conns)), done: make(chan struct{})}
	for _, ok := range b.alive {
		if ok {
			w.left++
		}
	}
	if w.left == 0 {
		close(w.done)
	}
	b.pending[rcpt] = w
	return w
}

// forget stops watching for rcpt, whose message was not accepted.
func (b *browsers) forget(rcpt string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.pending, rcpt)
}

// result waits until rcpt's event reached every live socket, b.timeout
// after acked at the latest, and returns the delay from acked on each
// socket that had it and how many did not. The sink stores a message
// before it answers 250, so an event may arrive before the 250 was read:
// that counts as 0.
func (b *browsers) result(ctx context.Context, rcpt string, w *eventWatch, acked time.Time) ([]time.Duration, int) {
	t := time.NewTimer(time.Until(acked.Add(b.timeout)))
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.pending, rcpt) // an event later than this is not counted
	lat := make([]time.Duration, 0, len(w.at))
	missed := 0
	for _, at := range w.at {
		if at.IsZero() {
			missed++
		} else {
			lat = append(lat, max(at.Sub(acked), 0))
		}
	}
	return lat, missed
}

// lostErrors says why sockets ended before the run did.
func (b *browsers) lostErrors() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, err := range b.lost {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// close says goodbye on every socket, gives the sink a second to answer,
// then closes them all and waits for the readers.
func (b *browsers) close() {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	bye := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "mailsink-bench done")
	deadline := time.Now().Add(time.Second)
	for _, c := range b.conns {
		_ = c.WriteControl(websocket.CloseMessage, bye, deadline) // best effort: closed below anyway
	}
	done := make(chan struct{})
	go func() {
		b.readers.Wait()
		close(done)
	}()
	select {
	case <-done: // every sink answered the close
	case <-time.After(time.Until(deadline)):
	}
	for _, c := range b.conns {
		c.Close() // an error only says the connection was already gone
	}
	<-done // a read on a closed connection returns at once
}
