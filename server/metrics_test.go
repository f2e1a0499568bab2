package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/sinktest"
)

// scrape reads /metrics over HTTP and parses it as Prometheus does.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of name with exactly the labels given, or -1
// when the scrape has no such series.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// TestMetricsAfterRealTraffic scrapes /metrics after real SMTP traffic
// (two messages accepted, a RCPT refused by a fault rule), a deletion
// through the API, an open inbox WebSocket and a wait in progress.
func TestMetricsAfterRealTraffic(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	if _, err := s.Client.AddFaults(ctx, faults.Rule{Stage: faults.Rcpt, Recipient: "*@bounce.test", Reply: "550 5.1.1 User unknown"}); err != nil {
		t.Fatal(err)
	}
	var listener string
	for _, l := range s.Server.Listeners() {
		if l.Addr.String() == s.Addr(25) {
			listener = l.Config.Name()
		}
	}
	c := dial(t, s.Addr(25), nil, false)
	for i := range 2 {
		if err := send(c, "app@example.test", []string{"user@example.test"}, fmt.Sprintf("Subject: %d\r\n\r\nHi.\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Mail("app@example.test", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("nobody@bounce.test", nil), 550, "5.1.1")
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	first, err := s.Store.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "http")+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	waited := make(chan error, 1)
	go func() { _, err := s.Client.Wait(waitCtx, "subject:never", 1, time.Minute); waited <- err }()
	waitSubscribers(t, s, 2) // the WebSocket's and the wait's

	fams := scrape(t, s.URL)
	// The session ends when go-smtp has closed it, after the client saw 221.
	for deadline := time.Now().Add(5 * time.Second); metricValue(fams, "mailsink_smtp_connections_open", "listener", listener) != 0; fams = scrape(t, s.URL) {
		if time.Now().After(deadline) {
			t.Fatal("the SMTP connection is still open after QUIT")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailsink_messages_accepted_total", nil, 2},
		{"mailsink_messages_stored", nil, 1},
		{"mailsink_messages_unread", nil, 1},
		{"mailsink_messages_deleted_total", nil, 1},
		{"mailsink_messages_evicted_total", nil, 0},
		{"mailsink_store_bytes", nil, float64(s.Store.Stats().Bytes)},
		{"mailsink_store_limit_messages", nil, 10000},
		{"mailsink_smtp_sessions_total", []string{"listener", listener}, 1},
		{"mailsink_smtp_connections_open", []string{"listener", listener}, 0},
		{"mailsink_smtp_replies_total", []string{"listener", listener, "code", "220"}, 1},
		{"mailsink_smtp_replies_total", []string{"listener", listener, "code", "354"}, 2},
		{"mailsink_smtp_replies_total", []string{"listener", listener, "code", "550"}, 1},
		{"mailsink_smtp_replies_total", []string{"listener", listener, "code", "221"}, 1},
		// EHLO, then MAIL, RCPT and the end of DATA twice, and the third MAIL.
		{"mailsink_smtp_replies_total", []string{"listener", listener, "code", "250"}, 8},
		{"mailsink_websocket_clients", nil, 1},
		{"mailsink_waits_in_progress", nil, 1},
	} {
		if got := metricValue(fams, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	if got := metricValue(fams, "mailsink_messages_accepted_bytes_total"); got <= 0 {
		t.Errorf("accepted bytes %v", got)
	}
	if fams["go_goroutines"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Error("no Go runtime or process metrics")
	}
	if fams["mailsink_webhook_dropped_total"] != nil {
		t.Error("webhook metrics without a webhook")
	}
	if f := fams["mailsink_smtp_replies_total"]; f == nil || f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("replies are not a counter: %v", f)
	}
	cancelWait()
	<-waited
}

// TestREADMEDocumentsEveryMetric keeps the README's metrics table and the
// names served the same.
func TestREADMEDocumentsEveryMetric(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(mailsink_[a-z_]+)`").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	// A sink with a webhook serves every metric there is.
	h := newHookReceiver(t, nil)
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.WebhookURL = h.srv.URL }))
	deliver(t, s, "app@example.test", []string{"user@example.test"}, testMsg)
	served := map[string]bool{}
	for name := range scrape(t, s.URL) {
		if strings.HasPrefix(name, "mailsink_") {
			served[name] = true
			if !documented[name] {
				t.Errorf("%s is served but not in the README's metrics table", name)
			}
		}
	}
	for name := range documented {
		if !served[name] {
			t.Errorf("the README documents %s, which is not served", name)
		}
	}
}
