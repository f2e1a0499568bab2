package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/storage"
)

// Deliverer takes accepted messages; *storage.Store is one.
type Deliverer interface {
	Add(raw []byte, env storage.Envelope, d storage.Delivery) (*storage.Message, error)
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
	Logger         *slog.Logger
	Debug          io.Writer // raw protocol log; secrets included
}

// Listener is one bound SMTP port and its policy.
type Listener struct {
	cfg   ListenerConfig
	opts  Options
	store Deliverer
	ln    net.Listener
	srv   *smtp.Server
	log   *slog.Logger

	served atomic.Bool
	done   chan struct{} // closed when Serve returns
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
	l := &Listener{cfg: cfg, opts: opts, store: store, log: opts.Logger.With("listener", cfg.Name()), done: make(chan struct{})}
	if cfg.Port == 0 { // ephemeral: name it after the port actually bound
		l.cfg.Port = ln.Addr().(*net.TCPAddr).Port
	}
	var inner net.Listener = &limitListener{Listener: ln, limit: opts.Conns, implicitTLS: cfg.TLS == TLSImplicit}
	if cfg.TLS == TLSImplicit {
		inner = tls.NewListener(inner, opts.TLSConfig)
	}
	l.ln = inner

	srv := smtp.NewServer(backend{l})
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = opts.MaxMessageSize
	srv.MaxRecipients = opts.MaxRecipients
	srv.ReadTimeout = opts.Timeout
	srv.WriteTimeout = opts.Timeout
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = true
	// Our Auth decides whether cleartext AUTH is allowed, so that 587 can
	// answer 530 like real submission servers instead of go-smtp's 523.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slog.NewLogLogger(l.log.Handler(), slog.LevelDebug)
	srv.Debug = opts.Debug
	if cfg.TLS == TLSStartTLS || cfg.TLS == TLSStartTLSRequired {
		srv.TLSConfig = opts.TLSConfig
	}
	l.srv = srv
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Config is the listener's configuration, with the bound port filled in.
func (l *Listener) Config() ListenerConfig { return l.cfg }

// Serve accepts connections until Close or Shutdown.
func (l *Listener) Serve() error {
	if !l.served.CompareAndSwap(false, true) {
		return errors.New("smtpd: Serve called twice")
	}
	defer close(l.done)
	err := l.srv.Serve(l.ln)
	if errors.Is(err, net.ErrClosed) || errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for open sessions to end, until ctx is
// done; then it closes them.
func (l *Listener) Shutdown(ctx context.Context) error {
	// Stop accepting and let Serve return before go-smtp's Shutdown waits
	// on its sessions: its WaitGroup must not be added to while waited on.
	l.ln.Close()
	if l.served.Load() {
		select {
		case <-l.done:
		case <-ctx.Done():
		}
	}
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.srv.Close()
	}
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil // we closed the listener ourselves above
	}
	return err
}

// Close stops the listener and drops open sessions at once.
func (l *Listener) Close() error {
	err := l.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// ConnLimit caps concurrent connections over all listeners sharing it.
type ConnLimit struct {
	max  int64
	open atomic.Int64
}

// NewConnLimit returns a limit of max connections; max <= 0 is unlimited.
func NewConnLimit(max int) *ConnLimit { return &ConnLimit{max: int64(max)} }

// limitListener answers 421 to connections beyond the limit, before go-smtp
// sees them.
type limitListener struct {
	net.Listener
	limit       *ConnLimit
	implicitTLS bool
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil || ll.limit == nil || ll.limit.max <= 0 {
			return c, err
		}
		if ll.limit.open.Add(1) > ll.limit.max {
			ll.limit.open.Add(-1)
			go refuse(c, ll.implicitTLS)
			continue
		}
		return &countedConn{Conn: c, limit: ll.limit}, nil
	}
}

func refuse(c net.Conn, implicitTLS bool) {
	defer c.Close()
	if implicitTLS {
		return // a plaintext reply would be garbage to a TLS client
	}
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
}

type countedConn struct {
	net.Conn
	limit  *ConnLimit
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.limit.open.Add(-1)
	}
	return c.Conn.Close()
}
