// Package webhook posts each captured message's summary to a URL the user
// configured, as Mailpit's webhook does: a POST of the message summary as
// JSON (the shape of a list entry and of the WebSocket's "new" event).
//
// It owns the way from the store to the receiver, and makes sure capture
// never waits for it: it reads the store's events (which never block the
// publisher) into a bounded queue of its own, and one worker sends them
// in order, at most Limit a second, each request with a timeout, retried
// with back-off when the receiver answers 5xx or cannot be reached. What
// does not fit the queue is dropped and counted, never waited for. If the
// store drops its subscription for falling behind, it resubscribes and
// recovers the messages it missed from a listing; those already gone are
// counted as dropped too.
//
// It imports storage and the standard library's HTTP client, nothing of
// the server's transports.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/mailsink/mailsink/storage"
)

// Options configure a Sender. Zero values take the defaults named.
type Options struct {
	URL       string        // where summaries are POSTed; http or https
	Limit     float64       // requests a second, retries included; 0: no limit
	Delay     time.Duration // wait after a message arrives before its call (Mailpit's MP_WEBHOOK_DELAY)
	Timeout   time.Duration // per request; default 5s (Mailpit's)
	Queue     int           // messages waiting at most; default 1000
	UserAgent string        // default "mailsink"
	Logger    *slog.Logger

	// Attempts per message for 5xx answers and network errors; default 3.
	Attempts int
	// Backoff is the wait before the first retry, doubled for each next
	// one; default 1s.
	Backoff time.Duration
}

// MaxQueuedBytes bounds the raw bytes of the messages waiting in the
// queue. A queued message stays in memory even if the store evicts it, so
// without this bound a slow receiver could hold far more than the store's
// limits.
const MaxQueuedBytes = 64 << 20

// subscriptionBuffer is how many store events the sender may lag behind
// before the store drops it (it then catches up from a listing).
const subscriptionBuffer = 1024

// Stats are the sender's counters since it started.
type Stats struct {
	Queued    int    // messages waiting now
	Delivered uint64 // messages the receiver answered 2xx
	Failed    uint64 // messages given up: a 4xx answer, or every attempt failed
	Retries   uint64 // attempts after a first one
	Timeouts  uint64 // attempts that ran out of time (Options.Timeout)
	Dropped   uint64 // messages never sent: the queue was full, or they were gone before the sender saw them
}

// Sender delivers webhook calls for one store. Start it, then Shutdown.
type Sender struct {
	store  *storage.Store
	opts   Options
	log    *slog.Logger
	client *http.Client
	lim    *rate.Limiter // nil: no limit

	mu     sync.Mutex
	queue  []*storage.Message // oldest first
	bytes  int                // raw bytes of queue
	wake   chan struct{}      // cap 1: something was queued
	cancel context.CancelFunc
	moved  chan struct{} // closed when the event reader returns
	done   chan struct{} // closed when the worker returns
	drain  chan struct{} // closed by Shutdown: the worker returns once the queue is empty

	delivered, failed, retries, timeouts, dropped atomic.Uint64
}

// New checks opts and returns a sender for store; nothing runs until Start.
func New(store *storage.Store, opts Options) (*Sender, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: want an http:// or https:// URL", opts.URL)
	}
	if opts.Limit < 0 || opts.Delay < 0 || opts.Timeout < 0 || opts.Queue < 0 || opts.Attempts < 0 || opts.Backoff < 0 {
		return nil, errors.New("webhook: negative option")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Queue == 0 {
		opts.Queue = 1000
	}
	if opts.Attempts == 0 {
		opts.Attempts = 3
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "mailsink"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{
		store: store, opts: opts,
		log: opts.Logger.With("webhook", u.Redacted()), // the URL may carry a password
		// No redirects: a receiver answers; following it elsewhere is not
		// what the user configured.
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		wake:   make(chan struct{}, 1),
		moved:  make(chan struct{}),
		done:   make(chan struct{}),
		drain:  make(chan struct{}),
	}
	if opts.Limit > 0 {
		s.lim = rate.NewLimiter(rate.Limit(opts.Limit), max(1, int(opts.Limit)))
	}
	return s, nil
}

// Start subscribes to the store, so every message added from now on is
// seen, and starts delivering.
func (s *Sender) Start() {
	sub := s.store.Subscribe(subscriptionBuffer)
	_, seen := s.store.Count(nil)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.move(ctx, sub, seen)
	go s.work(ctx)
}

// Shutdown stops taking messages and lets the worker send what is queued
// until ctx is done; then it cancels the request in flight and drops the
// rest (counted). It waits for both goroutines.
func (s *Sender) Shutdown(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.mu.Lock()
	select {
	case <-s.drain:
	default:
		close(s.drain)
	}
	s.mu.Unlock()
	s.notify()
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = fmt.Errorf("webhook: calls not made by the end of shutdown are dropped (%d queued, and any in flight): %w", s.Stats().Queued, ctx.Err())
	}
	s.cancel()
	<-s.moved
	<-s.done
	s.mu.Lock()
	s.dropped.Add(uint64(len(s.queue)))
	clear(s.queue)
	s.queue, s.bytes = nil, 0
	s.mu.Unlock()
	return err
}

// Stats returns the sender's counters.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	q := len(s.queue)
	s.mu.Unlock()
	return Stats{
		Queued: q, Delivered: s.delivered.Load(), Failed: s.failed.Load(),
		Retries: s.retries.Load(), Timeouts: s.timeouts.Load(), Dropped: s.dropped.Load(),
	}
}

// move reads store events into the queue. It never waits for the worker:
// a message that does not fit is dropped. seen is the arrival sequence of
// the newest message already handled (or there before Start).
func (s *Sender) move(ctx context.Context, sub *storage.Subscription, seen uint64) {
	defer close(s.moved)
	defer func() { sub.Close() }()
	// handle takes one event; ok is false once the subscription closed.
	handle := func(e storage.Event, ok bool) {
		switch {
		case !ok: // the store dropped us for falling behind
			sub = s.store.Subscribe(subscriptionBuffer)
			seen = s.catchUp(seen)
		case e.Type == storage.EventNew && e.Message.Seq() > seen:
			seen = e.Message.Seq()
			s.enqueue(e.Message)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.drain:
			// Shutdown: what the store has published (SMTP has stopped by
			// then) is still taken, so it is sent or counted.
			for {
				select {
				case e, ok := <-sub.C:
					handle(e, ok)
					if !ok {
						return
					}
				default:
					return
				}
			}
		case e, ok := <-sub.C:
			handle(e, ok)
		}
	}
}

// catchUp queues the messages that arrived after seen while no
// subscription was open (the caller opened a new one first), and counts
// those already deleted or evicted as dropped. It returns the newest
// arrival sequence it accounted for.
func (s *Sender) catchUp(seen uint64) uint64 {
	_, top := s.store.Count(nil)
	if top <= seen {
		return seen
	}
	p := s.store.List(func(m *storage.Message) bool { return m.Seq() > seen && m.Seq() <= top }, 0, 0)
	for i := len(p.Messages) - 1; i >= 0; i-- { // oldest first
		s.enqueue(p.Messages[i])
	}
	if gone := top - seen - uint64(len(p.Messages)); gone > 0 {
		s.dropped.Add(gone)
	}
	s.log.Warn("webhook fell behind the store's events; caught up from a listing", "recovered", len(p.Messages), "gone", top-seen-uint64(len(p.Messages)))
	return top
}

func (s *Sender) enqueue(m *storage.Message) {
	s.mu.Lock()
	fits := len(s.queue) < s.opts.Queue && s.bytes+m.Size() <= MaxQueuedBytes
	if fits {
		s.queue = append(s.queue, m)
		s.bytes += m.Size()
	}
	s.mu.Unlock()
	if !fits {
		if s.dropped.Add(1) == 1 || s.dropped.Load()%1000 == 0 {
			s.log.Warn("webhook queue full: message dropped", "id", m.ID, "dropped", s.dropped.Load())
		}
		return
	}
	s.notify()
}

func (s *Sender) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest queued message; nil when the queue is empty.
func (s *Sender) next() *storage.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	m := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	s.bytes -= m.Size()
	return m
}

// work sends queued messages one at a time, in arrival order.
func (s *Sender) work(ctx context.Context) {
	defer close(s.done)
	for {
		m := s.next()
		if m == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.moved: // Shutdown: the reader has taken its last
				if s.Stats().Queued == 0 {
					return
				}
			case <-s.wake:
			}
			continue
		}
		if err := s.deliver(ctx, m); err != nil {
			if ctx.Err() != nil {
				s.dropped.Add(1)
				return
			}
			s.failed.Add(1)
			s.log.Warn("webhook call failed", "id", m.ID, "err", err)
			continue
		}
		s.delivered.Add(1)
	}
}

// deliver POSTs m's summary until the receiver answers 2xx, a 4xx, or
// the attempts are used up.
func (s *Sender) deliver(ctx context.Context, m *storage.Message) error {
	if wait := time.Until(m.Received().Add(s.opts.Delay)); s.opts.Delay > 0 && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	body, err := json.Marshal(m.Summary())
	if err != nil {
		return fmt.Errorf("encoding the summary of %s: %w", m.ID, err)
	}
	backoff := s.opts.Backoff
	for attempt := 1; ; attempt++ {
		if s.lim != nil {
			if err := s.lim.Wait(ctx); err != nil {
				return err
			}
		}
		retry, err := s.post(ctx, body)
		if err == nil || !retry || attempt >= s.opts.Attempts {
			return err
		}
		s.log.Debug("webhook call failed; retrying", "id", m.ID, "attempt", attempt, "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff *= 2
		s.retries.Add(1)
	}
}

// post makes one request; retry says whether another attempt may succeed
// (a 5xx answer, a network error or a timeout).
func (s *Sender) post(ctx context.Context, body []byte) (retry bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("making the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.opts.UserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			s.timeouts.Add(1)
			return true, fmt.Errorf("no answer within %s", s.opts.Timeout)
		}
		return ctx.Err() == nil, err
	}
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return true, fmt.Errorf("the receiver answered %s", resp.Status)
	default:
		return false, fmt.Errorf("the receiver answered %s", resp.Status)
	}
}
