package webui_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// Opening a message runs none of mailsink's routes on its behalf: an <img>
// may load only the message's own parts. (Opening /api/v1/message/{ID}
// marks that message read, so the other message's Read flag says whether
// the image was fetched; a link check would go the same way.)
func TestBrowserViewFetchesNoOtherRoute(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	other := addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	probe := fmt.Sprintf("From: a@x.test\r\nTo: b@y.test\r\nSubject: probe\r\nContent-Type: text/html\r\n\r\n"+
		`<p id="hello">hi</p><img id="probe" src="/api/v1/message/%s"><img id="check" src="/api/v1/message/%s/link-check">`+"\r\n", other.ID, other.ID)
	m := addAs(t, s.Store, []byte(probe), 25, false, "")
	d := &driver{t: t, ctx: ctx}
	d.do("open the view", chromedp.Navigate(s.URL+"/view/"+m.ID+".html"), chromedp.WaitVisible(chromedp.CSS(`#hello`)),
		poll(`document.getElementById('probe').complete && document.getElementById('check').complete`))
	if other.Read() {
		t.Fatalf("opening message %s fetched /api/v1/message/%s (it is marked read)", m.ID, other.ID)
	}
}
