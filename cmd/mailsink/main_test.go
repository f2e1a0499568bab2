package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // holds a value after a write no one has waited for
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.written() <- struct{}{}:
	default:
	}
	return n, err
}

// Written delivers a value after each write (a burst of writes may wake
// the reader once), so a test can wait for output instead of polling.
func (s *syncBuffer) Written() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written()
}

func (s *syncBuffer) written() chan struct{} { // s.mu held
	if s.wrote == nil {
		s.wrote = make(chan struct{}, 1)
	}
	return s.wrote
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

func TestBusyChosenPortIsAnError(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	var stderr syncBuffer
	code := run(context.Background(), []string{"--http", "0", "--smtp", strconv.Itoa(port) + ":none:off"}, noEnv, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "address already in use") || !strings.Contains(stderr.String(), strconv.Itoa(port)) {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestRunPrintsBannerAndStopsCleanly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--http", "0", "--smtp", "0:starttls:optional,0:implicit:required"}, noEnv, &stdout, &stderr)
	}()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stdout.String(), "Web inbox and API: http://127.0.0.1:") {
		select {
		case code := <-done:
			t.Fatalf("exited %d early: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("no banner: %q", stdout.String())
		case <-stdout.Written():
		}
	}
	out := stdout.String()
	if !strings.Contains(out, "TLS starttls          AUTH optional") || !strings.Contains(out, "TLS implicit          AUTH required") ||
		!strings.Contains(out, "TLS certificate to trust: http://127.0.0.1:") {
		t.Errorf("banner lacks a line per listener:\n%s", out)
	}
	cancel() // what SIGTERM does in main
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after shutdown: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not shut down")
	}
}

func TestBadConfigurationExits2(t *testing.T) {
	var stderr syncBuffer
	env := func(k string) string {
		if k == "MAILSINK_SMTP" {
			return "25:tls"
		}
		return ""
	}
	if code := run(context.Background(), nil, env, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "MAILSINK_SMTP") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout syncBuffer
	if code := run(context.Background(), []string{"--version"}, noEnv, &stdout, io.Discard); code != 0 || !strings.HasPrefix(stdout.String(), "mailsink ") {
		t.Fatalf("exit %d, stdout %q", code, stdout.String())
	}
}
