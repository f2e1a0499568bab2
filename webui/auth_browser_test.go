package webui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// With MAILSINK_UI_AUTH, a real browser gets no inbox without credentials;
// with them (in the URL, as a user or a test runner gives them) the inbox
// loads its list through the API and opens its live WebSocket, so a new
// message shows without a reload: the browser sends the credentials with
// the page's fetches and with the WebSocket's handshake.
func TestBrowserWithUIAuth(t *testing.T) {
	ctx := browser(t)
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.UIAuth = map[string]string{"alice": "s3cret"} }))
	first := addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	d := &driver{t: t, ctx: ctx}

	// Headless Chromium has no one to ask for a password: the 401's
	// challenge ends the navigation.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/")); err == nil || !strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS") {
		t.Fatalf("opening the inbox without credentials: %v; want the browser refused (401)", err)
	}

	withCreds := "http://alice:s3cret@" + strings.TrimPrefix(s.URL, "http://") + "/"
	d.do("open with credentials", chromedp.Navigate(withCreds), chromedp.WaitVisible(rowSel(first.ID)))
	d.do("the live stream is up", poll(`document.getElementById('live').classList.contains('up')`))
	second := addAs(t, s.Store, readMail(t, "02-alternative-text-html.eml"), 587, true, "app")
	d.do("a new message arrives live", chromedp.WaitVisible(rowSel(second.ID)))
	d.do("open it", chromedp.Click(rowSel(second.ID)), chromedp.WaitVisible(frameSel(second.ID)))
	// Its HTML, from /view/ behind the same credentials, in the sandboxed frame.
	w := &watcher{t: t, ctx: ctx}
	if err := inFrame(ctx, w, second.ID, poll(`document.body && document.body.innerText.includes("Good news!")`)); err != nil {
		t.Fatalf("the message's HTML did not load: %v", err)
	}

	// The server saw the WebSocket authenticated, not refused.
	req, _ := http.NewRequest("GET", s.URL+"/metrics", nil)
	req.SetBasicAuth("alice", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.String(), "\nmailsink_websocket_clients 1\n") {
		t.Errorf("/metrics does not count the browser's WebSocket:\n%s", grepLines(body.String(), "mailsink_websocket"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
