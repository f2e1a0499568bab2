package webui_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mailsink/mailsink/storage"
	"github.com/mailsink/mailsink/webui"
)

type testUI struct {
	store   *storage.Store
	handler *webui.Handler
	srv     *httptest.Server
}

func newUI(t *testing.T, opts webui.Options) *testUI {
	t.Helper()
	return newUIWith(t, storage.New(storage.Limits{}), opts)
}

func newUIWith(t *testing.T, store *storage.Store, opts webui.Options) *testUI {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := webui.New(store, opts)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &testUI{store: store, handler: h, srv: srv}
}

// tWriter sends log lines to t.Log, so they show only for failing tests.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func readMail(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "mail", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func add(t testing.TB, s *storage.Store, raw []byte) *storage.Message {
	t.Helper()
	m, err := s.Add(raw, storage.Envelope{From: "a@example.test", To: []string{"b@example.test"}}, storage.Delivery{Port: 2525})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestInboxHeaders(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	res, body := get(t, ui.srv.URL+"/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d", res.StatusCode)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-src 'self'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("inbox CSP allows inline code: %q", csp)
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", got)
	}
	if !strings.Contains(body, `<script type="module" src="app.js"></script>`) {
		t.Errorf("index.html does not load app.js as a module")
	}
	if regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>|\son[a-z]+=`).MatchString(body) {
		t.Errorf("index.html has inline script")
	}
	for _, asset := range []string{"app.js", "state.js", "list.js", "router.js", "topbar.js", "attention.js", "inbox.js", "message.js", "tabs.js", "prefs.js", "sessions.js", "api.js", "dom.js", "stream.js", "checks.js", "app.css", "favicon.svg"} {
		res, _ := get(t, ui.srv.URL+"/"+asset)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET /%s = %d, CSP %q", asset, res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	}
	if res, _ := get(t, ui.srv.URL+"/nope.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope.js = %d, want 404", res.StatusCode)
	}
}

func TestViewHTML(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	m := add(t, ui.store, readMail(t, "04-related-inline-image.eml"))
	var partID string
	for _, a := range m.Parse().Inline {
		if strings.Contains(a.ContentID, "logo.1710403200") {
			partID = a.PartID
		}
	}
	if partID == "" {
		t.Fatal("fixture has no inline logo part")
	}

	res, body := get(t, ui.srv.URL+"/view/"+m.ID+".html")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	host := strings.TrimPrefix(ui.srv.URL, "http://")
	wantCSP := "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline' data:; img-src data: http://" + host + "/api/v1/message/" + m.ID + "/part/; font-src data:"
	if got := res.Header.Get("Content-Security-Policy"); got != wantCSP {
		t.Errorf("CSP = %q, want %q", got, wantCSP)
	}
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if want := `src="/api/v1/message/` + m.ID + `/part/` + partID + `"`; !strings.Contains(body, want) {
		t.Errorf("cid reference not rewritten to %s:\n%s", want, body)
	}
	if strings.Contains(body, "cid:") {
		t.Errorf("body still has cid:\n%s", body)
	}
	if !regexp.MustCompile(`(?i)<head><base target="_blank">|<html><base target="_blank">`).MatchString(body) {
		t.Errorf("no <base target=_blank> after <html>/<head>:\n%s", body)
	}

	res, _ = get(t, ui.srv.URL+"/view/"+m.ID+".html?remote=1")
	if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "/part/ http: https:;") {
		t.Errorf("remote=1 CSP = %q", got)
	}
}

func TestViewHostile(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	m := add(t, ui.store, readMail(t, "19-hostile-html.eml"))
	res, body := get(t, ui.srv.URL+"/view/"+m.ID+".html")
	if !strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "sandbox allow-popups allow-popups-to-escape-sandbox;") {
		t.Errorf("CSP = %q", res.Header.Get("Content-Security-Policy"))
	}
	if strings.Contains(strings.ToLower(body), "refresh") {
		t.Errorf("meta refresh kept:\n%s", body)
	}
	if !strings.Contains(body, "Your invoice is ready.") {
		t.Errorf("body lost content:\n%s", body)
	}

	res, body = get(t, ui.srv.URL+"/view/"+m.ID+".txt")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, "View it in an HTML-capable client") {
		t.Errorf(".txt: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

func TestViewNotFound(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	plain := add(t, ui.store, readMail(t, "01-plain-ascii.eml"))
	for _, path := range []string{"/view/nosuchid.html", "/view/nosuchid.txt", "/view/" + plain.ID + ".html", "/view/" + plain.ID + ".exe"} {
		res, body := get(t, ui.srv.URL+path)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Errorf("%s: body %q is not {\"Error\":...}", path, body)
		}
	}
}

func wsURL(ui *testUI) string { return "ws" + strings.TrimPrefix(ui.srv.URL, "http") + "/api/events" }

func dial(t *testing.T, ui *testUI, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	c, res, err := websocket.DefaultDialer.Dial(wsURL(ui), hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, res, err
}

func TestEventsOrigin(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{AllowedOrigins: []string{"https://allowed.example.test", "other.example.test:8025"}})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{ui.srv.URL, true}, // same origin
		{"", true},         // not a browser
		{"https://allowed.example.test", true},
		{"http://other.example.test:8025", true},
		{"http://evil.example.test", false},
		{"https://allowed.example.test.evil.test", false},
		{"null", false},
	} {
		_, res, err := dial(t, ui, tc.origin)
		if tc.ok && err != nil {
			t.Errorf("origin %q refused: %v", tc.origin, err)
		}
		if !tc.ok {
			if err == nil {
				t.Errorf("origin %q accepted", tc.origin)
			} else if res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("origin %q: %v, want 403", tc.origin, err)
			} else if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("origin %q: refused with Content-Type %q, want JSON", tc.origin, ct)
			}
		}
	}

	any := newUI(t, webui.Options{AllowedOrigins: []string{"*"}})
	if _, _, err := dial(t, any, "http://anything.example.test"); err != nil {
		t.Errorf(`"*" refused a foreign origin: %v`, err)
	}
}

type wireFrame struct {
	Type string
	Data json.RawMessage
}

// next returns the next frame of type typ, skipping others (stats).
func next(t *testing.T, c *websocket.Conn, typ string) json.RawMessage {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f wireFrame
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %q frame: %v", typ, err)
		}
		if f.Type == typ {
			return f.Data
		}
	}
}

// same reports whether two JSON texts are the same value.
func same(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// expect reads up to the next frame of type typ and checks its Data is
// the JSON want: Mailpit's shapes, key for key.
func expect(t *testing.T, c *websocket.Conn, typ, want string) {
	t.Helper()
	if got := next(t, c, typ); !same(got, []byte(want)) {
		t.Fatalf("%s frame Data = %s, want %s", typ, got, want)
	}
}

func TestEventsFrames(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{StatsInterval: 10 * time.Millisecond, Version: "9.9.9"})
	c, _, err := dial(t, ui, ui.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, "stats", `{"Total":0,"Unread":0,"Version":"9.9.9"}`)

	m := add(t, ui.store, readMail(t, "03-mixed-attachments.eml"))
	var sum storage.Summary
	if err := json.Unmarshal(next(t, c, "new"), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ID != m.ID || sum.Subject != m.Header.Subject || sum.Attachments == 0 || sum.Delivery.Port != 2525 || sum.Read || sum.Tags == nil {
		t.Errorf("new frame = %+v", sum)
	}
	expect(t, c, "stats", `{"Total":1,"Unread":1,"Version":"9.9.9"}`)

	// Mailpit's update frames: one per message, read state or tags.
	q := func(s string) string { return strconv.Quote(s) }
	ui.store.SetRead(nil, true)
	expect(t, c, "update", `{"ID":`+q(m.ID)+`,"Read":true}`)
	if _, err := ui.store.SetTags([]string{m.ID}, []string{"beta", "Alpha"}); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "update", `{"ID":`+q(m.ID)+`,"Tags":["Alpha","beta"]}`)
	if _, err := ui.store.RenameTag("alpha", "zeta"); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "update", `{"ID":`+q(m.ID)+`,"Tags":["beta","zeta"]}`)
	if _, err := ui.store.SetTags([]string{m.ID}, nil); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "update", `{"ID":`+q(m.ID)+`,"Tags":[]}`)

	ui.store.Delete(m.ID)
	expect(t, c, "delete", `{"ID":`+q(m.ID)+`}`)
	a, b := add(t, ui.store, readMail(t, "01-plain-ascii.eml")), add(t, ui.store, readMail(t, "01-plain-ascii.eml"))
	ui.store.Delete(a.ID, b.ID)
	expect(t, c, "delete", `{"ID":`+q(a.ID)+`}`)
	expect(t, c, "delete", `{"ID":`+q(b.ID)+`}`)

	// Past 200 messages, one prune: reload (with what went, for a delete).
	var ids []string
	for range 201 {
		ids = append(ids, add(t, ui.store, readMail(t, "01-plain-ascii.eml")).ID)
	}
	ui.store.SetRead(nil, true)
	expect(t, c, "prune", `null`)
	ui.store.DeleteMatching(func(*storage.Message) bool { return true })
	idsJSON, _ := json.Marshal(ids)
	expect(t, c, "prune", `{"IDs":`+string(idsJSON)+`,"Reason":"deleted"}`)

	add(t, ui.store, readMail(t, "01-plain-ascii.eml"))
	ui.store.DeleteMatching(nil)
	expect(t, c, "truncate", `null`)
}

// Eviction is Mailpit's "prune", with the IDs the inbox needs.
func TestEventsEvict(t *testing.T) {
	t.Parallel()
	ui := newUIWith(t, storage.New(storage.Limits{MaxMessages: 1}), webui.Options{})
	c, _, err := dial(t, ui, "")
	if err != nil {
		t.Fatal(err)
	}
	first := add(t, ui.store, readMail(t, "01-plain-ascii.eml"))
	add(t, ui.store, readMail(t, "01-plain-ascii.eml"))
	expect(t, c, "prune", `{"IDs":[`+strconv.Quote(first.ID)+`],"Reason":"evicted"}`)
}

// A tab that stops reading must not slow capture: the store drops its
// subscription and the socket is closed so the tab reconnects.
func TestEventsStuckClientDoesNotBlockAdd(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{WriteTimeout: 30 * time.Second})
	c, _, err := dial(t, ui, "")
	if err != nil {
		t.Fatal(err)
	}
	raw := readMail(t, "02-alternative-text-html.eml")
	const n = 10000
	done := make(chan error, 1)
	go func() {
		for range n {
			if _, err := ui.store.Add(raw, storage.Envelope{}, storage.Delivery{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("store.Add blocked behind a client that does not read")
	}

	// Now read: the frames written before the drop, then a close frame.
	news := 0
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var f wireFrame
		err := c.ReadJSON(&f)
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
				t.Fatalf("after %d new frames: %v, want close %d", news, err, websocket.CloseTryAgainLater)
			}
			break
		}
		if f.Type == "new" {
			news++
		}
	}
	if news >= n {
		t.Errorf("got all %d frames; expected the stuck client to be dropped", news)
	}
	t.Logf("stuck client got %d of %d new frames before the drop", news, n)
}

func TestCloseEndsSockets(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	c, _, err := dial(t, ui, "")
	if err != nil {
		t.Fatal(err)
	}
	next(t, c, "stats")
	closed := make(chan struct{})
	go func() { ui.handler.Close(); close(closed) }()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("read after Close: %v, want close 1001", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, res, err := dial(t, ui, ""); err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v", err)
	}
}

func TestEventsPing(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{PingPeriod: 20 * time.Millisecond})
	c, _, err := dial(t, ui, "")
	if err != nil {
		t.Fatal(err)
	}
	pinged := make(chan struct{}, 1)
	c.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("no ping")
	}
}

// Session frames carry a transcript's facts and counts, not its lines.
func TestEventsSessionFrames(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	c, _, err := dial(t, ui, "")
	if err != nil {
		t.Fatal(err)
	}
	next(t, c, "stats") // the socket is up and subscribed

	lt := ui.store.Sessions().Start(storage.Transcript{Listener: "smtp-587", Port: 587, ClientAddr: "127.0.0.1:40000"})
	type sessionFrame struct {
		ID, Listener, ClientAddr, Helo, AuthUser, LastError string
		Port, LineCount, ErrorCount                         int
		Active, TLS                                         bool
		Started, Ended                                      time.Time
		MessageIDs, Faults                                  []string
	}
	read := func() (sessionFrame, map[string]json.RawMessage) {
		t.Helper()
		data := next(t, c, "session")
		var f sessionFrame
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := raw["Lines"]; ok {
			t.Errorf("session frame carries the lines: %s", data)
		}
		return f, raw
	}
	start, raw := read()
	if start.ID != lt.ID() || !start.Active || start.Port != 587 || start.ClientAddr != "127.0.0.1:40000" || start.Started.IsZero() || !start.Ended.IsZero() {
		t.Errorf("start frame = %+v", start)
	}
	if string(raw["MessageIDs"]) != "[]" || string(raw["Faults"]) != "[]" {
		t.Errorf("empty lists are %s and %s, want []", raw["MessageIDs"], raw["Faults"])
	}

	for _, l := range [][2]string{
		{"S", "220 localhost ESMTP mailsink"},
		{"C", "EHLO x"},
		{"S", "250-localhost"},
		{"S", "250 PIPELINING"},
		{"C", "MAIL FROM:<a@b.test>"},
		{"S", "530 5.7.0 Must issue a STARTTLS command first"},
		{"C", "RCPT TO:<c@d.test>"},
		{"S", "550-5.1.1 first line"},
		{"S", "550 5.1.1 User unknown"},
		{"C", "QUIT"},
		{"S", "221 2.0.0 Bye"},
	} {
		lt.Add(l[0], l[1])
	}
	lt.Update(func(tr *storage.Transcript) { tr.Helo, tr.AuthUser = "x", "app" })
	lt.End()
	end, _ := read()
	want := sessionFrame{
		ID: lt.ID(), Listener: "smtp-587", ClientAddr: "127.0.0.1:40000", Helo: "x", AuthUser: "app",
		LastError: "550 5.1.1 User unknown", Port: 587, LineCount: 11, ErrorCount: 2,
		Started: start.Started, Ended: end.Ended, MessageIDs: []string{}, Faults: []string{},
	}
	if end.Ended.IsZero() || !equalJSON(t, end, want) {
		t.Errorf("end frame = %+v\nwant        %+v", end, want)
	}

	// Sessions must not look like message changes: no stats frame follows.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var f wireFrame
	if err := c.ReadJSON(&f); err == nil {
		t.Errorf("unexpected %q frame after a session: %s", f.Type, f.Data)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
