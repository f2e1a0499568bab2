// Package sinktest runs a complete mailsink inside a Go test, in the spirit
// of net/http/httptest: SMTP listeners and the API on ephemeral loopback
// ports, shut down through t.Cleanup.
//
//	s := sinktest.Start(t)
//	smtp.SendMail(s.Addr(25), nil, "app@example.test", []string{"user@example.test"}, msg)
//	msgs, err := s.Client.Wait(ctx, "to:user@example.test", 1, 5*time.Second)
package sinktest

import (
	"context"
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
	roles  map[int]string // default port (25, 587, 465, 2525) -> bound address
}

// Option adjusts the configuration before the sink starts.
type Option func(*server.Config)

// WithConfig lets a test change any setting, e.g. listeners or limits.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// Start runs a sink with the default four listeners (25, 587, 465, 2525
// semantics) on ephemeral ports. It fails the test if the sink cannot start
// and stops it when the test ends.
func Start(tb testing.TB, opts ...Option) *Sink {
	tb.Helper()
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
	log := slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := server.New(cfg, nil, log)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		tb.Fatalf("sinktest: starting mailsink: %v", err)
	}
	s := &Sink{URL: srv.URL(), Store: srv.Store(), Server: srv, Certs: x509.NewCertPool(), roles: map[int]string{}}
	s.Certs.AppendCertsFromPEM(srv.CertificatePEM())
	s.Client = client.New(s.URL)
	sameListeners := slices.Equal(cfg.Listeners, defaults)
	for i, l := range srv.Listeners() {
		if sameListeners {
			s.roles[roles[i]] = l.Addr.String()
		}
		s.roles[l.Config.Port] = l.Addr.String()
	}
	tb.Cleanup(func() {
		defer cancel()
		shut, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		if err := srv.Shutdown(shut); err != nil {
			tb.Logf("sinktest: shutdown: %v (connections were still open)", err)
		}
	})
	return s
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
