package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

// Under load, a shutdown acknowledges no new transaction and loses none it
// acknowledged: every 250 is in the store, and after the signal only the
// transfers already under way may still get one.
func TestShutdownUnderLoadLosesNothing(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	const senders = 8
	var (
		mu        sync.Mutex
		acked     = map[string]string{} // subject -> body
		afterStop atomic.Int32
		stopping  atomic.Bool
		started   = make(chan struct{}, 1000)
		wg        sync.WaitGroup
	)
	refusals := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(s.Addr(2525))
			if err != nil {
				refusals <- err
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				subject := fmt.Sprintf("load %d-%d", g, i)
				body := "Subject: " + subject + "\r\n\r\n" + strings.Repeat("body line\r\n", 50)
				wasStopping := stopping.Load()
				if err := send(c, "a@example.test", []string{"load@example.test"}, body); err != nil {
					refusals <- err
					return
				}
				if wasStopping {
					afterStop.Add(1)
				}
				mu.Lock()
				acked[subject] = body
				mu.Unlock()
				select {
				case started <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 200 { // some mail has flowed
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stopping.Store(true)
	if err := s.Server.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	close(refusals)
	for err := range refusals {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code != 421 {
			t.Errorf("a sender was refused with %d %s, want 421", se.Code, se.Message)
		}
	}
	// A send that began before the flag may have been past MAIL already:
	// at most one per connection is acknowledged after the signal.
	if n := afterStop.Load(); n > senders {
		t.Errorf("%d messages acknowledged after the signal, want at most %d", n, senders)
	}
	mu.Lock()
	defer mu.Unlock()
	for subject, body := range acked {
		m, err := s.Store.Latest(func(m *storage.Message) bool { return m.Summary().Subject == subject })
		if err != nil {
			t.Fatalf("acknowledged %q is not in the store", subject)
		}
		if m.Raw() != body {
			t.Fatalf("%q is not byte-exact", subject)
		}
	}
	t.Logf("%d messages acknowledged, %d after the signal", len(acked), afterStop.Load())
}

// While SMTP drains, the API still answers: a test can read what was
// acknowledged while a transfer is still being finished.
func TestAPIAnswersWhileSMTPDrains(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	deliver(t, s, "a@example.test", []string{"before@example.test"}, "Subject: acknowledged before\r\n\r\nx\r\n")
	c := dial(t, s.Addr(25), nil, false)
	if err := c.Mail("a@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("drain@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: during shutdown\r\n\r\n")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Server.Shutdown(ctx)
	}()
	// Nothing signals that the shutdown has begun; a listener that stops
	// accepting shows it (bounded).
	for i := 0; ; i++ {
		c2, err := smtp.Dial(s.Addr(2525))
		if err != nil {
			break
		}
		c2.Close()
		if i == 500 {
			t.Fatal("listener still accepting")
		}
		time.Sleep(2 * time.Millisecond)
	}
	resp, err := http.Get(s.URL + "/api/v1/search?query=to:before@example.test")
	if err != nil {
		t.Fatalf("API during the drain: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "acknowledged before") {
		t.Fatalf("API during the drain: %d %s", resp.StatusCode, body)
	}
	io.WriteString(w, "body\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("the message in flight: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.Latest(func(m *storage.Message) bool { return m.Summary().Subject == "during shutdown" }); err != nil {
		t.Fatal("the message finished during the drain is not stored")
	}
}
