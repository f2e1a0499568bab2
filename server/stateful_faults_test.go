package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/sinktest"
)

func withFaults(rules ...faults.Rule) sinktest.Option {
	return sinktest.WithConfig(func(c *server.Config) { c.Faults = rules })
}

// retrySend is an application's mailer with back-off: it tries to deliver
// until a 2xx, giving up on a 5xx or after max attempts, waiting backoff
// between tries. It returns the SMTP code of every failed attempt.
func retrySend(t *testing.T, addr, from, to, body string, backoff time.Duration, max int) (failures []int, err error) {
	t.Helper()
	for i := 0; i < max; i++ {
		if i > 0 {
			time.Sleep(backoff) // the client under test backs off; nothing in mailsink waits
		}
		c, err := smtp.Dial(addr)
		if err != nil {
			return failures, err
		}
		err = send(c, from, []string{to}, body)
		c.Close()
		var se *smtp.SMTPError
		switch {
		case err == nil:
			return failures, nil
		case errors.As(err, &se) && se.Code >= 400 && se.Code < 500:
			failures = append(failures, se.Code)
		case errors.As(err, &se):
			return append(failures, se.Code), err
		default:
			failures = append(failures, 0) // connection lost: retry
		}
	}
	return failures, errors.New("gave up")
}

// Greylisting: the first attempt of each sender and recipient gets 451, and
// so does a retry sooner than RetryAfter; the first later retry goes
// through and the pair is remembered. A client that backs off delivers.
func TestGreylistingLetsARetryingClientThrough(t *testing.T) {
	t.Parallel()
	const wait = 300 * time.Millisecond
	s := sinktest.Start(t, withFaults(faults.Rule{ID: "grey", Stage: faults.Rcpt, Reply: "451 4.7.1 Greylisted, try again later", Attempts: 1, RetryAfter: faults.Duration(wait)}))
	ctx := context.Background()
	addr := s.Addr(1025)

	start := time.Now()
	failures, err := retrySend(t, addr, "app@example.test", "user@example.test", testMsg, wait/3, 20)
	if err != nil {
		t.Fatalf("delivery with back-off: %v after %v", err, failures)
	}
	if took := time.Since(start); took < wait || len(failures) < 2 {
		t.Errorf("delivered after %v and %d refusals (%v): want the first attempt and the early retries refused for %v", took, len(failures), failures, wait)
	}
	for _, code := range failures {
		if code != 451 {
			t.Errorf("refusals %v: want 451 each", failures)
		}
	}
	// The pair is remembered: the next message goes through at once; a new
	// recipient is greylisted.
	if f, err := retrySend(t, addr, "app@example.test", "user@example.test", testMsg, 0, 1); err != nil {
		t.Errorf("second message of a passed pair: %v %v", f, err)
	}
	if f, _ := retrySend(t, addr, "app@example.test", "other@example.test", testMsg, 0, 1); len(f) != 1 || f[0] != 451 {
		t.Errorf("new recipient: refusals %v, want one 451", f)
	}
	rule, err := s.Client.Fault(ctx, "grey")
	if err != nil || rule.State == nil || rule.State.Keys != 2 {
		t.Fatalf("rule %+v, %v: want state for two pairs", rule, err)
	}
	for _, e := range rule.State.Entries {
		passed := strings.Contains(e.Key, "user@example.test")
		if e.Passed != passed || e.Refused == 0 || (passed && e.Seen != e.Refused+2) {
			t.Errorf("state %+v: passed %v", e, passed)
		}
	}
	if n, _ := s.Store.Count(nil); n != 2 {
		t.Errorf("%d messages stored, want the two that got through", n)
	}
	// A reset forgets: the passed pair is greylisted again.
	if err := s.Client.ResetFault(ctx, "grey"); err != nil {
		t.Fatal(err)
	}
	if f, _ := retrySend(t, addr, "app@example.test", "user@example.test", testMsg, 0, 1); len(f) != 1 || f[0] != 451 {
		t.Errorf("after reset: refusals %v, want one 451", f)
	}
}

// A scripted sequence keyed by message: the same message (by Message-ID)
// is refused with 550, then the connection drops after its content, then
// it is accepted; another message has its own sequence.
func TestSequenceByMessage(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, withFaults(faults.Rule{ID: "script", Stage: faults.Data, Key: faults.KeyMessage, Sequence: []string{"452 4.3.1 Out of memory", "drop", "accept"}}))
	addr := s.Addr(1025)
	msg := func(id string) string {
		return "Message-ID: <" + id + "@example.test>\r\n" + testMsg
	}
	var got []string
	for range 3 {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		err = send(c, "app@example.test", []string{"user@example.test"}, msg("one"))
		c.Close()
		var se *smtp.SMTPError
		switch {
		case err == nil:
			got = append(got, "250")
		case errors.As(err, &se):
			got = append(got, strconv.Itoa(se.Code))
		default:
			got = append(got, "lost")
		}
	}
	if strings.Join(got, " ") != "452 lost 250" {
		t.Errorf("three attempts of one message: %v, want 452 lost 250", got)
	}
	// Another message starts its own script; the first stays accepted.
	for _, tc := range []struct{ id, want string }{{"two", "452"}, {"one", "ok"}} {
		c := dial(t, addr, nil, false)
		err := send(c, "app@example.test", []string{"user@example.test"}, msg(tc.id))
		var se *smtp.SMTPError
		if (tc.want == "ok") != (err == nil) || (err != nil && (!errors.As(err, &se) || strconv.Itoa(se.Code) != tc.want)) {
			t.Errorf("message %s: %v, want %s", tc.id, err, tc.want)
		}
	}
	rule, err := s.Client.Fault(context.Background(), "script")
	if err != nil || rule.Hits != 3 || rule.State.Keys != 2 {
		t.Errorf("rule %+v %v: want 3 hits over 2 messages", rule, err)
	}
	if m, err := s.Store.Latest(nil); err != nil || !strings.Contains(m.Raw(), "<one@example.test>") {
		t.Errorf("stored: %v", err)
	}
}

// Throttling per connection: the third MAIL in a minute on one connection
// gets 454, another connection has its own window, and a 454 leaves the
// connection usable once the window moves on (here: never within the test).
func TestThrottlePerConnection(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, withFaults(faults.Rule{ID: "rate", Stage: faults.Mail, Reply: "454 4.7.0 Throttling failure: Maximum sending rate exceeded", Throttle: &faults.Throttle{Count: 2, Window: faults.Duration(time.Minute), Per: "connection"}}))
	c := dial(t, s.Addr(1025), nil, false)
	var codes []string
	for range 4 {
		err := send(c, "app@example.test", []string{"user@example.test"}, testMsg)
		var se *smtp.SMTPError
		switch {
		case err == nil:
			codes = append(codes, "250")
		case errors.As(err, &se):
			codes = append(codes, fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message))
		default:
			t.Fatal(err)
		}
	}
	if got := strings.Join(codes, " | "); got != "250 | 250 | 454 4.7.0 Throttling failure: Maximum sending rate exceeded | 454 4.7.0 Throttling failure: Maximum sending rate exceeded" {
		t.Errorf("four messages on one connection: %s", got)
	}
	other := dial(t, s.Addr(1025), nil, false)
	if err := send(other, "app@example.test", []string{"user@example.test"}, testMsg); err != nil {
		t.Errorf("another connection has its own window: %v", err)
	}
	rule, err := s.Client.Fault(context.Background(), "rate")
	if err != nil || rule.Hits != 2 || rule.State.Keys != 2 {
		t.Fatalf("rule %+v, %v", rule, err)
	}
	for _, e := range rule.State.Entries {
		if e.WindowEnds.Sub(e.First) != time.Minute {
			t.Errorf("window %v to %v, want a minute", e.First, e.WindowEnds)
		}
	}
	// The transcript says why.
	list, err := s.Client.Sessions(context.Background(), client.SessionFilter{Faulted: true})
	if err != nil || len(list.Sessions) != 1 || !strings.Contains(strings.Join(list.Sessions[0].Faults, "\n"), "throttled") {
		t.Errorf("faulted sessions %+v, %v: want the first connection's, naming the throttle", list, err)
	}
}

// nodemailer's pool, as an application sends a burst through one
// connection: past the sink's rate (4 a second here) messages get 454; with
// nodemailer's rateLimit at half that rate, every message goes through.
func TestThrottleAndNodemailerPool(t *testing.T) {
	t.Parallel()
	node := nodemailerOrSkip(t)
	for _, tc := range []struct {
		rate     string
		window   time.Duration // the burst's: long enough that a slow machine sends all 6 in one
		refusals int
	}{{"0", time.Minute, 2}, {"2", time.Second, 0}} {
		t.Run("rateLimit "+tc.rate, func(t *testing.T) {
			t.Parallel()
			s := sinktest.Start(t, withFaults(faults.Rule{Stage: faults.Mail, Reply: "454 4.7.0 Throttling failure", Throttle: &faults.Throttle{Count: 4, Window: faults.Duration(tc.window)}}))
			host, port, err := net.SplitHostPort(s.Addr(1025))
			if err != nil {
				t.Fatal(err)
			}
			r := runExt(t, node, filepath.Join(npmDir, "nodemailer_pool.mjs"), host, port, "6", tc.rate)
			if r.exit != 0 {
				t.Fatalf("nodemailer exited %d:\n%s%s", r.exit, r.stdout, r.stderr)
			}
			lines := strings.Fields(r.stdout)
			refused := 0
			for _, l := range lines {
				switch l {
				case "ok":
				case "454":
					refused++
				default:
					t.Errorf("result %q", l)
				}
			}
			if len(lines) != 6 || refused != tc.refusals {
				t.Errorf("results %v: want 6 with %d refused", lines, tc.refusals)
			}
			if n, _ := s.Store.Count(nil); n != 6-tc.refusals {
				t.Errorf("%d stored, want %d", n, 6-tc.refusals)
			}
		})
	}
}
