package main

import (
	"bytes"
	"context"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mailsink/mailsink/server/sinktest"
)

func TestMessagesAreDeterministicAndSized(t *testing.T) {
	f := newFactory(5400, 0)
	a, b := f.build(7), f.build(7)
	if !bytes.Equal(a, b) {
		t.Fatal("message 7 built twice differs")
	}
	if n := len(a); n < 5400-2*(bodyLine+2) || n > 5400 {
		t.Errorf("message is %d bytes, want about 5400", n)
	}
	if bytes.Equal(a, f.build(8)) {
		t.Error("messages 7 and 8 are the same")
	}
	att := newFactory(1000, 1<<20).build(0)
	if n := len(att); n < 4*(1<<20)/3 {
		t.Errorf("message with a 1 MiB attachment is %d bytes", n)
	}
}

func TestLoadDiscard(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := discardServer(log.New(os.Stderr, "discard: ", 0))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	cfg := config{addr: ln.Addr().String(), c: 4, per: 10, size: 2000, auth: "u:p", timeout: 5 * time.Second}
	sum, err := load(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 40 || sum.Failures != 0 {
		t.Fatalf("accepted %d, failures %d: %v", sum.Accepted, sum.Failures, sum.Errors)
	}
	sum, err = load(context.Background(), config{addr: ln.Addr().String(), c: 2, n: 3, size: 2000, pid: os.Getpid(), timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sink == nil || sum.Sink.PeakRSSKB == 0 {
		t.Errorf("no process figures: %+v", sum.Sink)
	}
}

// TestCheckMailsink proves the check mode finds every message in a real
// mailsink, over each kind of listener.
func TestCheckMailsink(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	// Not parallel cases: -check reads back every message the sink holds.
	for _, tc := range []struct {
		name string
		cfg  config
	}{
		{"cleartext", config{addr: s.Addr(2525), c: 4, n: 40, size: 5400}},
		{"starttls+auth", config{addr: s.Addr(587), startTLS: true, auth: "app:x", c: 3, n: 10, size: 1000}},
		{"implicit+attachment", config{addr: s.Addr(465), implicitTLS: true, auth: "app:x", c: 2, n: 4, size: 1000, attach: 300 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.api, cfg.apiKind, cfg.check = s.URL, "auto", true
			cfg.timeout, cfg.visible, cfg.visibleTimeout = 5*time.Second, true, 5*time.Second
			sum, err := load(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sum.verdict(); err != nil {
				t.Fatalf("%v: %+v %v", err, sum.Check, sum.Errors)
			}
			if sum.Check.Exact != cfg.n {
				t.Errorf("%d byte-exact, want %d", sum.Check.Exact, cfg.n)
			}
			if sum.Visible == nil || sum.Visible.Method != "wait" || sum.Visible.Samples != cfg.n {
				t.Errorf("visibility: %+v", sum.Visible)
			}
		})
	}
}

// TestWebSocketEvents proves -ws times every message's "new" event on every
// socket, and the wait endpoint's wake-up alongside.
func TestWebSocketEvents(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	const sockets, n = 20, 8
	cfg := config{addr: s.Addr(25), c: 1, n: n, size: 1000, api: s.URL, apiKind: "auto", ws: sockets, wsTimeout: 5 * time.Second,
		timeout: 5 * time.Second, visible: true, visibleTimeout: 5 * time.Second}
	sum, err := load(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.verdict(); err != nil {
		t.Fatalf("%v: %v", err, sum.Errors)
	}
	if e := sum.Events; e == nil || e.Sockets != sockets || e.Samples != sockets*n || e.Missed != 0 {
		t.Errorf("events: %+v, want %d samples (%d sockets × %d messages)", e, sockets*n, sockets, n)
	}
	if v := sum.Visible; v == nil || v.Method != "wait" || v.Samples != n {
		t.Errorf("wait wake-up: %+v", v)
	}
	var out strings.Builder
	if err := sum.write(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"ws_event_ms":{"sockets":20,`) {
		t.Errorf("JSON summary lacks ws_event_ms: %s", out.String())
	}
}

// TestWebSocketEventsMissing proves a missing event is a failure after
// -ws-timeout, not a hang, also on a socket the sink closed.
func TestWebSocketEventsMissing(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpSrv := discardServer(log.New(os.Stderr, "discard: ", 0))
	go smtpSrv.Serve(ln)
	t.Cleanup(func() { smtpSrv.Close() })

	// A sink whose event stream never says "new"; it closes its first socket.
	var upgrader websocket.Upgrader
	var first sync.Once
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		closeNow := false
		first.Do(func() { closeNow = true })
		if closeNow {
			return
		}
		conn.WriteMessage(websocket.TextMessage, []byte(`{"Type":"stats","Data":{"Total":0}}`))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(events.Close)

	const sockets, n = 4, 3
	cfg := config{addr: ln.Addr().String(), c: 1, n: n, size: 1000, api: events.URL, apiKind: kindMailsink,
		ws: sockets, wsTimeout: 100 * time.Millisecond, timeout: 5 * time.Second}
	sum, err := load(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e := sum.Events; e == nil || e.Samples != 0 || e.Missed != sockets*n {
		t.Errorf("events: %+v, want all %d missed", e, sockets*n)
	}
	if err := sum.verdict(); err == nil {
		t.Error("verdict: no error for missing events")
	}
	t.Log(sum.Errors)
}

func TestTable(t *testing.T) {
	lines := []string{
		`{"label":"mailsink:tput:1","accepted":800,"msgs_per_s":10000,"sink":{"cpu_us_per_msg":50}}`,
		`{"label":"mailsink:fill:1","accepted":10000,"avg_msg_bytes":5400,"sink":{"cpu_us_per_msg":40,"rss_growth_per_msg_bytes":6000}}`,
		`{"label":"mailsink:latency:1","accepted":200,"visible_ms":{"samples":200,"p50":1,"p99":4},"ws_event_ms":{"sockets":100,"samples":20000,"p50":2,"p99":8}}`,
		`{"label":"inbucket:tput:1","accepted":800,"msgs_per_s":5000,"sink":{"cpu_us_per_msg":110}}`,
		`{"label":"inbucket:fill:1","accepted":10000,"avg_msg_bytes":5400,"sink":{"cpu_us_per_msg":100,"rss_growth_per_msg_bytes":12000}}`,
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := printTable(path, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| msgs/s, 16 connections × 50 msgs | 10000 | 5000 | 2.00 |", "met     CPU per message ≤ 0.5× Inbucket's: 0.40×", "met     msgs/s at 16 connections ≥ 1.3× Inbucket's: 2.00×",
		"| 250 → WebSocket event p99 / ms | 8.00 | — | — |",
		"met     250 → WebSocket event / → wait wake-up p99 ≤ 10 ms with 100 browsers: 8.00 / 4.00 ms with 100"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDotStuff(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{".a\r\n..b\r\n.\r\n", "..a\r\n...b\r\n..\r\n.\r\n"},
		{"no final newline", "no final newline\r\n.\r\n"},
		{"", "\r\n.\r\n"},
		{"x\n.y\r\n", "x\n.y\r\n.\r\n"}, // a bare LF does not start a line in SMTP
	}
	for _, tt := range tests {
		if got := string(dotStuff([]byte(tt.raw))); got != tt.want {
			t.Errorf("dotStuff(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
