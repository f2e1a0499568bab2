// Package sinktest runs a complete mailsink inside a Go test, in the spirit
// of net/http/httptest: SMTP listeners and the API on ephemeral loopback
// ports, shut down through t.Cleanup.
//
//	s := sinktest.Start(t)
//	app := myapp.New(s.Addr(587), s.TLSConfig()) // 587: STARTTLS and AUTH required
//	app.SendWelcome("user+t1@example.test")
//	msgs, err := s.Client.Wait(ctx, "to:user+t1@example.test", 1, 5*time.Second)
//
// The TLS listeners present a self-signed certificate: clients must trust
// s.TLSConfig(). net/smtp.SendMail cannot be told to, and it uses STARTTLS
// whenever offered: give it s.Addr(1025), which offers none (or see the
// package example for net/smtp by hand).
package sinktest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/storage"
)

// Sink is a running in-process mailsink.
type Sink struct {
	URL    string         // API and inbox base URL, e.g. http://127.0.0.1:41234
	Client *client.Client // client of the API at URL
	Store  *storage.Store // the sink's store, for direct inspection
	Server *server.Server // the whole server
	Certs  *x509.CertPool // trusts the sink's TLS certificate
	roles  map[int]string // default port (1025, 25, 587, 465, 2525) -> bound address
	cancel context.CancelFunc
}

// Option adjusts the configuration before the sink starts.
type Option func(*server.Config)

// WithConfig lets a test change any setting, e.g. listeners or limits.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// Start runs a sink with the default five listeners (1025, 25, 587, 465, 2525
// semantics) on ephemeral loopback ports. It fails the test if the sink
// cannot start, logs through tb, and stops the sink when the test ends.
func Start(tb testing.TB, opts ...Option) *Sink {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := start(log, opts)
	if err != nil {
		tb.Fatalf("sinktest: starting mailsink: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Logf("sinktest: %v", err)
		}
	})
	return s
}

// New runs a sink like Start, for use outside a test function (examples,
// TestMain); the caller must Close it.
func New(opts ...Option) (*Sink, error) {
	return start(slog.New(slog.DiscardHandler), opts)
}

func start(log *slog.Logger, opts []Option) (*Sink, error) {
	cfg := server.DefaultConfig()
	cfg.Bind = "127.0.0.1"
	cfg.HTTPPort = 0
	cfg.Listeners = server.DefaultListeners()
	roles := make([]int, len(cfg.Listeners))
	for i := range cfg.Listeners {
		roles[i] = cfg.Listeners[i].Port
		cfg.Listeners[i].Port = 0
	}
	cfg.ListenersChosen = true
	defaults := slices.Clone(cfg.Listeners)
	for _, o := range opts {
		o(&cfg)
	}
	srv := server.New(cfg, nil, log)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	s := &Sink{URL: srv.URL(), Store: srv.Store(), Server: srv, Certs: x509.NewCertPool(), roles: map[int]string{}, cancel: cancel}
	s.Certs.AppendCertsFromPEM(srv.CertificatePEM())
	s.Client = client.New(s.URL)
	sameListeners := slices.Equal(cfg.Listeners, defaults)
	for i, l := range srv.Listeners() {
		if sameListeners {
			s.roles[roles[i]] = l.Addr.String()
		}
		s.roles[l.Config.Port] = l.Addr.String()
	}
	return s, nil
}

// Close stops the sink, giving open SMTP sessions five seconds to finish;
// the error names what was still open.
func (s *Sink) Close() error {
	defer s.cancel()
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := s.Server.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w (connections were still open)", err)
	}
	return nil
}

// Addr returns the address of the listener that plays the given default
// port: Addr(587) is the STARTTLS-required, AUTH-required listener. With
// custom listeners, pass the port as configured (or as bound, for port 0).
func (s *Sink) Addr(port int) string {
	a, ok := s.roles[port]
	if !ok {
		panic(fmt.Sprintf("sinktest: no listener for port %d", port))
	}
	return a
}

// Host is the loopback host the sink listens on.
func (s *Sink) Host() string {
	h, _, _ := net.SplitHostPort(s.Server.HTTPAddr().String())
	return h
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// TLSConfig trusts the sink's certificate, for clients that STARTTLS (as
// net/smtp.SendMail does whenever it is offered).
func (s *Sink) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.Certs, ServerName: "localhost"}
}

// WaitLink waits up to timeout for a message matching query and returns
// its first link whose URL matches pattern ("" for the first link),
// failing the test otherwise:
//
//	link := s.WaitLink(t, "to:user@example.test", `/reset\?token=`, 5*time.Second)
func (s *Sink) WaitLink(tb testing.TB, query, pattern string, timeout time.Duration) string {
	tb.Helper()
	link, err := s.Client.WaitLink(context.Background(), query, pattern, timeout)
	if err != nil {
		tb.Fatalf("sinktest: waiting for a link in mail matching %q: %v", query, err)
	}
	return link
}

// WaitCode waits up to timeout for a message matching query and returns
// the first code pattern finds in it ("" for a 4 to 8 digit code; with a
// capture group, the group), failing the test otherwise.
func (s *Sink) WaitCode(tb testing.TB, query, pattern string, timeout time.Duration) string {
	tb.Helper()
	code, err := s.Client.WaitCode(context.Background(), query, pattern, timeout)
	if err != nil {
		tb.Fatalf("sinktest: waiting for a code in mail matching %q: %v", query, err)
	}
	return code
}
