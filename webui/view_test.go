package webui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mailsink/mailsink/webui"
)

// Mailpit's testing routes: latest with and without a query, the inbox
// redirect, embed=1.
func TestViewLatestAndEmbed(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	alt := add(t, ui.store, readMail(t, "02-alternative-text-html.eml"))
	plain := add(t, ui.store, readMail(t, "01-plain-ascii.eml")) // the newest, without HTML
	linked := add(t, ui.store, []byte("Subject: links\r\nContent-Type: text/html\r\n\r\n<p><a href=\"https://example.test/\" target=\"_self\">x</a></p>"))
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		path     string
		status   int
		contains string // in the body, or the Location of a redirect
	}{
		{"/view/latest.txt?query=subject:lunch", 200, "Hi Bob,"},
		{"/view/latest.html?query=subject:lunch", 404, "HTML part of message"},
		{"/view/latest.html", 200, "https://example.test/"},
		{"/view/latest", 302, "/#/message/" + linked.ID},
		{"/view/latest.html?query=subject:shipped", 200, "<h1>Good news!</h1>"},
		{"/view/latest.txt?query=subject:shipped", 200, "Tracking number: 1Z999AA10123456784"},
		{"/view/latest.html?query=subject:never", 404, `message matching query \"subject:never\" not found`},
		{"/view/latest.txt?query=is:maybe", 400, "parameter query="},
		{"/view/latest?query=subject:lunch", 302, "/#/message/" + plain.ID},
		{"/view/latest?query=subject:shipped", 302, "/#/message/" + alt.ID},
		{"/view/latest?query=subject:never", 302, "/"},
		{"/view/" + alt.ID, 302, "/#/message/" + alt.ID},
		{"/view/nosuchid", 302, "/"},
		{"/view/" + linked.ID + ".html?embed=1", 200, `target="_blank" rel="noreferrer noopener"`},
		{"/view/" + alt.ID + ".html?embed=yes", 400, "parameter embed="},
	}
	for _, tt := range tests {
		res, err := noRedirect.Get(ui.srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.path, res.StatusCode, tt.status, body)
			continue
		}
		got := body
		if tt.status == 302 {
			got = res.Header.Get("Location")
			if got != tt.contains {
				t.Errorf("%s: Location %q, want %q", tt.path, got, tt.contains)
			}
			continue
		}
		if !strings.Contains(got, tt.contains) {
			t.Errorf("%s: %q lacks %q", tt.path, got, tt.contains)
		}
		if tt.status == 200 && !strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "sandbox allow-popups allow-popups-to-escape-sandbox;") {
			t.Errorf("%s: CSP %q", tt.path, res.Header.Get("Content-Security-Policy"))
		}
	}
}

// A message's own <base href> is dropped: it would re-aim relative links.
func TestViewDropsBase(t *testing.T) {
	t.Parallel()
	ui := newUI(t, webui.Options{})
	m := add(t, ui.store, []byte("Subject: b\r\nContent-Type: text/html\r\n\r\n<html><head><BASE href=\"https://evil.test/\"></head><body><a href=\"x\">x</a></body></html>"))
	res, body := get(t, ui.srv.URL+"/view/"+m.ID+".html")
	if res.StatusCode != 200 || strings.Contains(body, "evil.test") || !strings.Contains(body, `<base target="_blank">`) {
		t.Errorf("%d: %s", res.StatusCode, body)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
