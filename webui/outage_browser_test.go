package webui_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A paused port shows above the inbox the moment it is paused, in every
// open tab, and its Resume button ends the outage.
func TestBrowserShowsAPausedListener(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	_, port, err := net.SplitHostPort(s.Addr(587))
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: ctx}
	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live.up`)),
		poll(`document.getElementById('outage').hidden`))

	resp, err := http.Post(s.URL+"/api/v1/listeners/"+port+"/pause", "application/json", strings.NewReader(`{"Mode":"hang"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pausing: %v %v", resp, err)
	}
	resp.Body.Close()
	var text string
	d.do("the banner appears", chromedp.WaitVisible(chromedp.CSS(`#outage .outage-row[data-port="`+port+`"]`)),
		store(&text, chromedp.Text(chromedp.ID("outage"))))
	if !strings.Contains(text, "Port "+port+" is paused") || !strings.Contains(text, "never greets") {
		t.Errorf("banner %q", text)
	}

	d.do("resume from the inbox", chromedp.Click(chromedp.CSS(`#outage button`)), poll(`document.getElementById('outage').hidden`))
	c, err := net.Dial("tcp", s.Addr(587))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	if _, err := c.Read(buf); err != nil || string(buf[:3]) != "220" {
		t.Errorf("after Resume, port %s greets %q, %v", port, buf, err)
	}
}
