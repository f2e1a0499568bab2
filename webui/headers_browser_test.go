package webui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The Headers tab shows encoded words decoded, the value as sent on hover;
// Source keeps them raw.
func TestBrowserHeadersDecoded(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	m := addAs(t, s.Store, readMail(t, "08-rfc2047-headers.eml"), 25, false, "")
	d := &driver{t: t, ctx: ctx}
	var subject, raw, source string
	d.do("open the message's headers", chromedp.Navigate(s.URL+"/#/message/"+m.ID),
		poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q`, m.ID)),
		chromedp.Click(chromedp.CSS(`button.tab[data-tab="headers"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.headers`)),
		store(&subject, chromedp.Evaluate[string](`[...document.querySelectorAll('table.headers tr')].filter((r) => r.firstChild.textContent === 'Subject').map((r) => r.lastChild.textContent).join()`)),
		store(&raw, chromedp.Evaluate[string](`[...document.querySelectorAll('table.headers tr')].filter((r) => r.firstChild.textContent === 'From').map((r) => r.lastChild.title).join()`)),
		chromedp.Click(chromedp.CSS(`button.tab[data-tab="source"]`)),
		store(&source, chromedp.TextContent(chromedp.CSS(`pre.source`))))
	if subject != "Résumé du projet — ünïcödé ✓ naïve" {
		t.Errorf("Subject shown %q, want it decoded", subject)
	}
	if raw != "as sent: =?ISO-8859-1?Q?Fran=E7ois_L=E9vesque?= <francois@example.test>" {
		t.Errorf("From's value as sent: %q", raw)
	}
	if !strings.Contains(source, "Subject: =?UTF-8?B?UsOpc3Vtw6kgZHUgcHJvamV0IOKAlCA=?=") {
		t.Errorf("Source lost the raw Subject")
	}
}
