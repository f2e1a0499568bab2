package webui_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// Every message and session has a URL: opening one changes the address,
// Back and Forward move between them, a reload keeps what was open, and a
// link to a message opens it in a fresh tab.
func TestBrowserAddresses(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	first := addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	second := addAs(t, s.Store, readMail(t, "08-rfc2047-headers.eml"), 465, true, "billing")
	d := &driver{t: t, ctx: ctx}
	shown := func(id string) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q && location.hash === %q`, id, "#/message/"+id))
	}
	closed := poll(`document.getElementById('message').dataset.id === undefined && (location.hash === '#/' || location.hash === '')`)

	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(rowSel(first.ID)))
	d.do("open the first", chromedp.Click(rowSel(first.ID)), shown(first.ID))
	d.do("open the second", chromedp.Click(rowSel(second.ID)), shown(second.ID))
	d.do("back", chromedp.Evaluate[chromedp.Void](`history.back()`), shown(first.ID))
	d.do("back to the list", chromedp.Evaluate[chromedp.Void](`history.back()`), closed)
	d.do("forward", chromedp.Evaluate[chromedp.Void](`history.forward()`), shown(first.ID))
	d.do("reload", chromedp.Reload(), shown(first.ID))
	d.do("a link to a message", chromedp.Navigate(s.URL+"/#/message/"+second.ID), shown(second.ID))

	// Sessions too.
	sess := s.Store.Sessions().Start(storageTranscript(25))
	sess.Add("C", "EHLO app.test")
	sess.End()
	d.do("a link to a session", chromedp.Navigate(s.URL+"/#/session/"+sess.ID()),
		poll(fmt.Sprintf(`document.getElementById('session').dataset.id === %q`, sess.ID())))
	d.do("back to the message", chromedp.Evaluate[chromedp.Void](`history.back()`), shown(second.ID))
}
