package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/sinktest"
)

// hookReceiver is a real HTTP receiver on loopback.
type hookReceiver struct {
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request) // nil: 200

	mu     sync.Mutex
	bodies [][]byte
	got    chan struct{} // a value per request, once recorded
}

func newHookReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *hookReceiver {
	t.Helper()
	h := &hookReceiver{answer: answer, got: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, body)
		n := len(h.bodies)
		h.mu.Unlock()
		select {
		case h.got <- struct{}{}:
		default:
		}
		if h.answer != nil {
			h.answer(n, w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) next(t *testing.T) {
	t.Helper()
	select {
	case <-h.got:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook receiver got no request")
	}
}

func (h *hookReceiver) received() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...)
}

// hookStats reads the webhook block of GET /api/v1/info.
func hookStats(t *testing.T, s *sinktest.Sink) apitypes.WebhookStats {
	t.Helper()
	resp, err := http.Get(s.URL + "/api/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info apitypes.Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Webhook == nil {
		t.Fatal("GET /api/v1/info has no Webhook block")
	}
	return *info.Webhook
}

// eventuallyInfo polls GET /api/v1/info until cond holds for its webhook counters.
func eventuallyInfo(t *testing.T, s *sinktest.Sink, what string, cond func(apitypes.WebhookStats) bool) apitypes.WebhookStats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := hookStats(t, s)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s: %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebhookPostsTheListEntry: the webhook's body is the message as the
// API lists it (Mailpit's MessageSummary plus Envelope and Delivery).
func TestWebhookPostsTheListEntry(t *testing.T) {
	t.Parallel()
	authz := make(chan string, 1)
	h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { authz <- r.Header.Get("Authorization") })
	hookURL := "http://hook:hookpass@" + strings.TrimPrefix(h.srv.URL, "http://") + "/mail"
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.WebhookURL = hookURL }))
	banner := strings.Join(s.Server.Banner(), "\n")
	if !strings.Contains(banner, "Webhook: each captured message is POSTed to http://hook:xxxxx@") || strings.Contains(banner, "hookpass") {
		t.Errorf("banner:\n%s\nwant the webhook named, its password hidden", banner)
	}
	deliver(t, s, "app@example.test", []string{"user@example.test", "hidden@example.test"}, testMsg)
	h.next(t)

	resp, err := http.Get(s.URL + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Messages []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Messages) != 1 {
		t.Fatalf("list: %v, %d messages", err, len(list.Messages))
	}
	var posted map[string]any
	if err := json.Unmarshal(h.received()[0], &posted); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(posted, list.Messages[0]) {
		t.Errorf("webhook body\n%v\nwant the list entry\n%v", posted, list.Messages[0])
	}
	st := eventuallyInfo(t, s, "the call is counted", func(st apitypes.WebhookStats) bool { return st.Delivered == 1 })
	if st != (apitypes.WebhookStats{Delivered: 1}) {
		t.Errorf("info %+v", st)
	}
	if got := <-authz; got != "Basic aG9vazpob29rcGFzcw==" { // the URL's user:password, as the receiver asked
		t.Errorf("Authorization %q", got)
	}
	if got := metricValue(scrape(t, s.URL), "mailsink_webhook_deliveries_total", "result", "delivered"); got != 1 {
		t.Errorf("mailsink_webhook_deliveries_total{result=delivered} = %v", got)
	}
	// The info answer with its Webhook block matches the OpenAPI document.
	_, router := loadOpenAPI(t, s)
	(&apiChecker{t: t, base: s.URL, router: router, seen: map[string]bool{}}).do(apiCall{method: "GET", path: "/api/v1/info", status: 200})
}

// TestWebhookReceiverThatHangs: capture never waits for the webhook. While
// the receiver holds its first request, every message is still accepted
// at once; the queue fills and the rest are dropped and counted. With a
// short timeout the attempts end and are counted as timeouts.
func TestWebhookReceiverThatHangs(t *testing.T) {
	t.Parallel()
	// hanging answers nothing until release is closed or the caller gives up.
	hanging := func(t *testing.T) (*hookReceiver, chan struct{}) {
		release := make(chan struct{})
		return newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}), release
	}

	t.Run("queue full", func(t *testing.T) {
		t.Parallel()
		h, release := hanging(t)
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
			c.WebhookURL, c.WebhookTimeout, c.WebhookQueue = h.srv.URL, time.Hour, 2
		}))
		t.Cleanup(func() { close(release) }) // before the sink closes: then its calls end
		c := dial(t, s.Addr(25), nil, false)
		if err := send(c, "app@example.test", []string{"user@example.test"}, testMsg); err != nil {
			t.Fatal(err)
		}
		h.next(t) // the first call hangs from now on
		for i := range 20 {
			if err := send(c, "app@example.test", []string{"user@example.test"}, fmt.Sprintf("Subject: %d\r\n\r\nHi.\r\n", i)); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if n := s.Store.Stats().Accepted; n != 21 {
			t.Fatalf("%d messages accepted, want 21", n)
		}
		// One call in flight, two queued, 18 dropped; none answered.
		st := eventuallyInfo(t, s, "18 are dropped", func(st apitypes.WebhookStats) bool { return st.Dropped == 18 })
		if st != (apitypes.WebhookStats{Queued: 2, Dropped: 18}) {
			t.Errorf("info %+v", st)
		}
		fams := scrape(t, s.URL)
		if metricValue(fams, "mailsink_webhook_dropped_total") != 18 || metricValue(fams, "mailsink_webhook_queue_length") != 2 {
			t.Errorf("metrics: dropped %v, queued %v", metricValue(fams, "mailsink_webhook_dropped_total"), metricValue(fams, "mailsink_webhook_queue_length"))
		}
	})

	t.Run("timeouts", func(t *testing.T) {
		t.Parallel()
		h, release := hanging(t)
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
			c.WebhookURL, c.WebhookTimeout = h.srv.URL, 50*time.Millisecond
		}))
		t.Cleanup(func() { close(release) })
		deliver(t, s, "app@example.test", []string{"user@example.test"}, testMsg)
		eventuallyInfo(t, s, "an attempt times out", func(st apitypes.WebhookStats) bool { return st.Timeouts >= 1 })
		// Capture goes on meanwhile.
		deliver(t, s, "app@example.test", []string{"user@example.test"}, testMsg)
		if got := metricValue(scrape(t, s.URL), "mailsink_webhook_timeouts_total"); got < 1 {
			t.Errorf("mailsink_webhook_timeouts_total = %v", got)
		}
		if n := s.Store.Stats().Accepted; n != 2 {
			t.Errorf("%d accepted", n)
		}
	})
}

// TestWebhookRetries500Then200: a 5xx answer is retried, with the same body.
func TestWebhookRetries500Then200(t *testing.T) {
	t.Parallel()
	h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.WebhookURL = h.srv.URL }))
	deliver(t, s, "app@example.test", []string{"user@example.test"}, testMsg)
	st := eventuallyInfo(t, s, "the call is delivered", func(st apitypes.WebhookStats) bool { return st.Delivered == 1 })
	if st != (apitypes.WebhookStats{Delivered: 1, Retries: 1}) {
		t.Errorf("info %+v", st)
	}
	got := h.received()
	if len(got) != 2 || string(got[0]) != string(got[1]) {
		t.Errorf("%d requests; want the same body twice", len(got))
	}
	fams := scrape(t, s.URL)
	if metricValue(fams, "mailsink_webhook_retries_total") != 1 || metricValue(fams, "mailsink_webhook_deliveries_total", "result", "failed") != 0 {
		t.Errorf("metrics: retries %v, failed %v", metricValue(fams, "mailsink_webhook_retries_total"), metricValue(fams, "mailsink_webhook_deliveries_total", "result", "failed"))
	}
}
