package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The sinks whose APIs the tool knows. mailsink's is Mailpit's plus a wait
// endpoint; Inbucket's is organised by mailbox (the recipient's local part).
const (
	kindMailsink = "mailsink"
	kindMailpit  = "mailpit"
	kindInbucket = "inbucket"
)

var errNotVisible = errors.New("not visible in time")

// peerAPI is the HTTP API of the sink under load.
type peerAPI struct {
	base  string
	kind  string
	hc    *http.Client
	conns int
}

func newPeerAPI(ctx context.Context, base, kind string, conns int) (*peerAPI, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback sinks; a proxy from the environment would only add latency
	tr.MaxIdleConnsPerHost = 2*conns + 8
	a := &peerAPI{base: base, kind: kind, hc: &http.Client{Transport: tr}, conns: conns}
	if kind != "auto" {
		return a, nil
	}
	var err error
	a.kind, err = a.probe(ctx)
	return a, err
}

// probe tells the sinks apart by the endpoints only one of them has.
func (a *peerAPI) probe(ctx context.Context) (string, error) {
	q := url.Values{"query": {"to:probe@mailsink-bench.invalid"}, "timeout": {"1ms"}}
	if code, _, err := a.get(ctx, "/api/v1/wait?"+q.Encode()); err != nil {
		return "", fmt.Errorf("probing the API at %s: %w", a.base, err)
	} else if code == http.StatusOK || code == http.StatusRequestTimeout {
		return kindMailsink, nil
	}
	if code, body, _ := a.get(ctx, "/api/v1/mailbox/mailsink-bench-probe"); code == http.StatusOK && bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		return kindInbucket, nil
	}
	if code, _, _ := a.get(ctx, "/api/v1/messages?limit=1"); code == http.StatusOK {
		return kindMailpit, nil
	}
	return "", fmt.Errorf("%s: neither mailsink's, Mailpit's nor Inbucket's API answers there", a.base)
}

func (a *peerAPI) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (a *peerAPI) getJSON(ctx context.Context, path string, v any) error {
	code, body, err := a.get(ctx, path)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, bytes.TrimSpace(body[:min(len(body), 200)]))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// waiter is a GET /api/v1/wait in flight, issued before its message is sent.
type waiter struct {
	cancel context.CancelFunc
	done   chan struct{}
	at     time.Time // when the answer's headers arrived
	err    error
}

// startWait asks mailsink to answer as soon as a message to rcpt is stored,
// and returns once the request is on the wire.
func (a *peerAPI) startWait(ctx context.Context, rcpt string, timeout time.Duration) *waiter {
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	w := &waiter{cancel: cancel, done: make(chan struct{})}
	wrote := make(chan struct{})
	var once sync.Once
	markWritten := func() { once.Do(func() { close(wrote) }) }
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { markWritten() }}
	q := url.Values{"query": {"to:" + rcpt}, "count": {"1"}, "timeout": {timeout.String()}, "limit": {"1"}}
	go func() {
		defer close(w.done)
		defer markWritten()
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, a.base+"/api/v1/wait?"+q.Encode(), nil)
		if err != nil {
			w.err = err
			return
		}
		resp, err := a.hc.Do(req)
		w.at = time.Now()
		if err != nil {
			w.err = err
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusRequestTimeout:
			w.err = errNotVisible
		default:
			w.err = fmt.Errorf("wait: %s", resp.Status)
		}
	}()
	<-wrote
	return w
}

func (w *waiter) result() (time.Time, error) {
	<-w.done
	w.cancel()
	return w.at, w.err
}

// poll asks the sink's list until message i shows, and returns when it did.
// Mailpit and Inbucket have nothing to wait on, so the list is asked in a
// tight loop: the figure is an upper bound by one request round trip.
func (a *peerAPI) poll(ctx context.Context, f *factory, i int, deadline time.Time) (time.Time, error) {
	for {
		ok, err := a.visible(ctx, f, i)
		now := time.Now()
		switch {
		case err != nil:
			return now, err
		case ok:
			return now, nil
		case now.After(deadline):
			return now, errNotVisible
		}
	}
}

// listPage is the part of a Mailpit-shaped list answer the tool reads.
type listPage struct {
	Total    int `json:"total"`
	Messages []struct {
		ID        string
		MessageID string
	} `json:"messages"`
}

type inbucketEntry struct {
	ID string `json:"id"`
}

func (a *peerAPI) visible(ctx context.Context, f *factory, i int) (bool, error) {
	switch a.kind {
	case kindInbucket:
		var list []inbucketEntry
		err := a.getJSON(ctx, "/api/v1/mailbox/"+mailbox(f.rcpt(i)), &list)
		return len(list) > 0, err
	case kindMailsink:
		var p listPage
		err := a.getJSON(ctx, "/api/v1/search?limit=1&query="+url.QueryEscape("to:"+f.rcpt(i)), &p)
		return len(p.Messages) > 0, err
	default: // Mailpit: the newest messages; ours is among them unless many connections overtake it
		var p listPage
		err := a.getJSON(ctx, "/api/v1/messages?limit="+strconv.Itoa(max(50, 4*a.conns)), &p)
		for _, m := range p.Messages {
			if strings.Trim(m.MessageID, "<>") == f.messageID(i) {
				return true, err
			}
		}
		return false, err
	}
}

// mailbox is Inbucket's mailbox name for an address (its default "local" naming).
func mailbox(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	return local
}

// CheckResult is what -check found.
type CheckResult struct {
	Checked          int      `json:"checked"` // messages acknowledged with 250
	Exact            int      `json:"exact"`   // found once, SHA-256 equal to what was sent
	Missing          int      `json:"missing"`
	Duplicated       int      `json:"duplicated"`
	Mismatched       int      `json:"mismatched"`
	Rewritten        int      `json:"rewritten"`          // content intact, but trace headers prepended or CRLF made LF
	StoredWithout250 int      `json:"stored_without_250"` // the client saw a failure, the sink kept it anyway
	Problems         []string `json:"problems,omitempty"` // the first few, for a human
	OK               bool     `json:"ok"`
}

// verify finds every message of this run through the API, fetches the raw
// source of each and compares hashes.
func (l *loader) verify(ctx context.Context) (*CheckResult, error) {
	ids, err := l.api.index(ctx, l.f, len(l.out))
	if err != nil {
		return nil, err
	}
	res := &CheckResult{}
	var mu sync.Mutex
	note := func(i int, what string, count *int) {
		mu.Lock()
		defer mu.Unlock()
		*count++
		if len(res.Problems) < 10 {
			res.Problems = append(res.Problems, fmt.Sprintf("message %d (Message-ID <%s>): %s", i, l.f.messageID(i), what))
		}
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var fetchErr error
	var errOnce sync.Once
	for range min(max(l.cfg.c, 4), 16) {
		wg.Go(func() {
			for i := range jobs {
				raw, err := l.api.raw(ctx, l.f, i, ids[i][0])
				if err != nil {
					errOnce.Do(func() { fetchErr = err })
					continue
				}
				switch {
				case sha256.Sum256(raw) == l.out[i].sum:
					mu.Lock()
					res.Exact++
					mu.Unlock()
				case rewritten(raw, l.f.build(i)):
					note(i, fmt.Sprintf("stored rewritten: %d bytes for the %d sent, headers prepended or line endings changed", len(raw), l.out[i].size), &res.Rewritten)
				default:
					note(i, fmt.Sprintf("stored %d bytes differ from the %d sent", len(raw), l.out[i].size), &res.Mismatched)
				}
			}
		})
	}
	for i, o := range l.out {
		n := len(ids[i])
		if n > 1 {
			note(i, fmt.Sprintf("stored %d times", n), &res.Duplicated)
		}
		if !o.sent {
			if n > 0 {
				res.StoredWithout250++
			}
			continue
		}
		res.Checked++
		if n == 0 {
			note(i, "acknowledged with 250 but not found", &res.Missing)
			continue
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if fetchErr != nil {
		return res, fetchErr
	}
	res.OK = res.Missing == 0 && res.Duplicated == 0 && res.Mismatched == 0 && (res.Rewritten == 0 || l.cfg.allowRewritten)
	return res, nil
}

// rewritten reports whether stored holds sent intact after a sink's usual
// rewriting: trace headers (Received:, Return-Path:) prepended, as Mailpit
// and Inbucket do, and CRLF turned into LF, as Inbucket does.
func rewritten(stored, sent []byte) bool {
	return bytes.HasSuffix(stored, sent) ||
		bytes.HasSuffix(bytes.ReplaceAll(stored, []byte("\r\n"), []byte("\n")), bytes.ReplaceAll(sent, []byte("\r\n"), []byte("\n")))
}

// index returns, for each message of this run, the IDs the sink stores it
// under. mailsink and Mailpit are listed page by page (a search per message
// would scan the store once per message); Inbucket by mailbox.
func (a *peerAPI) index(ctx context.Context, f *factory, n int) ([][]string, error) {
	ids := make([][]string, n)
	if a.kind == kindInbucket {
		var mu sync.Mutex
		var firstErr error
		next := make(chan int)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range next {
					var list []inbucketEntry
					err := a.getJSON(ctx, "/api/v1/mailbox/"+mailbox(f.rcpt(i)), &list)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					for _, e := range list {
						ids[i] = append(ids[i], e.ID)
					}
					mu.Unlock()
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		return ids, firstErr
	}
	suffix := "." + f.run + "@bench.test"
	const pageSize = 1000
	for start := 0; ; start += pageSize {
		var p listPage
		if err := a.getJSON(ctx, fmt.Sprintf("/api/v1/messages?start=%d&limit=%d", start, pageSize), &p); err != nil {
			return nil, err
		}
		for _, m := range p.Messages {
			mid := strings.Trim(m.MessageID, "<>")
			num, ok := strings.CutSuffix(mid, suffix)
			if !ok {
				continue // another run's message
			}
			if i, err := strconv.Atoi(num); err == nil && i >= 0 && i < n {
				ids[i] = append(ids[i], m.ID)
			}
		}
		if len(p.Messages) < pageSize || start+pageSize >= p.Total {
			return ids, nil
		}
	}
}

// raw fetches the stored source of message i, stored under id.
func (a *peerAPI) raw(ctx context.Context, f *factory, i int, id string) ([]byte, error) {
	path := "/api/v1/message/" + url.PathEscape(id) + "/raw"
	if a.kind == kindInbucket {
		path = "/api/v1/mailbox/" + mailbox(f.rcpt(i)) + "/" + url.PathEscape(id) + "/source"
	}
	code, body, err := a.get(ctx, path)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", path, code)
	}
	return body, nil
}
