package webui_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// relatedHostile is the marker's hostile HTML as a multipart/related
// message whose inline image (4x3 pixels) is referenced by cid:.
func relatedHostile(t *testing.T, markerURL string) []byte {
	t.Helper()
	raw := string(hostileMail(markerURL))
	_, html, _ := strings.Cut(raw, "\r\n\r\n")
	html = strings.Replace(html, `<p id="hello">`, `<p><img id="pic" src="cid:pic@view.test" alt="pic"></p><p id="hello">`, 1)
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return []byte("From: Mallory <mallory@evil.example.test>\r\nTo: victim@example.test\r\nSubject: Hostile view\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=r\r\n\r\n" +
		"--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n" +
		"--r\r\nContent-Type: image/png\r\nContent-ID: <pic@view.test>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(b.Bytes()) + "\r\n--r--\r\n")
}

// /view/{ID}.html opened as a page of its own, as an E2E test opens it:
// the HTML and its inline image render, and nothing of the message runs,
// reaches mailsink's origin (its cookie, its storage, its API) or the
// marker server.
func TestBrowserViewRoute(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	mk := newMarker(t)
	m := addAs(t, s.Store, relatedHostile(t, mk.srv.URL), 2525, false, "")
	w := &watcher{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, w.listener("view")); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: ctx}

	// Something of mailsink's origin that a script must not reach.
	d.do("a secret in mailsink's origin", chromedp.Navigate(s.URL+"/"),
		chromedp.Evaluate[chromedp.Void](`document.cookie = 'mailsink_secret=1; path=/'; localStorage.setItem('mailsink_secret', '1')`))

	view := s.URL + "/view/" + m.ID + ".html"
	var origin, cookie, storage, api, pwned, href string
	var width int
	d.do("open the view", chromedp.Navigate(view), chromedp.WaitVisible(chromedp.CSS(`#hello`)),
		poll(`document.getElementById('pic').complete`),
		store(&width, chromedp.Evaluate[int](`document.getElementById('pic').naturalWidth`)),
		store(&origin, chromedp.Evaluate[string](`self.origin`)),
		store(&cookie, chromedp.Evaluate[string](`(() => { try { return 'read: ' + document.cookie } catch (e) { return 'refused: ' + e.name } })()`)),
		store(&storage, chromedp.Evaluate[string](`(() => { try { return 'read: ' + localStorage.getItem('mailsink_secret') } catch (e) { return 'refused: ' + e.name } })()`)),
		store(&api, chromedp.Evaluate[string](`fetch('/api/v1/messages').then(r => r.text()).then(t => 'read: ' + t.slice(0, 40), e => 'refused: ' + e.name)`, chromedp.EvalAwaitPromise)),
		chromedp.Click(chromedp.CSS(`#jslink`)),
		store(&pwned, chromedp.Evaluate[string](`document.body.getAttribute('data-pwned') || ''`)),
		store(&href, chromedp.Evaluate[string](`location.href`)),
	)
	if width != 4 {
		t.Errorf("inline cid image naturalWidth = %d, want 4 (loaded through its part URL)", width)
	}
	if origin != "null" {
		t.Errorf("the view's origin (self.origin) is %q, want the opaque origin \"null\"", origin)
	}
	for what, got := range map[string]string{"document.cookie": cookie, "localStorage": storage, "the API": api} {
		if !strings.HasPrefix(got, "refused: ") {
			t.Errorf("%s from the view: %q, want it refused", what, got)
		}
	}
	if pwned != "" {
		t.Errorf("script of the message ran: %s", pwned)
	}
	if href != view {
		t.Errorf("the view navigated to %s", href)
	}
	if hits := mk.Hits(); len(hits) != 0 {
		t.Errorf("the marker server was reached: %v", hits)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.dialogs) != 0 {
		t.Errorf("dialogs opened: %v", w.dialogs)
	}
}
