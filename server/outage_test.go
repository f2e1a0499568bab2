package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sinktest"
)

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func listenerState(t *testing.T, s *sinktest.Sink, port int) client.Listener {
	t.Helper()
	ls, err := s.Client.Listeners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Port == port {
			return l
		}
	}
	t.Fatalf("no listener %d in %+v", port, ls)
	return client.Listener{}
}

// The three ways a mail server is down, and back: the port refuses
// connections, answers 421 at connect, or accepts and says nothing. A
// session open before the outage goes on, and mail already accepted stays.
func TestListenerOutage(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	addr := s.Addr(1025)
	port := portOf(t, addr)
	before := dial(t, addr, nil, false) // open across the outages
	if err := send(before, "app@example.test", []string{"user@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}

	t.Run("refuse", func(t *testing.T) {
		if err := s.Client.PauseListener(ctx, port, "refuse"); err != nil {
			t.Fatal(err)
		}
		if l := listenerState(t, s, port); !l.Paused || l.PauseMode != "refuse" || l.PausedSince.IsZero() {
			t.Errorf("listener %+v: want paused, refuse", l)
		}
		_, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dialing a refusing listener: %v, want connection refused", err)
		}
		if err := send(before, "app@example.test", []string{"user@example.test"}, testMsg); err != nil {
			t.Errorf("a session open before the outage: %v", err)
		}
		if err := s.Client.ResumeListener(ctx, port); err != nil {
			t.Fatal(err)
		}
		c := dial(t, addr, nil, false)
		if err := send(c, "app@example.test", []string{"user@example.test"}, testMsg); err != nil {
			t.Errorf("after resume: %v", err)
		}
	})

	t.Run("421", func(t *testing.T) {
		if err := s.Client.PauseListener(ctx, port, "421"); err != nil {
			t.Fatal(err)
		}
		rc := rawDial(t, addr)
		wantPrefix(t, rc.reply(), "421 4.3.2 Service not available")
		if err := s.Client.ResumeListener(ctx, port); err != nil {
			t.Fatal(err)
		}
		rc = rawDial(t, addr)
		wantPrefix(t, rc.reply(), "220 ")
	})

	t.Run("hang", func(t *testing.T) {
		if err := s.Client.PauseListener(ctx, port, "hang"); err != nil {
			t.Fatal(err)
		}
		rc := rawDial(t, addr)
		// Held: no greeting within a client's patience (bounded read; a
		// greeting sent would arrive in microseconds on loopback).
		rc.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if b, err := rc.r.ReadByte(); err == nil {
			t.Fatalf("a held connection got %q", b)
		}
		if err := s.Client.ResumeListener(ctx, port); err != nil {
			t.Fatal(err)
		}
		wantPrefix(t, rc.reply(), "220 ") // greeted once resumed
		rc.send("QUIT")
		wantPrefix(t, rc.reply(), "221")
		local := rc.c.LocalAddr().String()
		var id string
		for _, tr := range s.Store.Sessions().List(nil) {
			if tr.ClientAddr == local {
				id = tr.ID
			}
		}
		rc.c.Close()
		tr := endedSession(t, s, id)
		text := dump(tr)
		if !strings.Contains(text, "held without a greeting") || !strings.Contains(text, "listener resumed") {
			t.Errorf("transcript of the held connection:\n%s", text)
		}
	})

	if n, _ := s.Store.Count(nil); n != 3 {
		t.Errorf("%d messages, want the 3 accepted around the outages", n)
	}
	info, err := s.Client.Info(ctx)
	if err != nil || len(info.Listeners) != 5 {
		t.Fatalf("info: %+v, %v: want the five listeners", info, err)
	}
	for _, l := range info.Listeners {
		if l.Paused {
			t.Errorf("info after resuming: %+v", l)
		}
	}
}

func TestListenerControlErrors(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	port := strconv.Itoa(portOf(t, s.Addr(25)))
	for _, tc := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/v1/listeners/1/pause", "", 404, "SMTP listener on port 1"},
		{"/api/v1/listeners/smtp/pause", "", 400, `parameter port=\"smtp\"`},
		{"/api/v1/listeners/" + port + "/pause", `{"Mode":"sleep"}`, 400, `Mode \"sleep\"`},
		{"/api/v1/listeners/" + port + "/pause", `{"Mood":"421"}`, 400, `Mood`},
		{"/api/v1/listeners/" + port + "/resume", "", 200, `"Paused":false`},
	} {
		resp, err := http.Post(s.URL+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, body := resp.StatusCode, string(b)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s %s: %d %s, want %d with %q", tc.path, tc.body, status, body, tc.status, tc.want)
		}
	}
}
