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

// Deliverer takes accepted messages and keeps session transcripts. Add must
// copy raw: the session reuses its buffer for the next message.
// *storage.Store is one.
type Deliverer interface {
	Add(raw []byte, env storage.Envelope, d storage.Delivery) (*storage.Message, error)
	Sessions() *storage.SessionLog
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
	MaxCommands    int           // commands without delivering a message; 421 beyond (0: unlimited)
	MaxLineLength  int           // longest line, commands and message; 0: unlimited
	Faults         *faults.Set   // nil: no fault injection
	Logger         *slog.Logger
	Debug          io.Writer // raw protocol log; secrets included
}

// Listener is one bound SMTP port and its policy.
type Listener struct {
	cfg         ListenerConfig
	name        string // cfg.Name()
	opts        Options
	store       Deliverer
	ln          net.Listener
	transcripts *storage.SessionLog
	srv         *smtp.Server
	log         *slog.Logger

	served atomic.Bool
	done   chan struct{} // closed when Serve returns

	buffers sync.Pool // *[]byte for reading DATA
}

// getBuffer returns an empty DATA buffer.
func (l *Listener) getBuffer() *[]byte {
	if b, ok := l.buffers.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 2*minContentRead)
	return &b
}

// putBuffer returns a DATA buffer for reuse, unless a huge message made it
// too big to keep around.
func (l *Listener) putBuffer(b *[]byte) {
	if b != nil && cap(*b) <= 4<<20 {
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
	l := &Listener{cfg: cfg, opts: opts, store: store, log: opts.Logger.With("listener", cfg.Name()), done: make(chan struct{})}
	if cfg.Port == 0 { // ephemeral: name it after the port actually bound
		l.cfg.Port = ln.Addr().(*net.TCPAddr).Port
	}
	l.name = l.cfg.Name()
	l.transcripts = store.Sessions()
	// Implicit TLS is terminated below go-smtp, in the acceptor, so the
	// transcript sees the plaintext conversation.
	l.ln = &acceptor{Listener: ln, l: l}

	srv := smtp.NewServer(backend{l})
	srv.Domain = opts.Hostname
	srv.MaxMessageBytes = opts.MaxMessageSize
	srv.MaxRecipients = opts.MaxRecipients
	srv.MaxLineLength = opts.MaxLineLength
	srv.ReadTimeout = opts.Timeout
	srv.WriteTimeout = opts.Timeout
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = true
	// Our Auth decides whether cleartext AUTH is allowed, so that 587 can
	// answer 530 like real submission servers instead of go-smtp's 523.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = slog.NewLogLogger(l.log.Handler(), slog.LevelDebug)
	srv.Debug = opts.Debug
	// No srv.TLSConfig: the wire runs STARTTLS (and implicit TLS) below
	// go-smtp, so it keeps seeing the plaintext conversation.
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
	l.ln.Close() // go-smtp closes only listeners Serve has registered
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

func (l *Listener) handshakeTimeout() time.Duration {
	if l.opts.Timeout > 0 {
		return l.opts.Timeout
	}
	return 30 * time.Second
}
