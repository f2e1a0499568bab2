package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/storage"
)

// Deliverer takes accepted messages, keeps session transcripts and counts
// messages refused. Add must copy raw: the session reuses its buffer for
// the next message. *storage.Store is one.
type Deliverer interface {
	Add(raw []byte, env storage.Envelope, d storage.Delivery) (*storage.Message, error)
	Sessions() *storage.SessionLog
	CountRejected() // a message refused at or after DATA
}

// Options are the settings every listener shares.
type Options struct {
	Hostname       string
	TLSConfig      *tls.Config // nil: no TLS at all (TLS modes other than none fail to start)
	Credentials    map[string]string
	MaxMessageSize int64
	MaxRecipients  int
	Timeout        time.Duration // per command read/write
	Conns          *ConnLimit    // shared over listeners; nil: unlimited
	MaxCommands    int           // commands without delivering a message; the connection closes before the next reply beyond (0: unlimited)
	DataInFlight   *ByteBudget   // message bytes being received, shared over listeners; nil: unlimited
	MaxLineLength  int           // longest line, commands and message; 0: unlimited
	Faults         *faults.Set   // nil: no fault injection
	Logger         *slog.Logger
	Debug          io.Writer // raw protocol log; secrets included
}

// Listener is one bound SMTP port and its policy. Every connection gets a
// go-smtp Server of its own, so that go-smtp's Debug writer (re-applied
// after STARTTLS) is that connection's transcript recorder.
type Listener struct {
	cfg         ListenerConfig
	name        string // cfg.Name()
	opts        Options
	store       Deliverer
	ln          net.Listener
	transcripts *storage.SessionLog
	tlsConfig   *tls.Config // STARTTLS and implicit TLS: opts.TLSConfig with our hooks
	log         *slog.Logger

	served   atomic.Bool
	done     chan struct{} // closed when Serve returns
	stopping chan struct{} // closed by Shutdown and Close: delays end early
	refusing chan struct{} // slots for answering connections past the limit
	stopOnce sync.Once

	// An outage (pause.go): pmu guards pause; lnMu guards ln, which
	// PauseRefuse closes and Resume binds again at boundAddr.
	pmu       sync.Mutex
	pause     *pause
	lnMu      sync.Mutex
	boundAddr string

	mu    sync.Mutex
	conns map[*observedConn]struct{}
	wg    sync.WaitGroup // one per connection being served

	buffers sync.Pool // *[]byte for reading DATA

	counters counters // see Stats
}

// getBuffer returns an empty DATA buffer.
func (l *Listener) getBuffer() *[]byte {
	if b, ok := l.buffers.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// maxPooled is the largest DATA buffer kept for reuse: the in-flight
// budget counts a buffer's capacity, so a small message must not take a
// big one left by a big message.
const maxPooled = 256 << 10

// putBuffer returns a DATA buffer for reuse, unless a big message made it
// too big to keep around.
func (l *Listener) putBuffer(b *[]byte) {
	if b != nil && cap(*b) <= maxPooled {
		l.buffers.Put(b)
	}
}

// Listen binds addr (host:port) synchronously, so a busy or forbidden port
// is an error here; Serve then accepts connections.
func Listen(addr string, cfg ListenerConfig, opts Options, store Deliverer) (*Listener, error) {
	if cfg.TLS != TLSNone && opts.TLSConfig == nil {
		return nil, fmt.Errorf("listener %s: TLS mode %s needs a certificate", cfg, cfg.TLS)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("binding SMTP listener %s on %s: %w", cfg, addr, err)
	}
	l := &Listener{
		cfg: cfg, opts: opts, store: store, ln: ln,
		log:      opts.Logger.With("listener", cfg.Name()),
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
		refusing: make(chan struct{}, 16),
		conns:    map[*observedConn]struct{}{},
	}
	if cfg.Port == 0 { // ephemeral: name it after the port actually bound
		l.cfg.Port = ln.Addr().(*net.TCPAddr).Port
	}
	l.name = l.cfg.Name()
	l.boundAddr = ln.Addr().String()
	l.transcripts = store.Sessions()
	if cfg.TLS != TLSNone {
		l.tlsConfig = opts.TLSConfig.Clone()
		l.tlsConfig.GetConfigForClient = l.helloHook
	}
	return l, nil
}

// newServer is the go-smtp server for one connection.
func (l *Listener) newServer(c *observedConn) *smtp.Server {
	srv := smtp.NewServer(backend{l: l, c: c})
	srv.Domain = l.opts.Hostname
	srv.MaxMessageBytes = l.opts.MaxMessageSize
	srv.MaxRecipients = l.opts.MaxRecipients
	srv.MaxLineLength = l.opts.MaxLineLength
	srv.ReadTimeout = l.opts.Timeout
	srv.WriteTimeout = l.opts.Timeout
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = true
	// Our Auth decides whether cleartext AUTH is allowed, so that 587 can
	// answer 530 like real submission servers instead of go-smtp's 523.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = connLog{c}
	srv.Debug = c.rec
	if l.cfg.TLS == TLSStartTLS || l.cfg.TLS == TLSStartTLSRequired {
		srv.TLSConfig = l.tlsConfig // go-smtp runs STARTTLS
	}
	return srv
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.listener().Addr() }

// Config is the listener's configuration, with the bound port filled in.
func (l *Listener) Config() ListenerConfig { return l.cfg }

// Serve accepts connections until Close or Shutdown.
func (l *Listener) Serve() error {
	if !l.served.CompareAndSwap(false, true) {
		return errors.New("smtpd: Serve called twice")
	}
	defer close(l.done)
	var tempDelay time.Duration
	for {
		ln := l.listener()
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-l.stopping:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				if l.listener() != ln { // paused and resumed meanwhile
					continue
				}
				if p := l.currentPause(); p != nil && p.mode == PauseRefuse {
					select {
					case <-p.resumed: // or paused again in another mode
					case <-l.stopping:
						return nil
					}
					continue
				}
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() { // e.g. out of file descriptors: back off
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				l.log.Warn("accepting a connection", "err", err, "retry", tempDelay)
				time.Sleep(tempDelay)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting on %s: %w", l.name, err)
		}
		tempDelay = 0
		if l.whilePaused(c) {
			continue
		}
		if lim := l.opts.Conns; !lim.acquire() {
			select {
			case l.refusing <- struct{}{}: // a bounded number are told why
				go func() {
					defer func() { <-l.refusing }()
					l.answerAndClose(c, "421 4.7.0 Too many connections, try again later", "refused: too many connections")
				}()
			default: // a flood past the limit is just closed
				c.Close()
			}
			continue
		}
		oc := l.track(c)
		if oc == nil { // shutting down
			l.opts.Conns.release()
			c.Close()
			continue
		}
		go l.serveConn(oc)
	}
}

// track registers a connection to be served; nil once stopping.
func (l *Listener) track(c net.Conn) *observedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.stopping:
		return nil
	default:
	}
	oc := newObservedConn(c, l)
	l.conns[oc] = struct{}{}
	// A connection accepted as Shutdown begins is drained like the rest.
	l.wg.Add(1)
	return oc
}

func (l *Listener) untrack(oc *observedConn) {
	l.mu.Lock()
	delete(l.conns, oc)
	l.mu.Unlock()
	l.wg.Done()
}

// serveConn applies connect-stage faults, then hands the connection to a
// go-smtp server of its own until it ends.
func (l *Listener) serveConn(oc *observedConn) {
	defer l.untrack(oc)
	defer oc.rec.end()
	defer oc.Close()
	if !l.connectFault(oc) {
		return
	}
	var conn net.Conn = oc
	if l.cfg.TLS == TLSImplicit {
		conn = tls.Server(oc, l.tlsConfig) // go-smtp runs the handshake
	}
	srv := l.newServer(oc)
	srv.Serve(&oneConnListener{c: conn, done: oc.closed}) // returns once the connection is closed
	// go-smtp's own goroutine for the connection may still be returning
	// from a session method: the connection is served until it has.
	srv.Shutdown(context.Background())
}

// connectFault fires a connect-stage rule before go-smtp sees the
// connection; it reports whether the connection goes on to go-smtp.
func (l *Listener) connectFault(oc *observedConn) bool {
	r, ok := l.opts.Faults.Fire(faults.Event{Stage: faults.Connect, Port: l.cfg.Port})
	if !ok {
		return true
	}
	oc.rec.fault(r)
	oc.wait(r)
	rep, hasReply := r.ParsedReply()
	if !hasReply && !r.Drop {
		return true // a delayed greeting
	}
	if hasReply {
		var w io.Writer = oc
		if l.cfg.TLS == TLSImplicit {
			tc := tls.Server(oc, l.tlsConfig)
			tc.SetDeadline(time.Now().Add(l.handshakeTimeout()))
			if err := tc.Handshake(); err != nil {
				oc.rec.note("TLS handshake failed: " + err.Error())
				return false
			}
			w = tc
		}
		oc.rec.note("S " + rep.String())
		l.counters.reply(rep.Code)
		io.WriteString(w, rep.String()+"\r\n")
		return false
	}
	oc.rec.note("connection dropped")
	return false
}

// helloHook runs at every TLS ClientHello (STARTTLS or implicit): the
// starttls fault stage, and a config that records the handshake's outcome
// in the connection's transcript.
func (l *Listener) helloHook(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	oc, ok := hello.Conn.(*observedConn)
	if !ok {
		return nil, nil
	}
	if l.cfg.TLS != TLSImplicit {
		if r, ok := l.opts.Faults.Fire(faults.Event{Stage: faults.StartTLS, Port: l.cfg.Port}); ok {
			oc.rec.fault(r)
			oc.wait(r)
			if r.Drop {
				oc.rec.note("connection dropped")
				oc.Close()
				return nil, errDropped
			}
		}
	}
	cfg := l.tlsConfig.Clone()
	cfg.GetConfigForClient = nil
	cfg.VerifyConnection = func(st tls.ConnectionState) error {
		oc.rec.tlsVerified(st)
		return nil
	}
	return cfg, nil
}

// answerAndClose answers a connection with reply (a connection past the
// limit, a paused listener) and closes it, before any go-smtp server sees
// it; why goes in the transcript if the TLS handshake fails.
func (l *Listener) answerAndClose(c net.Conn, reply, why string) {
	defer c.Close()
	l.counters.sessions.Add(1)
	tr := l.transcripts.Start(storage.Transcript{Listener: l.name, Port: l.cfg.Port, ClientAddr: c.RemoteAddr().String()})
	defer tr.End()
	var conn net.Conn = c
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if l.cfg.TLS == TLSImplicit {
		tc := tls.Server(c, l.opts.TLSConfig)
		if err := tc.Handshake(); err != nil {
			tr.Add("*", why+" (TLS handshake failed: "+err.Error()+")")
			return
		}
		conn = tc
	}
	tr.Add("S", reply)
	l.counters.reply(421)
	io.WriteString(conn, reply+"\r\n")
}

func (l *Listener) stop() { l.stopOnce.Do(func() { close(l.stopping) }) }

// stopWithPause stops under the pause lock, so that no Resume binds the
// port again once stopping.
func (l *Listener) stopWithPause() {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	l.stop()
}

// Shutdown stops accepting and drains open connections: a new transaction
// (MAIL, RCPT, DATA) gets 421 4.3.2, a connection waiting for its next
// command gets go-smtp's 421 at once, and a message being transferred may
// finish until ctx is done (its deadline, or a minute without one). Then
// whatever is left is closed.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.stopWithPause()
	l.listener().Close()
	by, ok := ctx.Deadline()
	if !ok {
		by = time.Now().Add(time.Minute)
	}
	l.mu.Lock()
	for oc := range l.conns {
		oc.drain(by)
	}
	l.mu.Unlock()
	if l.served.Load() {
		select {
		case <-l.done:
		case <-ctx.Done():
		}
	}
	idle := make(chan struct{})
	go func() { l.wg.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		l.closeConns()
		<-idle
		return ctx.Err()
	}
}

// Close stops the listener and drops open sessions at once.
func (l *Listener) Close() error {
	l.stopWithPause()
	err := l.listener().Close()
	l.closeConns()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (l *Listener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for oc := range l.conns {
		oc.Close()
	}
}

// ConnLimit caps concurrent connections over all listeners sharing it.
type ConnLimit struct {
	max  int64
	open atomic.Int64
}

// NewConnLimit returns a limit of max connections; max <= 0 is unlimited.
func NewConnLimit(max int) *ConnLimit { return &ConnLimit{max: int64(max)} }

// acquire takes a connection slot; false when the limit is reached.
func (c *ConnLimit) acquire() bool {
	if c == nil || c.max <= 0 {
		return true
	}
	if c.open.Add(1) > c.max {
		c.open.Add(-1)
		return false
	}
	return true
}

func (c *ConnLimit) release() {
	if c != nil && c.max > 0 {
		c.open.Add(-1)
	}
}

// ByteBudget caps the bytes of messages being received at once over all
// connections sharing it, so that many slow or stalled transfers cannot
// grow the process without bound.
type ByteBudget struct {
	max  int64
	used atomic.Int64
}

// NewByteBudget returns a budget of max bytes; max <= 0 is unlimited.
func NewByteBudget(max int64) *ByteBudget { return &ByteBudget{max: max} }

// take reserves n bytes; false (reserving nothing) when they do not fit.
func (b *ByteBudget) take(n int64) bool {
	if b == nil || b.max <= 0 {
		return true
	}
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *ByteBudget) give(n int64) {
	if b != nil && b.max > 0 {
		b.used.Add(-n)
	}
}

func (l *Listener) handshakeTimeout() time.Duration {
	if l.opts.Timeout > 0 {
		return l.opts.Timeout
	}
	return 30 * time.Second
}
