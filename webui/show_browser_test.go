package webui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The inbox shows what the API knows: a snippet of each body in the list,
// the parse errors of a malformed message, and a long recipient list
// collapsed behind a count that expands on a click.
func TestBrowserShowsWhatTheAPIKnows(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	var to []string
	for i := range 60 {
		to = append(to, fmt.Sprintf("r%02d@example.test", i))
	}
	many := addAs(t, s.Store, []byte("From: a@example.test\r\nTo: "+strings.Join(to, ", ")+"\r\nSubject: many\r\n\r\nThe quarterly numbers are in.\r\nReset: https://example.test/reset?token=abc123.\r\nNot this: javascript:alert(1)\r\n"), 25, false, "")
	broken := addAs(t, s.Store, []byte("From: a@example.test\r\nSubject: broken\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not*base64###\r\n--x--\r\n"), 25, false, "")
	d := &driver{t: t, ctx: ctx}
	var snippet, meta, errs string
	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(rowSel(many.ID)),
		store(&snippet, chromedp.Text(chromedp.CSS(fmt.Sprintf(`li.row[data-id=%q] .snippet`, many.ID)))))
	if !strings.Contains(snippet, "quarterly numbers") {
		t.Errorf("list snippet %q", snippet)
	}
	// The unread count is on the tab's icon as well as in its title.
	icon := `document.querySelector('link[rel="icon"]').getAttribute('href')`
	d.do("unread badge", poll(icon+`.startsWith('data:image/svg+xml,') && decodeURIComponent(`+icon+`).includes('>2</text>')`))
	d.do("open the long list", chromedp.Click(rowSel(many.ID)),
		poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q`, many.ID)),
		store(&meta, chromedp.Text(chromedp.ID("m-meta"))))
	if !strings.Contains(meta, "and 55 more") || strings.Contains(meta, "r59@") {
		t.Errorf("recipients not collapsed: %q", meta)
	}
	d.do("expand it", chromedp.Click(chromedp.CSS(`#m-meta .link-btn`)), store(&meta, chromedp.Text(chromedp.ID("m-meta"))))
	if !strings.Contains(meta, "r59@example.test") {
		t.Errorf("recipients not expanded: %q", meta)
	}
	var links []string
	d.do("links in the text", chromedp.Click(chromedp.CSS(`button.tab[data-tab="text"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tab-body pre.text a`)),
		store(&links, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#tab-body a')].map(a => a.href)`)))
	if len(links) != 1 || links[0] != "https://example.test/reset?token=abc123" {
		t.Errorf("links in the text body: %q, want the one https URL without its final dot", links)
	}
	d.do("open the broken one", chromedp.Click(rowSel(broken.ID)),
		poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q && !document.getElementById('m-errors').hidden`, broken.ID)),
		store(&errs, chromedp.Text(chromedp.ID("m-errors"))))
	if !strings.Contains(errs, "malformed") || !strings.Contains(errs, "Malformed Base64") {
		t.Errorf("parse errors: %q", errs)
	}
	d.do("back to the well-formed one", chromedp.Click(rowSel(many.ID)),
		poll(`document.getElementById('m-errors').hidden`))
	d.do("all read: the plain icon", poll(icon+` === 'favicon.svg'`))
}
