// Package linkcheck owns the link check served at
// /api/v1/message/{ID}/link-check: it lists a message's http and https
// links (HTML href and src, URLs in the text) and asks each for its
// status with a HEAD request, in Mailpit's answer shape.
//
// A request to check links is a request to reach them, so nothing is
// fetched until one is made, and then within bounds: at most MaxLinks
// links a message, Parallel requests at once over every check in
// progress (two per host), each with a timeout, the whole check with a
// deadline, redirects followed only when asked and at most three.
//
// mailsink may be reachable by others (bound to 0.0.0.0, in a
// container), and a captured message is anyone's text: by default the
// check must not be a way to make mailsink reach addresses only it can
// reach. Every connection's address is checked when it is dialled (in
// net.Dialer.Control, after DNS, for each redirect too, so a name that
// resolves, or re-resolves, to an internal address is caught), and
// loopback, private, link-local, shared, multicast and reserved
// addresses are refused unless Options.AllowPrivate is set: such a link
// answers 451 "Blocked private/reserved address", as in Mailpit.
// Proxies from the environment are not used: one would dial for us.
//
// It imports nothing of mailsink.
package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"github.com/mailsink/mailsink/server/links"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Response is Mailpit's LinkCheckResponse.
type Response struct {
	Errors int // links whose status is 0 (no answer) or 400 and above
	Links  []Link
}

// Link is one link and what asking for it gave.
type Link struct {
	URL        string
	StatusCode int    // the HTTP status; 0 when there was no answer; 451 for a refused address
	Status     string // the status text, or why there was no answer
}

// Options bound a Checker. Zero values take the defaults.
type Options struct {
	// AllowPrivate lets links reach loopback, private, link-local and
	// other non-public addresses. Off by default.
	AllowPrivate bool
	MaxLinks     int           // links checked per message; default 100, the rest are not listed
	Parallel     int           // requests at once over all checks; default 8
	PerHost      int           // requests at once to one host within a check; default 2
	Timeout      time.Duration // per request, redirects included; default 10s
	Deadline     time.Duration // per check; links not reached by then say so; default 30s
	UserAgent    string        // default "mailsink link check"
}

// Checker checks links. It is safe for concurrent use.
type Checker struct {
	opts  Options
	slots chan struct{}
	// permit, set by tests only, lets an address through the check of
	// private ones: a stand-in for a public server.
	permit func(netip.AddrPort) bool
	follow *http.Client
	single *http.Client
}

// StatusBlocked is the status text of a link to a refused address, Mailpit's.
const StatusBlocked = "Blocked private/reserved address"

// maxRedirects is how many redirects a followed link may take, Mailpit's.
const maxRedirects = 3

// errBlocked is what the dialler's check returns for a refused address.
var errBlocked = errors.New("private or reserved address")

// New returns a Checker with opts.
func New(opts Options) *Checker {
	if opts.MaxLinks <= 0 {
		opts.MaxLinks = 100
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	if opts.PerHost <= 0 {
		opts.PerHost = 2
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Deadline <= 0 {
		opts.Deadline = 30 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "mailsink link check"
	}
	c := &Checker{opts: opts, slots: make(chan struct{}, opts.Parallel)}
	dialer := &net.Dialer{Timeout: opts.Timeout}
	if !opts.AllowPrivate {
		dialer.Control = c.refusePrivate
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConnsPerHost:   opts.PerHost,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	c.single = &http.Client{Transport: tr, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.follow = &http.Client{Transport: tr, Timeout: opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if !checkable(req.URL) {
				return fmt.Errorf("redirect to %s, which is not an http(s) URL", req.URL.Redacted())
			}
			return nil
		}}
	return c
}

// refusePrivate is the dialler's check of each address it connects to.
func (c *Checker) refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialling %q: %w", address, errBlocked)
	}
	if Private(ap.Addr()) && (c.permit == nil || !c.permit(ap)) {
		return fmt.Errorf("dialling %s: %w", ap.Addr(), errBlocked)
	}
	return nil
}

// Links lists the links of a message's HTML and text bodies, http(s)
// only, each once, in order of appearance, at most MaxLinks.
func (c *Checker) Links(htmlBody, textBody string) []string {
	return links.Checkable(htmlBody, textBody, c.opts.MaxLinks)
}

// Check asks for each link's status. follow says to follow redirects
// (up to three) and report where they end; otherwise a redirect's own
// status is the answer. ctx ending stops the check: links not asked for
// by then answer 0 and say so.
func (c *Checker) Check(ctx context.Context, links []string, follow bool) Response {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Deadline)
	defer cancel()
	client := c.single
	if follow {
		client = c.follow
	}
	out := Response{Links: make([]Link, len(links))}
	var mu sync.Mutex
	hosts := map[string]chan struct{}{}
	hostSlot := func(h string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if hosts[h] == nil {
			hosts[h] = make(chan struct{}, c.opts.PerHost)
		}
		return hosts[h]
	}
	var wg sync.WaitGroup
	for i, l := range links {
		out.Links[i] = Link{URL: l}
		u, err := url.Parse(l)
		if err != nil || !checkable(u) {
			out.Links[i].Status = "not an http(s) URL with a host"
			continue
		}
		wg.Add(1)
		go func(link *Link, u *url.URL) {
			defer wg.Done()
			host := hostSlot(strings.ToLower(u.Host))
			for _, sem := range []chan struct{}{host, c.slots} {
				select {
				case sem <- struct{}{}:
					defer func(sem chan struct{}) { <-sem }(sem)
				case <-ctx.Done():
					link.Status = "not checked: the link check ran out of time"
					return
				}
			}
			link.StatusCode, link.Status = c.status(ctx, client, u)
		}(&out.Links[i], u)
	}
	wg.Wait()
	for _, l := range out.Links {
		if l.StatusCode == 0 || l.StatusCode >= 400 {
			out.Errors++
		}
	}
	return out
}

// status asks for u with HEAD, or GET when the server refuses HEAD.
func (c *Checker) status(ctx context.Context, client *http.Client, u *url.URL) (int, string) {
	var code int
	var err error
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		code, err = c.ask(ctx, client, method, u)
		if err != nil || (code != http.StatusMethodNotAllowed && code != http.StatusNotImplemented) {
			break
		}
	}
	switch {
	case errors.Is(err, errBlocked):
		return http.StatusUnavailableForLegalReasons, StatusBlocked
	case err != nil:
		return 0, summary(err, c.opts.Timeout)
	}
	return code, http.StatusText(code)
}

func (c *Checker) ask(ctx context.Context, client *http.Client, method string, u *url.URL) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close() // the status is all we want: no body is read
	return resp.StatusCode, nil
}

// summary says in a few words why a request got no answer.
func summary(err error, timeout time.Duration) string {
	var dns *net.DNSError
	var ue *url.Error
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "no such host"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue) && ue.Timeout():
		return fmt.Sprintf("no answer within %v", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// checkable reports whether u is an http(s) URL with a host.
func checkable(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}

// Private reports whether a is an address a link check refuses by
// default: not a public unicast address. IPv6 forms that carry an IPv4
// address (mapped, NAT64, 6to4) are judged by that address; Teredo and
// other tunnels are refused.
func Private(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return Private(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return Private(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	// reserved are the special-purpose blocks (IANA's registries) the
	// netip predicates do not cover.
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),        // this network
		netip.MustParsePrefix("100.64.0.0/10"),    // shared address space (carrier-grade NAT)
		netip.MustParsePrefix("192.0.0.0/24"),     // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),     // documentation
		netip.MustParsePrefix("192.88.99.0/24"),   // 6to4 relay anycast
		netip.MustParsePrefix("198.18.0.0/15"),    // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"),  // documentation
		netip.MustParsePrefix("203.0.113.0/24"),   // documentation
		netip.MustParsePrefix("240.0.0.0/4"),      // reserved, and the broadcast address
		netip.MustParsePrefix("168.63.129.16/32"), // a cloud's platform metadata address
		netip.MustParsePrefix("::/96"),            // IPv4-compatible (deprecated)
		netip.MustParsePrefix("64:ff9b:1::/48"),   // local-use NAT64
		netip.MustParsePrefix("100::/64"),         // discard
		netip.MustParsePrefix("2001::/23"),        // IETF protocol assignments, Teredo among them
		netip.MustParsePrefix("2001:db8::/32"),    // documentation
		netip.MustParsePrefix("fec0::/10"),        // site-local (deprecated)
	}
)
