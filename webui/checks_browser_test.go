package webui_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The message view's HTML check tab shows the score and the warnings of a
// message known to have some; the Link check tab checks only when asked,
// and shows a link to loopback refused.
func TestBrowserChecksTabs(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	mk := newMarker(t)
	m := addAs(t, s.Store, []byte("From: a@example.test\r\nTo: b@example.test\r\nSubject: checks\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"+
		`<html><head><style>@media (prefers-color-scheme: dark) { .x:hover { color: #fff } }</style></head>`+
		`<body><div style="display:flex"><a href="`+mk.srv.URL+`/link">a link</a></div><script>x()</script></body></html>`+"\r\n"), 25, false, "")
	plain := addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	d := &driver{t: t, ctx: ctx, shots: os.Getenv("MAILSINK_SCREENSHOTS")}
	tab := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.tab[data-tab=%q]`, name)))
	}
	open := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Click(rowSel(id)), poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q`, id)))
	}

	var disabled bool
	d.do("a message without HTML has no HTML check", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(rowSel(plain.ID)), open(plain.ID),
		store(&disabled, chromedp.Evaluate[bool](`document.querySelector('button.tab[data-tab="html-check"]').disabled`)))
	if !disabled {
		t.Error("the HTML check tab is enabled for a message without HTML")
	}

	var summary string
	var slugs []string
	d.do("open the HTML check", open(m.ID), tab("html-check"),
		chromedp.WaitVisible(chromedp.CSS(`li.check-warning[data-slug="html-script"]`)),
		store(&summary, chromedp.Text(chromedp.CSS(`.check-summary`))),
		store(&slugs, chromedp.Evaluate[[]string](`[...document.querySelectorAll('li.check-warning')].map(li => li.dataset.slug)`)))
	if !strings.Contains(summary, "supported") || !strings.Contains(summary, "features to watch") {
		t.Errorf("summary %q", summary)
	}
	for _, want := range []string{"html-script", "css-display-flex", "css-at-media-prefers-color-scheme", "css-pseudo-class-hover"} {
		if !strings.Contains(strings.Join(slugs, " "), want) {
			t.Errorf("warnings %v lack %s", slugs, want)
		}
	}
	if slugs[0] != "html-script" {
		t.Errorf("worst first: %v", slugs)
	}
	var clients string
	d.do("a warning opens to its clients", chromedp.Click(chromedp.CSS(`li.check-warning[data-slug="css-display-flex"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`li.check-warning[data-slug="css-display-flex"] ul.check-clients`)),
		store(&clients, chromedp.Text(chromedp.CSS(`li.check-warning[data-slug="css-display-flex"] ul.check-clients`))))
	if !strings.Contains(clients, "Outlook") {
		t.Errorf("clients lacking display:flex: %q", clients)
	}
	d.shot("html-check")

	d.do("open the Link check", tab("link-check"), chromedp.WaitVisible(chromedp.ID(`link-check-run`)))
	if hits := mk.Hits(); len(hits) != 0 {
		t.Fatalf("opening the tab reached the link: %v", hits)
	}
	var row string
	d.do("check the links", chromedp.Click(chromedp.ID(`link-check-run`)),
		chromedp.WaitVisible(chromedp.CSS(`table.links tr`)),
		store(&row, chromedp.Text(chromedp.CSS(`table.links tr`))))
	if !strings.Contains(row, "451") || !strings.Contains(row, "Blocked private/reserved address") || !strings.Contains(row, mk.srv.URL+"/link") {
		t.Errorf("link row %q", row)
	}
	if hits := mk.Hits(); len(hits) != 0 {
		t.Errorf("the link check reached loopback: %v", hits)
	}
	d.shot("link-check")
}
