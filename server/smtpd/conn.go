package smtpd

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/storage"
)

// observedConn is the socket under go-smtp (and under TLS, when there is
// TLS). It never changes, inserts or answers a byte: it notes which way
// the last bytes went, so the recorder can tell go-smtp's Debug output
// apart, and it can close the connection (the command limit, drop faults,
// a 421 reply, shutdown).
type observedConn struct {
	net.Conn
	l   *Listener
	rec *recorder

	// wrote is set by a write to the socket and cleared by a read: go-smtp
	// hands its Debug writer a reply right after writing it, and input
	// right after reading it.
	wrote atomic.Bool

	timedOut atomic.Value // error: the read timeout that ended the input

	closed    chan struct{}
	closeOnce sync.Once

	// inData counts Data calls running (one per DATA; a BDAT transfer's
	// spans its chunks): a transaction there may finish during shutdown.
	inData atomic.Int32

	dlMu     sync.Mutex
	readDL   time.Time // as go-smtp last asked
	draining bool
	drainBy  time.Time // shutdown's end: no read may wait beyond it
}

func newObservedConn(c net.Conn, l *Listener) *observedConn {
	oc := &observedConn{Conn: c, l: l, closed: make(chan struct{})}
	l.counters.sessions.Add(1)
	tr := l.transcripts.Start(storage.Transcript{Listener: l.name, Port: l.cfg.Port, ClientAddr: c.RemoteAddr().String()})
	oc.rec = newRecorder(tr, oc, l.opts.MaxCommands, l.opts.Debug)
	return oc
}

// Read passes bytes up unchanged. A read that timed out stays timed out:
// go-smtp (through bufio) takes the unfinished line a timeout leaves as a
// whole command and reads on with a fresh deadline, so a client that never
// ends a line would never be cut off. With the timeout sticky, go-smtp's
// next read fails at once and it answers 421 and closes.
func (c *observedConn) Read(p []byte) (int, error) {
	if err, _ := c.timedOut.Load().(error); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.wrote.Store(false)
	if n == 0 && err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.timedOut.Store(err)
		}
		c.rec.inputEnded()
	}
	return n, err
}

// SetReadDeadline passes go-smtp's deadline on, except while the listener
// shuts down: then a read outside a message transfer times out at once,
// so go-smtp answers it with its 421 and closes, and a transfer gets until
// the end of the grace period.
func (c *observedConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.readDL = t
	return c.Conn.SetReadDeadline(c.effectiveDL())
}

func (c *observedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// effectiveDL is the read deadline in force; c.dlMu is held.
func (c *observedConn) effectiveDL() time.Time {
	if !c.draining {
		return c.readDL
	}
	if c.inData.Load() == 0 {
		return time.Unix(1, 0) // in the past: the blocked read fails now
	}
	if c.readDL.IsZero() || c.readDL.After(c.drainBy) {
		return c.drainBy
	}
	return c.readDL
}

// drain starts the shutdown of this connection: see SetReadDeadline.
func (c *observedConn) drain(by time.Time) {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	c.draining, c.drainBy = true, by
	c.Conn.SetReadDeadline(c.effectiveDL())
}

// enterData and leaveData bracket a message transfer.
//
// go-smtp writes 354 before it calls Data, so a shutdown may begin in
// between, with no transfer counted: the drain then sets a deadline in the
// past. No read happens in between, and enterData puts the drain's
// deadline for transfers back before Data's first read.
func (c *observedConn) enterData() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.inData.Add(1) == 1 && c.draining {
		c.Conn.SetReadDeadline(c.effectiveDL())
	}
}

func (c *observedConn) leaveData() {
	c.dlMu.Lock()
	defer c.dlMu.Unlock()
	if c.inData.Add(-1) == 0 && c.draining {
		c.Conn.SetReadDeadline(c.effectiveDL())
	}
}

func (c *observedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.wrote.Store(true)
	}
	return n, err
}

// Close closes the socket once and releases the connection slot. (The
// transcript ends when serving the connection has: go-smtp reports a
// failed handshake after closing.)
func (c *observedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		close(c.closed)
		c.l.opts.Conns.release()
	})
	return err
}

// wait sleeps a fired rule's delay, cut short when the connection closes
// or the listener stops.
func (c *observedConn) wait(r faults.Rule) {
	done := make(chan struct{})
	defer close(done)
	stop := make(chan struct{})
	go func() {
		select {
		case <-c.closed:
		case <-c.l.stopping:
		case <-done:
			return
		}
		close(stop)
	}()
	r.Wait(stop)
}

// oneConnListener hands go-smtp's Serve a single connection, then blocks
// until that connection is closed, so Serve returns with it.
type oneConnListener struct {
	mu   sync.Mutex
	c    net.Conn
	done <-chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil } // the connection's own Close ends Accept
func (l *oneConnListener) Addr() net.Addr { return dummyAddr{} }

type dummyAddr struct{}

func (dummyAddr) Network() string { return "tcp" }
func (dummyAddr) String() string  { return "one connection" }

// connLog is go-smtp's ErrorLog for one connection: what it reports (a
// failed implicit TLS handshake, a broken connection) goes into the
// transcript as a note, and to the debug log.
type connLog struct{ c *observedConn }

func (l connLog) Printf(format string, v ...any) { l.print(fmt.Sprintf(format, v...)) }
func (l connLog) Println(v ...any)               { l.print(fmt.Sprintln(v...)) }

func (l connLog) print(s string) {
	s = strings.TrimSpace(s)
	// go-smtp says "error handling <addr>: <err>"; the address is the
	// transcript's already.
	if _, err, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(s, "error handling ") {
		s = err
	}
	if strings.Contains(s, "tls: ") || strings.Contains(s, "handshake") {
		s = "TLS handshake failed: " + s
		switch {
		case strings.Contains(s, "does not look like a TLS handshake"):
			s += " (the client spoke plaintext: it probably meant a STARTTLS or plaintext port such as 587, 25 or 2525; this port is implicit TLS)"
		case strings.Contains(s, "bad certificate"), strings.Contains(s, "unknown certificate authority"), strings.Contains(s, "certificate unknown"):
			s += " (the client does not trust mailsink's certificate: GET /api/v1/tls/certificate)"
		}
	}
	l.c.rec.note(s)
	l.c.l.log.Debug("smtp connection", "client", l.c.RemoteAddr().String(), "msg", s)
}
