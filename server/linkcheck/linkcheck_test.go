package linkcheck

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPrivate(t *testing.T) {
	tests := []struct {
		addr    string
		private bool
	}{
		{"127.0.0.1", true}, {"127.9.9.9", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true},
		{"172.32.0.1", false}, {"192.168.1.1", true}, {"169.254.169.254", true}, {"100.64.0.1", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"255.255.255.255", true}, {"198.18.0.1", true},
		{"fe80::1", true}, {"fc00::1", true}, {"fd12::1", true}, {"ff02::1", true}, {"fec0::1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", true}, {"::ffff:8.8.8.8", false},
		{"64:ff9b::a9fe:a9fe", true}, {"64:ff9b::808:808", false}, // NAT64 of 169.254.169.254 and 8.8.8.8
		{"2002:7f00:1::", true}, {"2002:808:808::", false}, // 6to4 of 127.0.0.1 and 8.8.8.8
		{"2001:0:4136:e378::1", true}, {"2001:db8::1", true}, {"::127.0.0.1", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"93.184.216.34", false}, {"2606:4700::1111", false}, {"2a00:1450::1", false},
	}
	for _, tt := range tests {
		if got := Private(netip.MustParseAddr(tt.addr)); got != tt.private {
			t.Errorf("Private(%s) = %v, want %v", tt.addr, got, tt.private)
		}
	}
}

func TestLinks(t *testing.T) {
	html := `<a href="https://a.test/x?y=1&amp;z=2">a</a> <a href="mailto:x@y.test">m</a> <a href="javascript:alert(1)">j</a>
<img src="http://img.test/i.png"><link rel="stylesheet" href="https://css.test/s.css"><link rel="icon" href="https://icon.test/i.ico">
<a href=" https://a.test/x?y=1&z=2 ">dup</a><a href="/relative">r</a><a href="HTTPS://UPPER.test/">u</a>`
	text := "See https://text.test/page. Or (https://paren.test/p) or <https://wrapped.test/a\r\n/b> and ftp://no.test/ and https://a.test/x?y=1&z=2"
	got := New(Options{}).Links(html, text)
	want := []string{"https://a.test/x?y=1&z=2", "http://img.test/i.png", "https://css.test/s.css", "HTTPS://UPPER.test/",
		"https://text.test/page", "https://paren.test/p", "https://wrapped.test/a/b"} // the text's in the order written
	if !slices.Equal(got, want) {
		t.Errorf("Links:\n got %q\nwant %q", got, want)
	}

	var many strings.Builder
	for i := range 150 {
		fmt.Fprintf(&many, `<a href="https://many.test/%d">x</a>`, i)
	}
	if n := len(New(Options{MaxLinks: 100}).Links(many.String(), "")); n != 100 {
		t.Errorf("150 links listed as %d, want the first 100", n)
	}
}

// recorder is a real HTTP server on loopback that counts what reaches it.
type recorder struct {
	*httptest.Server
	hits atomic.Int32
}

func serve(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		h(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func statuses(res Response) map[string]string {
	out := map[string]string{}
	for _, l := range res.Links {
		out[l.URL] = fmt.Sprintf("%d %s", l.StatusCode, l.Status)
	}
	return out
}

func TestCheckStatuses(t *testing.T) {
	t.Parallel()
	site := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/get-only":
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case "/hang":
			<-r.Context().Done() // until the checker gives up
		default:
			http.NotFound(w, r)
		}
	})
	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()

	links := []string{site.URL + "/ok", site.URL + "/missing", site.URL + "/moved", site.URL + "/loop", site.URL + "/get-only", site.URL + "/hang", closed, "https://"}
	c := New(Options{AllowPrivate: true, Timeout: 500 * time.Millisecond})
	got := statuses(c.Check(context.Background(), links, false))
	want := map[string]string{
		site.URL + "/ok":       "200 OK",
		site.URL + "/missing":  "404 Not Found",
		site.URL + "/moved":    "302 Found",
		site.URL + "/loop":     "302 Found",
		site.URL + "/get-only": "204 No Content",
		site.URL + "/hang":     "0 no answer within 500ms",
		closed:                 "0 connection refused",
		"https://":             "0 not an http(s) URL with a host",
	}
	for l, w := range want {
		if got[l] != w {
			t.Errorf("%s: %q, want %q", l, got[l], w)
		}
	}
	res := c.Check(context.Background(), links, true)
	got = statuses(res)
	want[site.URL+"/moved"] = "200 OK"
	want[site.URL+"/loop"] = "0 more than 3 redirects"
	for l, w := range want {
		if got[l] != w {
			t.Errorf("follow: %s: %q, want %q", l, got[l], w)
		}
	}
	if res.Errors != 5 { // missing, loop, hang, closed, not a URL
		t.Errorf("Errors = %d, want 5: %v", res.Errors, got)
	}
}

// By default nothing on loopback is reached, by address or by a name that
// resolves to it, directly or through a redirect.
func TestCheckRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	inside := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	port := inside.Listener.Addr().(*net.TCPAddr).Port
	// outside stands for a public server: the test lets its address through.
	outside := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL+"/secret", http.StatusFound)
	})
	c := New(Options{Timeout: 2 * time.Second})
	outsideAddr := netip.MustParseAddrPort(outside.Listener.Addr().String())
	c.permit = func(ap netip.AddrPort) bool { return ap == outsideAddr }

	links := []string{inside.URL + "/secret", fmt.Sprintf("http://localhost:%d/secret", port), fmt.Sprintf("http://[::1]:%d/", port), outside.URL + "/go"}
	res := c.Check(context.Background(), links, true)
	for _, l := range res.Links[:3] {
		if l.StatusCode != 451 || l.Status != StatusBlocked {
			t.Errorf("%s: %d %q, want 451 %q", l.URL, l.StatusCode, l.Status, StatusBlocked)
		}
	}
	if l := res.Links[3]; l.StatusCode != 451 {
		t.Errorf("a redirect to loopback: %d %q, want 451", l.StatusCode, l.Status)
	}
	if n := inside.hits.Load(); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
	if n := outside.hits.Load(); n != 1 {
		t.Errorf("the stand-in public server was reached %d times, want 1", n)
	}
	if res.Errors != 4 {
		t.Errorf("Errors = %d, want 4", res.Errors)
	}

	// Without follow, the redirect's own status is the answer.
	if l := c.Check(context.Background(), links[3:], false).Links[0]; l.StatusCode != 302 {
		t.Errorf("not followed: %d %q, want 302", l.StatusCode, l.Status)
	}
	// And with the setting on, loopback is checked.
	open := New(Options{AllowPrivate: true})
	if l := open.Check(context.Background(), links[:1], false).Links[0]; l.StatusCode != 200 {
		t.Errorf("with AllowPrivate: %d %q, want 200", l.StatusCode, l.Status)
	}
}

// No more than Parallel requests run at once, over every check.
func TestCheckBoundsRequests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	inFlight, most := 0, 0
	arrived := make(chan struct{}, 100)
	release := make(chan struct{})
	site := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	c := New(Options{AllowPrivate: true, Parallel: 3, PerHost: 100})
	var links []string
	for i := range 12 {
		links = append(links, fmt.Sprintf("%s/%d", site.URL, i))
	}
	done := make(chan Response, 2)
	go func() { done <- c.Check(context.Background(), links[:6], false) }()
	go func() { done <- c.Check(context.Background(), links[6:], false) }()
	for range 3 {
		<-arrived
	}
	close(release)
	for range 2 {
		if res := <-done; res.Errors != 0 {
			t.Errorf("errors: %+v", res)
		}
	}
	if most != 3 {
		t.Errorf("%d requests at once, want 3", most)
	}
	if n := site.hits.Load(); n != 12 {
		t.Errorf("%d requests, want 12", n)
	}
}

// The whole check has a deadline: what it did not reach says so.
func TestCheckDeadline(t *testing.T) {
	t.Parallel()
	site := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := New(Options{AllowPrivate: true, Parallel: 1, Deadline: 300 * time.Millisecond, Timeout: 5 * time.Second})
	res := c.Check(context.Background(), []string{site.URL + "/a", site.URL + "/b"}, false)
	got := statuses(res)
	if res.Errors != 2 || !strings.HasPrefix(got[site.URL+"/a"]+got[site.URL+"/b"], "0 ") ||
		!strings.Contains(got[site.URL+"/a"]+got[site.URL+"/b"], "ran out of time") {
		t.Errorf("after the deadline: %v", got)
	}
}
