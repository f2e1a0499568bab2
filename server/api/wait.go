package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

const (
	defaultWait = 30 * time.Second
	maxWait     = 10 * time.Minute
)

// wait answers GET /api/v1/wait?query=&count=N&timeout=30s as soon as at
// least N stored messages match the query, counting those already there.
// It is woken by store events, not by polling, so many waiters are cheap.
func (a *API) wait(w http.ResponseWriter, r *http.Request) error {
	f, err := a.queryFilter(r, false)
	if err != nil {
		return err
	}
	count, err := httperr.IntParam(r, "count", 1)
	if err != nil {
		return err
	}
	if count < 1 {
		return httperr.BadParam("count", r.URL.Query().Get("count"), "1 or more")
	}
	timeout := defaultWait
	if v := r.URL.Query().Get("timeout"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 || timeout > maxWait {
			return httperr.BadParam("timeout", v, "a duration such as 30s, at most "+maxWait.String())
		}
	}
	// The answer holds at least the messages waited for.
	start, limit, err := paging(r, max(count, 50))
	if err != nil {
		return err
	}
	// Subscribe before looking, so nothing can arrive unseen in between.
	sub := a.store.Subscribe(256)
	p := a.store.List(f, start, limit)
	out := a.summary(p, start)
	if out.MessagesCount >= count {
		sub.Close()
		httperr.JSON(w, http.StatusOK, out)
		return nil
	}
	// The server's write timeout is for ordinary answers: a wait may take
	// as long as it was asked to, and a little for the answer itself.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 10*time.Second)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("extending the write deadline of a wait: %w", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	a.waiting.Add(1) // ends before the answer is written: a client that has it counts as not waiting
	matched, fresh, exact, err := a.waitFor(ctx, sub, f, count, out.MessagesCount, p.Seq)
	a.waiting.Add(-1)
	if err != nil {
		if r.Context().Err() != nil {
			// The client went away, or mailsink is shutting down; in the
			// second case someone may still be listening.
			return httperr.New(http.StatusServiceUnavailable, "mailsink is shutting down")
		}
		httperr.JSON(w, http.StatusRequestTimeout, apitypes.WaitTimeout{
			Error:   fmt.Sprintf("timed out after %s: %d of %d messages matched", timeout, matched, count),
			Matched: matched, Count: count,
		})
		return nil
	}
	if exact && start == 0 {
		// Nothing changed but arrivals: the answer is them on top of the
		// first listing, without listing a big store again.
		out = a.extend(out, fresh, limit)
	} else {
		out = a.page(f, start, limit)
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}

// extend puts fresh (matching messages that arrived after out was listed,
// oldest first) on top of out, newest first, keeping at most limit.
func (a *API) extend(out apitypes.MessagesSummary, fresh []*storage.Message, limit int) apitypes.MessagesSummary {
	msgs := make([]apitypes.Summary, 0, len(fresh)+len(out.Messages))
	for i := len(fresh) - 1; i >= 0 && (limit <= 0 || len(msgs) < limit); i-- {
		msgs = append(msgs, summaryOf(fresh[i].Summary()))
		if !fresh[i].Read() {
			out.MessagesUnread++
		}
	}
	for _, m := range out.Messages {
		if limit > 0 && len(msgs) >= limit {
			break
		}
		msgs = append(msgs, m)
	}
	st := a.store.Stats()
	out.Messages, out.Count, out.MessagesCount = msgs, len(msgs), out.MessagesCount+len(fresh)
	out.Total, out.Unread, out.Evicted = st.Total, st.Unread, st.Evicted
	return out
}

// waitFor counts matching messages from n (as of arrival sequence seen)
// on sub's events until count is reached or ctx ends; it returns the count
// when it stopped and closes sub. fresh are the matching arrivals, oldest
// first; exact is false if anything but arrivals happened (a delete, an
// eviction, a read flag or tags, a subscription dropped for falling behind), after
// which n was recounted and fresh is not the whole story.
func (a *API) waitFor(ctx context.Context, sub *storage.Subscription, f storage.Filter, count, n int, seen uint64) (matched int, fresh []*storage.Message, exact bool, err error) {
	defer func() { sub.Close() }()
	exact = true
	for n < count {
		select {
		case <-ctx.Done():
			return n, fresh, exact, ctx.Err()
		case e, ok := <-sub.C:
			switch {
			case !ok: // fell behind
				sub = a.store.Subscribe(256)
				n, seen = a.store.Count(f)
				exact = false
			case e.Type == storage.EventNew:
				if e.Message.Seq() > seen && (f == nil || f(e.Message)) {
					n++
					fresh = append(fresh, e.Message)
				}
			case e.Type == storage.EventDelete, e.Type == storage.EventTruncate, e.Type == storage.EventEvict, e.Type == storage.EventUpdate,
				e.Type == storage.EventTags: // a tag: search can now match (or no longer)
				n, seen = a.store.Count(f)
				exact = false
			}
		}
	}
	return n, fresh, exact, nil
}
