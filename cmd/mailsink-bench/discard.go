package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime/pprof"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// serveDiscard runs a bare go-smtp server that reads every message and
// throws it away: what any go-smtp based sink costs at the very least.
// It stops when ctx ends (SIGINT, SIGTERM).
func serveDiscard(ctx context.Context, addr, cpuprofile string, stdout io.Writer) (err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		stopProfile, err := startCPUProfile(cpuprofile)
		if err != nil {
			ln.Close()
			return err
		}
		defer func() { err = errors.Join(err, stopProfile()) }()
	}
	srv := discardServer(log.New(os.Stderr, "discard: ", log.LstdFlags))
	fmt.Fprintf(stdout, "discarding SMTP on %s\n", ln.Addr())

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		srv.Close()
		<-done
		return nil
	case err := <-done:
		return err
	}
}

// discardServer is go-smtp with the limits a sink would set and nothing else.
func discardServer(errLog *log.Logger) *smtp.Server {
	srv := smtp.NewServer(discardBackend{})
	srv.Domain = "discard.localhost"
	srv.AllowInsecureAuth = true // loopback baseline: AUTH PLAIN without TLS, any credentials
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 1000
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.ErrorLog = errLog
	return srv
}

type discardBackend struct{}

func (discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }

// discardSession accepts everything and keeps nothing.
type discardSession struct{}

var _ smtp.AuthSession = discardSession{}

func (discardSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (discardSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, _, _ string) error { return nil }), nil
}

func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (discardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (discardSession) Reset()        {}
func (discardSession) Logout() error { return nil }

// startCPUProfile profiles this process into file until stop is called.
func startCPUProfile(file string) (stop func() error, err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
