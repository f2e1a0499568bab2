package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sinktest"
)

// waitSubscribers waits until the store holds at least n subscriptions: a
// wait endpoint subscribes before it lists what is there. The store
// publishes no event when a subscription opens (events are about mail and
// sessions), so this polls the count, bounded.
func waitSubscribers(t *testing.T, s *sinktest.Sink, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.Store.Subscribers() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions after 5s, want %d: the wait never reached the server", s.Store.Subscribers(), n)
		}
	}
}

func TestWaitReturnsWhenMailArrives(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	// One matching message is already there: it counts.
	deliver(t, s, "a@example.test", []string{"user+t1@example.test"}, testMsg)
	deliver(t, s, "a@example.test", []string{"other@example.test"}, testMsg)

	got := make(chan *client.MessagesSummary, 1)
	errc := make(chan error, 1)
	go func() {
		res, err := s.Client.Wait(ctx, "to:user+t1@example.test", 2, 10*time.Second)
		got <- res
		errc <- err
	}()
	// The waiter must still be waiting: only one of two has arrived. There
	// is no event to wait on for "still blocked", so once the wait has
	// reached the server, check it has not answered.
	waitSubscribers(t, s, 1)
	select {
	case <-got:
		t.Fatalf("wait returned with 1 of 2 matches: %v", <-errc)
	case <-time.After(100 * time.Millisecond):
	}
	deliver(t, s, "a@example.test", []string{"user+t1@example.test"}, testMsg)
	select {
	case res := <-got:
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if res.MessagesCount != 2 || len(res.Messages) != 2 {
			t.Fatalf("wait answered %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the second message")
	}
}

func TestWaitTimeoutSaysHowManyMatched(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	deliver(t, s, "a@example.test", []string{"t2@example.test"}, testMsg)
	_, err := s.Client.Wait(context.Background(), "to:t2@example.test", 3, 200*time.Millisecond)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusRequestTimeout || ce.Message != "timed out after 200ms: 1 of 3 messages matched" {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"timeout=forever", "timeout=11m", "count=0", "count=x", "query=is:maybe"} {
		resp, err := http.Get(s.URL + "/api/v1/wait?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
}

func TestManyWaitersAreWokenTogether(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	const waiters = 200
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Client.Wait(ctx, fmt.Sprintf("to:w%d@example.test", i%10), 1, 20*time.Second)
			if err == nil && len(res.Messages) != 1 {
				err = fmt.Errorf("waiter %d got %d messages", i, len(res.Messages))
			}
			errs <- err
		}()
	}
	for i := range 10 {
		deliver(t, s, "a@example.test", []string{fmt.Sprintf("w%d@example.test", i)}, testMsg)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestTestsAreIsolatedByRecipient(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	for _, rcpt := range []string{"alice+t1@example.test", "alice+t2@example.test", "alice+t2@example.test"} {
		deliver(t, s, "app@example.test", []string{rcpt}, testMsg)
	}
	// Test 1 asserts and cleans up only its own mail...
	got, err := s.Client.Wait(ctx, "to:alice+t1@example.test", 1, 5*time.Second)
	if err != nil || got.MessagesCount != 1 || got.Messages[0].Envelope.To[0] != "alice+t1@example.test" {
		t.Fatalf("t1 wait: %+v, %v", got, err)
	}
	if err := s.Client.DeleteSearch(ctx, "to:alice+t1@example.test"); err != nil {
		t.Fatal(err)
	}
	// ...while test 2's mail is all still there for it.
	got, err = s.Client.Wait(ctx, "to:alice+t2@example.test", 2, 5*time.Second)
	if err != nil || got.MessagesCount != 2 {
		t.Fatalf("t2 after t1's cleanup: %+v, %v", got, err)
	}
	if all, _ := s.Client.List(ctx, 0, 10); all.Total != 2 {
		t.Fatalf("%d messages left, want t2's 2", all.Total)
	}
}

func TestShutdownEndsPendingWaits(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Client.Wait(context.Background(), "to:never@example.test", 1, time.Minute)
		errc <- err
	}()
	waitSubscribers(t, s, 1) // the wait has reached the server
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("shutdown with a pending wait: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %s: the wait held it", d)
	}
	var ce *client.Error
	if err := <-errc; !errors.As(err, &ce) || ce.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("the waiting client got %v, want 503", err)
	}
}

// The wait's answer, built from the arrivals on top of its first listing,
// is what a search answers at that moment, field for field; after a delete
// during the wait it is listed afresh, and still is.
func TestWaitAnswersAsSearchDoes(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	for i := range 3 {
		deliver(t, s, "a@example.test", []string{fmt.Sprintf("wait-%d@example.test", i%2)}, testMsg)
	}
	for _, deleteOne := range []bool{false, true} {
		got := make(chan *client.MessagesSummary, 1)
		go func() {
			res, err := s.Client.Wait(ctx, "to:wait-0@example.test", 4, 10*time.Second)
			if err != nil {
				t.Error(err)
			}
			got <- res
		}()
		// The wait subscribes, then lists what is there. Should the delete
		// or a delivery below land in between, the listing has it and the
		// event changes nothing twice: the answer is the same either way.
		waitSubscribers(t, s, 1)
		if deleteOne {
			m, err := s.Store.Latest(nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Store.Delete(m.ID)
		}
		more := 2 // 2 match already; the wait wants 4
		if deleteOne {
			more = 3 // the newest message, deleted, was a match
		}
		for range more {
			deliver(t, s, "a@example.test", []string{"wait-0@example.test"}, testMsg)
		}
		res := <-got
		want, err := s.Client.Search(ctx, "to:wait-0@example.test", 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(res)
		b, _ := json.Marshal(want)
		if string(a) != string(b) {
			t.Fatalf("delete during the wait %v:\nwait   %s\nsearch %s", deleteOne, a, b)
		}
		s.Store.DeleteMatching(nil)
		for i := range 3 {
			deliver(t, s, "a@example.test", []string{fmt.Sprintf("wait-%d@example.test", i%2)}, testMsg)
		}
	}
}
