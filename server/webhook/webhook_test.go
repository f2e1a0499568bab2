package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsink/mailsink/storage"
)

// receiver is a real HTTP server on loopback that records what it is
// sent and answers with what answer returns for the nth request (from 1).
type receiver struct {
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []received
	got  chan int // the count, after each request has been recorded
}

type received struct {
	method, contentType, userAgent string
	body                           []byte
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer, got: make(chan int, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		rc.got <- n
		if rc.answer != nil {
			rc.answer(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// waitRequests waits until the receiver has had n requests.
func (rc *receiver) waitRequests(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-rc.got:
			if got >= n {
				return
			}
		case <-timeout:
			t.Fatalf("the receiver had %d requests, want %d", len(rc.requests()), n)
		}
	}
}

// eventually waits until cond holds, checking as the sender works.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func add(t *testing.T, st *storage.Store, subject string) *storage.Message {
	t.Helper()
	raw := "From: App <app@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: " + subject + "\r\n\r\nHello.\r\n"
	m, err := st.Add([]byte(raw), storage.Envelope{From: "app@example.test", To: []string{"bob@example.test", "hidden@example.test"}},
		storage.Delivery{Listener: "smtp-25", Port: 25, ClientAddr: "127.0.0.1:5000", Helo: "app.test", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func start(t *testing.T, st *storage.Store, opts Options) *Sender {
	t.Helper()
	s, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Shutdown(ctx)
	})
	return s
}

func TestPayloadIsTheMessageSummary(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	st := storage.New(storage.Limits{})
	s := start(t, st, Options{URL: rc.srv.URL + "/hook?x=1", UserAgent: "mailsink/test"})
	m := add(t, st, "Webhook shape")
	rc.waitRequests(t, 1)
	eventually(t, "the call counts as delivered", func() bool { return s.Stats().Delivered == 1 })

	got := rc.requests()[0]
	if got.method != http.MethodPost || got.contentType != "application/json" || got.userAgent != "mailsink/test" {
		t.Errorf("request %s, Content-Type %q, User-Agent %q", got.method, got.contentType, got.userAgent)
	}
	want, err := json.Marshal(m.Summary())
	if err != nil {
		t.Fatal(err)
	}
	if string(got.body) != string(want) {
		t.Errorf("body\n%s\nwant the message summary\n%s", got.body, want)
	}
	// Mailpit's MessageSummary fields, as its webhook sends them.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(got.body, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created", "Username", "Tags", "Size", "Attachments", "Snippet"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("payload lacks Mailpit's %s", f)
		}
	}
	if !strings.Contains(string(fields["Bcc"]), "hidden@example.test") || string(fields["Subject"]) != `"Webhook shape"` {
		t.Errorf("Bcc %s, Subject %s", fields["Bcc"], fields["Subject"])
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int // answer n, then the last one for the rest
		requests int
		want     Stats
	}{
		{"500 then 200: retried", []int{500, 200}, 2, Stats{Delivered: 1, Retries: 1}},
		{"429 then 204: retried", []int{429, 204}, 2, Stats{Delivered: 1, Retries: 1}},
		{"503 every time: given up after 3 attempts", []int{503}, 3, Stats{Failed: 1, Retries: 2}},
		{"400: not retried", []int{400}, 1, Stats{Failed: 1}},
		{"a redirect is not followed", []int{302}, 1, Stats{Failed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				code := tt.statuses[min(n, len(tt.statuses))-1]
				if code == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(code)
			})
			st := storage.New(storage.Limits{})
			s := start(t, st, Options{URL: rc.srv.URL, Backoff: time.Millisecond})
			add(t, st, tt.name)
			eventually(t, "the call is done", func() bool { st := s.Stats(); return st.Delivered+st.Failed == 1 })
			if got := s.Stats(); got != tt.want {
				t.Errorf("stats %+v, want %+v", got, tt.want)
			}
			if n := len(rc.requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
}

// A receiver that never answers costs each attempt its timeout, and what
// does not fit the queue meanwhile is dropped and counted, not waited for.
func TestHangingReceiver(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done(): // the sender gave up
		}
	})
	defer close(release) // before the receiver closes: it waits for handlers
	st := storage.New(storage.Limits{})
	s := start(t, st, Options{URL: rc.srv.URL, Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond, Queue: 2})

	add(t, st, "first")
	rc.waitRequests(t, 1) // the worker is busy with the first message
	for i := range 10 {
		add(t, st, "more "+string(rune('a'+i)))
	}
	// Adding never waited; the first is in flight, two are queued.
	eventually(t, "the first is given up and 8 are dropped", func() bool {
		st := s.Stats()
		return st.Failed >= 1 && st.Dropped == 8
	})
	got := s.Stats()
	if got.Timeouts < 2 || got.Retries < 1 {
		t.Errorf("stats %+v: want the first message's two attempts timed out", got)
	}
}

func TestRateLimitHoldsCalls(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	st := storage.New(storage.Limits{})
	s, err := New(st, Options{URL: rc.srv.URL, Limit: 1.0 / 3600}) // one an hour
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	add(t, st, "one")
	add(t, st, "two")
	rc.waitRequests(t, 1)
	eventually(t, "the worker takes the second and waits for the limiter", func() bool { return s.Stats().Queued == 0 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	if got := s.Stats(); got.Delivered != 1 || got.Dropped != 1 || len(rc.requests()) != 1 {
		t.Errorf("stats %+v, %d requests: want the second held back by the limit", got, len(rc.requests()))
	}
}

// When the store drops the sender's subscription for falling behind, the
// sender catches up from a listing: messages still stored are sent, in
// order; those already deleted are counted as dropped.
func TestCatchUpAfterFallingBehind(t *testing.T) {
	t.Parallel()
	st := storage.New(storage.Limits{})
	s, err := New(st, Options{URL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	sub := st.Subscribe(1) // room for one event: the second drops it
	_, seen := st.Count(nil)
	var ids []string
	for _, subj := range []string{"a", "b", "c", "d"} {
		ids = append(ids, add(t, st, subj).ID)
	}
	st.Delete(ids[2])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.move(ctx, sub, seen); close(done) }()
	eventually(t, "the four are accounted for", func() bool {
		got := s.Stats()
		return got.Queued+int(got.Dropped) == 4
	})
	if !sub.Dropped() {
		t.Fatal("the store did not drop the subscription: the test tests nothing")
	}
	add(t, st, "e") // through the new subscription
	eventually(t, "the fifth is queued", func() bool { return s.Stats().Queued == 4 })
	cancel()
	<-done
	var subjects []string
	for _, m := range s.queue {
		subjects = append(subjects, m.Header.Subject)
	}
	if strings.Join(subjects, ",") != "a,b,d,e" || s.Stats().Dropped != 1 {
		t.Errorf("queued %v, dropped %d; want a,b,d,e and the deleted c dropped", subjects, s.Stats().Dropped)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{URL: "ftp://example.test/"},
		{URL: "/relative"},
		{URL: "http://"},
		{URL: "http://example.test/", Limit: -1},
	} {
		if _, err := New(storage.New(storage.Limits{}), o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// Delay holds a call until that long after the message arrived (a lower
// bound only: how much later it comes is the scheduler's business).
func TestDelay(t *testing.T) {
	t.Parallel()
	at := make(chan time.Time, 1)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { at <- time.Now() })
	st := storage.New(storage.Limits{})
	s := start(t, st, Options{URL: rc.srv.URL, Delay: 200 * time.Millisecond})
	m := add(t, st, "later")
	rc.waitRequests(t, 1)
	eventually(t, "delivered", func() bool { return s.Stats().Delivered == 1 })
	if d := (<-at).Sub(m.Received()); d < 200*time.Millisecond {
		t.Errorf("the call came %v after the message, before the 200ms delay", d)
	}
}

// Shutdown sends what was captured before it began, given the time.
func TestShutdownSendsWhatIsQueued(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	st := storage.New(storage.Limits{})
	s, err := New(st, Options{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	for i := range 20 {
		add(t, st, "m"+string(rune('a'+i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats(); got.Delivered != 20 || got.Dropped != 0 || len(rc.requests()) != 20 {
		t.Errorf("stats %+v, %d requests: want all 20 sent before Shutdown returned", got, len(rc.requests()))
	}
	add(t, st, "after") // after Shutdown: not taken, nothing runs
	if got := s.Stats(); got.Queued != 0 {
		t.Errorf("queued after shutdown: %+v", got)
	}
}
