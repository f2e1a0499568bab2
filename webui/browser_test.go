package webui_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/mailsink/mailsink/storage"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile and returns a
// context for one tab. Without Chromium the test is skipped, except in CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser test: %s not found (apt-get install chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return bctx
}

// marker records requests: hostile mail points every trick it has at it.
type marker struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

func newMarker(t *testing.T) *marker {
	mk := &marker{}
	mk.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mk.mu.Lock()
		mk.hits = append(mk.hits, r.URL.Path)
		mk.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(mk.srv.Close)
	return mk
}

func (mk *marker) Hits() []string {
	mk.mu.Lock()
	defer mk.mu.Unlock()
	return append([]string(nil), mk.hits...)
}

// hostileMail tries, in every way we know, to run script or reach the
// marker from inside the message view.
func hostileMail(markerURL string) []byte {
	html := strings.NewReplacer("MARKER", markerURL).Replace(`<!DOCTYPE html>
<html><head>
<meta http-equiv="refresh" content="0;url=MARKER/refresh">
<link rel="stylesheet" href="MARKER/stylesheet">
<base href="MARKER/base/">
</head>
<body onload="document.body.setAttribute('data-pwned','onload'); location.href='MARKER/onload'">
<p id="hello">Hostile marker mail</p>
<script>document.body.setAttribute('data-pwned','script'); fetch('MARKER/fetch'); location.href='MARKER/script'; alert('script');</script>
<img src="x" onerror="document.body.setAttribute('data-pwned','onerror'); location.href='MARKER/onerror'">
<img src="MARKER/remote-image.png" alt="">
<a id="jslink" href="javascript:document.body.setAttribute('data-pwned','jslink');location.href='MARKER/jslink'">click me</a>
<iframe src="MARKER/iframe"></iframe>
<object data="MARKER/object"></object>
<form id="f" action="MARKER/form"><input name="q"></form>
</body></html>`)
	return []byte("From: Mallory <mallory@evil.example.test>\r\n" +
		"To: victim@example.test\r\n" +
		"Subject: Hostile marker mail\r\n" +
		"Date: Thu, 28 Mar 2024 04:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n" +
		strings.ReplaceAll(html, "\n", "\r\n"))
}

// addAs stores raw as if it arrived on port with the given session facts.
func addAs(t *testing.T, s *storage.Store, raw []byte, port int, tls bool, user string) *storage.Message {
	t.Helper()
	d := storage.Delivery{
		Listener:   fmt.Sprintf("smtp-%d", port),
		Port:       port,
		ClientAddr: "127.0.0.1:53211",
		Helo:       "app.example.test",
		SessionID:  "s-" + fmt.Sprint(port),
	}
	if tls {
		d.TLS, d.TLSVersion, d.TLSCipher = true, "TLS 1.3", "TLS_AES_128_GCM_SHA256"
	}
	if user != "" {
		d.AuthMechanism, d.AuthUser = "PLAIN", user
	}
	m, err := s.Add(raw, storage.Envelope{From: "bounce@app.example.test", To: []string{"target@example.test", "audit@example.test"}}, d)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rowSel(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`li.row[data-id=%q]`, id)) }

func frameSel(id string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`iframe.html-frame[src$=%q]`, id+".html"))
}

// watcher collects what must never happen while the inbox runs: dialogs,
// uncaught exceptions, and (for the record) the browser's own log, where
// CSP refusals appear.
type watcher struct {
	t          *testing.T
	ctx        context.Context // the page, to answer dialogs
	mu         sync.Mutex
	dialogs    []string
	exceptions []string
}

func (w *watcher) listener(where string) func(ev any) {
	return func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			w.mu.Lock()
			w.dialogs = append(w.dialogs, where+": "+ev.Message)
			w.mu.Unlock()
			go func() { // a dialog blocks the page; dismiss it
				_, _ = chromedp.Call(w.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *runtime.EventExceptionThrown:
			text := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				text += " " + ex.Description
			}
			w.mu.Lock()
			w.exceptions = append(w.exceptions, where+": "+text)
			w.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			for _, a := range ev.Args {
				w.t.Logf("%s console.%s: %s %s", where, ev.Type, a.Value, a.Description)
			}
		case *cdplog.EventEntryAdded:
			w.t.Logf("%s log %s: %s", where, ev.Entry.Level, ev.Entry.Text)
		}
	}
}

// watchTargets reports on found the first browser target (a tab, a
// frame in a process of its own) that match selects, as it is created or
// once its URL is known; stop ends the watch.
func watchTargets(ctx context.Context, match func(*target.Info) bool) (found <-chan target.ID, stop func(), err error) {
	lctx, stop := context.WithCancel(ctx)
	c := make(chan target.ID, 1)
	err = chromedp.ListenBrowser(lctx, func(ev any) {
		var info *target.Info
		switch ev := ev.(type) {
		case *target.EventTargetCreated:
			info = ev.TargetInfo
		case *target.EventTargetInfoChanged: // the URL is known once the target navigates
			info = ev.TargetInfo
		}
		if info != nil && match(info) {
			select {
			case c <- info.TargetID:
			default:
			}
		}
	})
	if err != nil {
		stop()
	}
	return c, stop, err
}

// inFrame runs actions inside the message iframe showing the message id.
// Chromium runs a sandboxed frame in a process of its own, as a separate
// target that chromedp does not attach by itself: attach to it. The target
// may appear after the iframe element does, so listen for the browser's
// target events before looking at the list of targets.
func inFrame(ctx context.Context, w *watcher, id string, actions ...chromedp.Action[chromedp.Void]) error {
	path := "/view/" + id + ".html"
	isFrame := func(info *target.Info) bool { return info.Type == "iframe" && strings.Contains(info.URL, path) }
	found, stop, err := watchTargets(ctx, isFrame)
	if err != nil {
		return err
	}
	defer stop()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		return err
	}
	var frame target.ID
	for _, info := range infos {
		if isFrame(info) {
			frame = info.TargetID
		}
	}
	if frame == "" {
		select {
		case frame = <-found:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			frames, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
			if err != nil {
				return err
			}
			for _, child := range frames.FrameTree.ChildFrames {
				if strings.Contains(child.Frame.URL, path) {
					return errors.New("the sandboxed frame runs in the page's process; expected an isolated target")
				}
			}
			return fmt.Errorf("no iframe target for %s", path)
		}
	}
	fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(frame),
		chromedp.WithDetachOnCancel(), chromedp.WithListener(w.listener("frame")))
	defer cancel()
	return chromedp.Do(fctx, actions...)
}

// store collects a value from an action that returns one, for use in Do.
func store[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		v, err := a(ctx, t)
		*dst = v
		return err
	})
}

// driver runs steps in the page, each with a timeout, and takes screenshots
// into shots ($MAILSINK_SCREENSHOTS) when set.
type driver struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

// do runs a step; on failure it saves failure.png and fails the test.
func (d *driver) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	step, cancel := context.WithTimeout(d.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(step, actions...); err != nil {
		if d.shots != "" {
			c, cancel := context.WithTimeout(d.ctx, 5*time.Second)
			if png, err := chromedp.Run(c, chromedp.CaptureScreenshot()); err == nil {
				_ = os.WriteFile(filepath.Join(d.shots, "failure.png"), png, 0o644)
			}
			cancel()
		}
		d.t.Fatalf("%s: %v", what, err)
	}
}

// within runs a step that must finish within dur.
func (d *driver) within(dur time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	c, cancel := context.WithTimeout(d.ctx, dur)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		d.t.Fatalf("%s (within %v): %v", what, dur, err)
	}
}

func (d *driver) shot(name string) {
	d.t.Helper()
	if d.shots == "" {
		return
	}
	png, err := chromedp.Run(d.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(d.shots, 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.shots, name+".png"), png, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// poll waits until the JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	var ok bool
	return store(&ok, chromedp.Poll[bool](expr))
}

// media emulates prefers-color-scheme: "light" or "dark".
func media(scheme string) chromedp.Action[chromedp.Void] {
	return emulated(emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
}

// emulated sets what CSS media queries see.
func emulated(p emulation.SetEmulatedMediaParams) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, p)
		return err
	})
}

// The browser tests are not parallel. On a 2-core machine two Chromiums at
// once saved 2-3 s of this package's ~16 s under -race, which go test ./...
// hides anyway behind the server package, and they slowed each other's
// steps that must finish within a second.
func TestBrowserInbox(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	mk := newMarker(t)
	shots := os.Getenv("MAILSINK_SCREENSHOTS")

	w := &watcher{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, w.listener("inbox")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	// Some ordinary mail first, so the inbox looks like an inbox.
	mail := func(name string) []byte { return readMail(t, name) }
	addAs(t, s.Store, mail("01-plain-ascii.eml"), 25, false, "")
	addAs(t, s.Store, mail("03-mixed-attachments.eml"), 587, true, "app")
	related := addAs(t, s.Store, mail("04-related-inline-image.eml"), 2525, false, "")
	addAs(t, s.Store, mail("08-rfc2047-headers.eml"), 465, true, "billing")
	addAs(t, s.Store, mail("12-calendar-invite.eml"), 587, true, "calendar")
	addAs(t, s.Store, mail("16-cc-replyto-bcc.eml"), 2525, false, "")
	nested := addAs(t, s.Store, mail("20-nested-rfc2231.eml"), 587, true, "reports")

	d := &driver{t: t, ctx: ctx, shots: shots}
	do, within, shot := d.do, d.within, d.shot
	// open clicks a message's row and waits until the view shows it.
	open := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Click(rowSel(id)), poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q`, id)))
	}
	tab := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.tab[data-tab=%q]`, name)))
	}

	do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live.up`)))
	within(5*time.Second, "list loads", poll(`document.querySelectorAll('li.row').length === 7`))

	// Live insertion: the hostile message appears without a reload.
	hostile := addAs(t, s.Store, mail("19-hostile-html.eml"), 2525, false, "")
	within(time.Second, "new message appears live", chromedp.WaitVisible(rowSel(hostile.ID)))
	var first, title string
	do("read list", store(&first, chromedp.Evaluate[string](`document.querySelector('li.row').dataset.id`)), store(&title, chromedp.Title()))
	if first != hostile.ID {
		t.Errorf("newest row is %s, want the new message %s", first, hostile.ID)
	}
	if title != "(8) mailsink" {
		t.Errorf("title = %q, want the unread count", title)
	}
	shot("inbox")

	// Open it: the HTML renders in the sandboxed frame, and no script runs.
	do("open the hostile message", open(hostile.ID), chromedp.WaitVisible(frameSel(hostile.ID)))
	var sandbox chromedp.AttributeResult
	do("iframe attributes", store(&sandbox, chromedp.AttributeValue(frameSel(hostile.ID), "sandbox")))
	if sandbox.Value != "allow-popups allow-popups-to-escape-sandbox" {
		t.Errorf("iframe sandbox = %+v", sandbox)
	}
	var body, pwned string
	if err := inFrame(ctx, w, hostile.ID,
		chromedp.WaitVisible(chromedp.CSS(`p`)),
		store(&body, chromedp.Text(chromedp.CSS(`body`))),
		store(&pwned, chromedp.Evaluate[string](`document.body.getAttribute('data-pwned') || ''`)),
	); err != nil {
		t.Fatalf("reading the message frame: %v", err)
	}
	if !strings.Contains(body, "Your invoice is ready.") {
		t.Errorf("frame body = %q", body)
	}
	if pwned != "" {
		t.Errorf("script ran in the message frame: %s", pwned)
	}
	within(5*time.Second, "opening marks read", poll(`document.title === '(7) mailsink'`))
	shot("message")

	// The marker message tries harder; the marker server must hear nothing.
	mkMsg := addAs(t, s.Store, hostileMail(mk.srv.URL), 2525, false, "")
	within(time.Second, "marker message appears", chromedp.WaitVisible(rowSel(mkMsg.ID)))
	do("open the marker message", open(mkMsg.ID), chromedp.WaitVisible(frameSel(mkMsg.ID)))
	if err := inFrame(ctx, w, mkMsg.ID,
		chromedp.WaitVisible(chromedp.CSS(`#hello`)),
		chromedp.Click(chromedp.CSS(`#jslink`)),
		store(&pwned, chromedp.Evaluate[string](`document.body.getAttribute('data-pwned') || ''`)),
	); err != nil {
		t.Fatalf("marker frame: %v", err)
	}
	if pwned != "" {
		t.Errorf("script ran in the marker frame: %s", pwned)
	}

	// Tabs: Delivery shows the session facts, Source the raw message.
	var delivery, source string
	do("delivery and source tabs",
		tab("delivery"),
		store(&delivery, chromedp.Text(chromedp.CSS(`dl.delivery`))),
		tab("source"),
		store(&source, chromedp.TextContent(chromedp.CSS(`pre.source`))),
	)
	for _, want := range []string{"smtp-2525", "port 2525", "bounce@app.example.test", "audit@example.test", "app.example.test", "127.0.0.1:53211", "DKIM\nunsigned"} {
		if !strings.Contains(delivery, want) {
			t.Errorf("delivery tab lacks %q: %q", want, delivery)
		}
	}
	if !strings.Contains(source, "Subject: Hostile marker mail") || !strings.Contains(source, "<script>") {
		t.Errorf("source tab = %q", source)
	}

	// Inline cid: images load in the frame through the part endpoint.
	do("open the related message",
		open(related.ID), tab("html"), chromedp.WaitVisible(frameSel(related.ID)),
	)
	var imgWidth int
	if err := inFrame(ctx, w, related.ID,
		poll(`document.images.length > 0 && document.images[0].complete`),
		store(&imgWidth, chromedp.Evaluate[int](`document.images[0].naturalWidth`)),
	); err != nil {
		t.Fatalf("related frame: %v", err)
	}
	if imgWidth != 2 {
		t.Errorf("inline cid image naturalWidth = %d, want 2 (loaded)", imgWidth)
	}

	// Keyboard: k moves to the newer marker message, Enter opens, Delete deletes.
	do("keyboard",
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
	)
	for range 10 { // up from the related message to the top row, the marker message
		do("k", chromedp.KeyEvent("k"))
	}
	do("enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(frameSel(mkMsg.ID)), chromedp.KeyEvent(kb.Delete))
	within(2*time.Second, "keyboard delete removes the row", chromedp.WaitNotPresent(rowSel(mkMsg.ID)))

	// Delete the hostile message with the button; it leaves the list.
	do("delete", open(hostile.ID), chromedp.Click(chromedp.ID(`delete-one`)))
	within(2*time.Second, "deleted message leaves the list", chromedp.WaitNotPresent(rowSel(hostile.ID)))
	for _, id := range []string{hostile.ID, mkMsg.ID} {
		if _, err := s.Store.Get(id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("message %s still stored: %v", id, err)
		}
	}

	// The port filter and the search box narrow the list.
	rows := func(n int) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.querySelectorAll('li.row').length === %d`, n))
	}
	within(5*time.Second, "port filter",
		chromedp.Evaluate[chromedp.Void](`{ const s = document.getElementById('port'); s.value = '465'; s.dispatchEvent(new Event('change')); }`),
		rows(1), chromedp.WaitVisible(chromedp.CSS(`li.row .port`)))
	var port string
	do("port of the row", store(&port, chromedp.Text(chromedp.CSS(`li.row .port`))))
	if port != ":465" {
		t.Errorf("port filter shows a row from port %q", port)
	}
	within(5*time.Second, "clear the port filter",
		chromedp.Evaluate[chromedp.Void](`{ const s = document.getElementById('port'); s.value = ''; s.dispatchEvent(new Event('change')); }`),
		rows(7))
	within(5*time.Second, "search", chromedp.SendKeys(chromedp.ID("search"), "Lunch\n"), rows(1))
	within(5*time.Second, "clear the search", chromedp.Evaluate[chromedp.Void](`document.getElementById('search').value = ''; document.getElementById('search-form').requestSubmit()`), rows(7))

	// The dark scheme and a phone-sized screen, for the screenshots.
	if shots != "" {
		do("attachments", open(nested.ID), tab("attachments"), chromedp.WaitVisible(chromedp.CSS(`ul.parts`)))
		shot("attachments")
		do("delivery", tab("delivery"), chromedp.WaitVisible(chromedp.CSS(`dl.delivery`)))
		shot("delivery")
		do("dark", media("dark"), open(related.ID), tab("html"), chromedp.WaitVisible(frameSel(related.ID)))
		shot("dark")
		do("narrow", chromedp.EmulateViewport(360, 740), media("light"), chromedp.Click(chromedp.CSS(`#back`)), chromedp.WaitVisible(chromedp.CSS(`#list`)))
		shot("narrow-list")
		do("narrow message", open(related.ID), chromedp.WaitVisible(frameSel(related.ID)))
		shot("narrow-message")
	}

	// Ten thousand messages at once: the stream falls behind and is
	// dropped, the inbox reconnects, reloads, and pages through them.
	do("wide again", chromedp.EmulateViewport(1280, 800), chromedp.Click(chromedp.CSS(`.brand`)), chromedp.WaitVisible(chromedp.CSS(`#live.up`)))
	raw := mail("01-plain-ascii.eml")
	var last *storage.Message
	for range 10000 {
		last = addAs(t, s.Store, raw, 25, false, "")
	}
	total := s.Store.Stats().Total
	within(20*time.Second, "the inbox catches up with 10,000 messages",
		poll(fmt.Sprintf(`document.getElementById('range').textContent === '1–100 of %s' && document.querySelector('li.row').dataset.id === %q && document.querySelectorAll('li.row').length === 100`,
			thousands(total), last.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#live.up`)))
	within(5*time.Second, "next page",
		chromedp.Click(chromedp.ID("next")),
		poll(fmt.Sprintf(`document.getElementById('range').textContent === '101–200 of %s'`, thousands(total))))
	shot("paged")

	if hits := mk.Hits(); len(hits) > 0 {
		t.Errorf("the message reached the marker server: %v", hits)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.dialogs {
		t.Errorf("a JavaScript dialog opened: %s", d)
	}
	for _, e := range w.exceptions {
		t.Errorf("uncaught exception: %s", e)
	}
}

// thousands formats n as the inbox does in an en-US locale: 10,007.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// smtpSession runs a conversation over real SMTP and returns the ID of its
// transcript. steps alternate a command and the reply code it must get.
func smtpSession(t *testing.T, s *sink, port int, steps ...any) string {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	for i := 0; i+1 < len(steps); i += 2 {
		cmd, code := steps[i].(string), steps[i+1].(int)
		if err := tc.PrintfLine("%s", cmd); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := tc.ReadResponse(code); err != nil {
			t.Fatalf("%s: %v (%s)", cmd, err, msg)
		}
	}
	local := conn.LocalAddr().String()
	list := s.Store.Sessions().List(func(tr *storage.Transcript) bool { return tr.ClientAddr == local })
	if len(list) != 1 {
		t.Fatalf("%d transcripts from %s, want 1", len(list), local)
	}
	return list[0].ID
}

// untrustedSession takes STARTTLS on port as a client that does not trust
// the sink's certificate (Go's defaults: the system's roots): the handshake
// fails and the session ends without an error reply. It returns the
// session's ID once the transcript has ended.
func untrustedSession(t *testing.T, s *sink, port int) string {
	t.Helper()
	sub := s.Store.Subscribe(64)
	defer sub.Close()
	conn, err := net.Dial("tcp", s.Addr(port))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	for _, step := range []struct {
		cmd  string
		code int
	}{{"EHLO app.example.test", 250}, {"STARTTLS", 220}} {
		if err := tc.PrintfLine("%s", step.cmd); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := tc.ReadResponse(step.code); err != nil {
			t.Fatalf("%s: %v (%s)", step.cmd, err, msg)
		}
	}
	local := conn.LocalAddr().String()
	if err := tls.Client(conn, &tls.Config{ServerName: "localhost"}).Handshake(); err == nil {
		t.Fatal("the handshake succeeded without trusting the sink's certificate")
	}
	conn.Close()
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatal("subscription dropped")
			}
			if e.Type == storage.EventSessionEnd && e.Transcript.ClientAddr == local {
				return e.Transcript.ID
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the session from %s did not end", local)
		}
	}
}

func TestBrowserSessions(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	shots := os.Getenv("MAILSINK_SCREENSHOTS")
	w := &watcher{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, w.listener("inbox")); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: ctx, shots: shots}
	_, p, err := net.SplitHostPort(s.Addr(587))
	if err != nil {
		t.Fatal(err)
	}
	port587, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	srow := func(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`li.srow[data-id=%q]`, id)) }

	// A session that delivered a message, before the page opens.
	delivered := smtpSession(t, s, 2525,
		"EHLO app.example.test", 250,
		"MAIL FROM:<app@example.test>", 250,
		"RCPT TO:<user@example.test>", 250,
		"DATA", 354,
		"From: app@example.test\r\nTo: user@example.test\r\nSubject: Welcome aboard\r\n\r\nHello.\r\n.", 250,
		"QUIT", 221)
	tr, err := s.Store.Sessions().Get(delivered)
	if err != nil || len(tr.MessageIDs) != 1 {
		t.Fatalf("delivering session = %+v, %v", tr, err)
	}
	msgID := tr.MessageIDs[0]

	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live.up`)))
	d.do("show the sessions", chromedp.Click(chromedp.ID("tab-sessions")), chromedp.WaitVisible(srow(delivered)))

	// A client that skips STARTTLS on 587 gets 530; the session shows up
	// live, marked as failed, with the reply.
	failedID := smtpSession(t, s, 587, "EHLO x", 250, "MAIL FROM:<a@b.test>", 530, "QUIT", 221)
	failedRow := chromedp.CSS(fmt.Sprintf(`li.srow.failed[data-id=%q]`, failedID))
	d.within(2*time.Second, "the failed session appears live", chromedp.WaitVisible(failedRow))
	var first, rowText string
	d.do("read the list",
		store(&first, chromedp.Evaluate[string](`document.querySelector('#sessions li.srow').dataset.id`)),
		store(&rowText, chromedp.Text(failedRow)))
	if first != failedID {
		t.Errorf("newest session row is %s, want %s", first, failedID)
	}
	for _, want := range []string{"530 5.7.0", fmt.Sprintf(":%d", port587), "no TLS", "no auth", "0 messages"} {
		if !strings.Contains(rowText, want) {
			t.Errorf("session row lacks %q: %q", want, rowText)
		}
	}

	// A client that does not trust the certificate gets no error reply at
	// all: its session is an error all the same, with the reason.
	tlsID := untrustedSession(t, s, 2525)
	tlsRow := chromedp.CSS(fmt.Sprintf(`li.srow.failed[data-id=%q]`, tlsID))
	var tlsText string
	d.within(2*time.Second, "the failed handshake appears as an error", chromedp.WaitVisible(tlsRow), store(&tlsText, chromedp.Text(tlsRow)))
	if !strings.Contains(tlsText, "TLS handshake failed") || !strings.Contains(tlsText, "trust") {
		t.Errorf("failed-handshake row = %q, want the reason", tlsText)
	}
	d.do("errors only keeps it",
		chromedp.Click(chromedp.ID("errors-only")),
		poll(fmt.Sprintf(`!!document.querySelector('li.srow[data-id=%q]') && !document.querySelector('li.srow[data-id=%q]')`, tlsID, delivered)),
		chromedp.Click(chromedp.ID("errors-only")),
		chromedp.WaitVisible(srow(delivered)))
	d.do("open the failed handshake", chromedp.Click(tlsRow),
		poll(fmt.Sprintf(`document.getElementById('session').dataset.id === %q`, tlsID)),
		chromedp.WaitVisible(chromedp.CSS(`#s-lines li.err`)))
	var tlsStatus string
	d.do("read its status", store(&tlsStatus, chromedp.Text(chromedp.ID(`s-status`))))
	if !strings.Contains(tlsStatus, "The session failed") || !strings.Contains(tlsStatus, "certificate") {
		t.Errorf("failed-handshake status = %q", tlsStatus)
	}

	// Open it: the transcript, with the 530 highlighted.
	d.do("open the failed session", chromedp.Click(failedRow),
		poll(fmt.Sprintf(`document.getElementById('session').dataset.id === %q`, failedID)),
		chromedp.WaitVisible(chromedp.CSS(`#s-lines li.err`)))
	var errLines, transcript, status string
	d.do("read the transcript",
		store(&errLines, chromedp.Text(chromedp.CSS(`#s-lines li.err`))),
		store(&transcript, chromedp.Text(chromedp.ID(`s-lines`))),
		store(&status, chromedp.Text(chromedp.ID(`s-status`))))
	if !strings.Contains(errLines, "530 5.7.0") {
		t.Errorf("highlighted line = %q, want the 530 5.7.0 reply", errLines)
	}
	for _, want := range []string{"C:", "EHLO x", "MAIL FROM:<a@b.test>", "S:", "221"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	if !strings.Contains(status, "530 5.7.0") {
		t.Errorf("status = %q", status)
	}
	d.shot("sessions")

	// The delivering session links to its message, and the message's
	// Delivery tab links back to the session.
	msgLink := chromedp.CSS(fmt.Sprintf(`#s-meta button[data-message=%q]`, msgID))
	d.do("open the delivering session", chromedp.Click(srow(delivered)),
		poll(fmt.Sprintf(`document.getElementById('session').dataset.id === %q`, delivered)),
		chromedp.WaitVisible(msgLink))
	d.do("follow the message link", chromedp.Click(msgLink),
		poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q`, msgID)),
		chromedp.WaitVisible(chromedp.ID(`tab-body`)))
	var subject string
	d.do("the message", store(&subject, chromedp.Text(chromedp.ID(`m-subject`))))
	if subject != "Welcome aboard" {
		t.Errorf("message link opened %q", subject)
	}
	d.do("back to the session from the delivery tab",
		chromedp.Click(chromedp.CSS(`button.tab[data-tab="delivery"]`)),
		chromedp.Click(chromedp.ID(`session-link`)),
		poll(fmt.Sprintf(`document.getElementById('session').dataset.id === %q && !document.getElementById('session').hidden`, delivered)))

	// Keep the port filter working in this view.
	d.within(5*time.Second, "port filter",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`{ const s = document.getElementById('port'); s.value = '%d'; s.dispatchEvent(new Event('change')); }`, port587)),
		poll(`document.querySelectorAll('#sessions li.srow').length === 1`),
		chromedp.WaitVisible(failedRow))

	if shots != "" {
		d.do("dark", media("dark"), chromedp.Click(failedRow), chromedp.WaitVisible(chromedp.CSS(`#s-lines li.err`)))
		d.shot("sessions-dark")
		d.do("narrow", chromedp.EmulateViewport(360, 740), media("light"),
			poll(fmt.Sprintf(`document.getElementById('session').dataset.id === %q`, failedID)))
		d.shot("sessions-narrow")
		d.do("narrow list", chromedp.Click(chromedp.ID(`s-back`)), chromedp.WaitVisible(chromedp.ID(`sessions`)))
		d.shot("sessions-narrow-list")
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.exceptions {
		t.Errorf("uncaught exception: %s", e)
	}
}
