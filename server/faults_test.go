package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/api"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

// rawConn is a line-level SMTP client for conversations the Go clients
// cannot have (pipelining, odd commands, timeouts).
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func rawDial(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (rc *rawConn) reply() string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("reading reply: %v (got %q)", err, line)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

func (rc *rawConn) send(lines ...string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		rc.t.Fatal(err)
	}
}

func wantPrefix(t *testing.T, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("reply %q, want %q", got, want)
	}
}

func TestBounceRuleThenDelivery(t *testing.T) {
	t.Parallel()
	// The walk-through: reject *@bounce.test at RCPT, see exactly
	// that reply with a real client, clear the rule, deliver.
	s := sinktest.Start(t)
	ctx := context.Background()
	rules, err := s.Client.AddFaults(ctx, faults.Rule{Stage: faults.Rcpt, Recipient: "*@bounce.test", Reply: "550 5.1.1 User unknown"})
	if err != nil || len(rules) != 1 || rules[0].ID == "" {
		t.Fatalf("AddFaults = %+v, %v", rules, err)
	}
	c := dial(t, s.Addr(25), nil, false)
	if err := c.Mail("app@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("ok@example.test", nil); err != nil {
		t.Fatalf("non-matching recipient refused: %v", err)
	}
	err = c.Rcpt("nobody@Bounce.test", nil)
	wantCode(t, err, 550, "5.1.1")
	if se := (*smtp.SMTPError)(nil); errors.As(err, &se) && se.Message != "User unknown" {
		t.Fatalf("text %q", se.Message)
	}
	c.Quit()

	if err := s.Client.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	c = dial(t, s.Addr(25), nil, false)
	if err := send(c, "app@example.test", []string{"nobody@bounce.test"}, testMsg); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
	// The failed conversation is in the session list with the reply given.
	list, err := s.Client.Sessions(ctx, client.SessionFilter{Faulted: true})
	if err != nil || len(list.Sessions) != 1 {
		t.Fatalf("faulted sessions = %+v, %v", list, err)
	}
	if !hasLine(list.Sessions[0], "S", "550 5.1.1 User unknown") || !hasLine(list.Sessions[0], "C", "RCPT TO:<nobody@Bounce.test>") {
		t.Fatalf("transcript lacks the exchange:\n%s", dump(list.Sessions[0]))
	}
}

func hasLine(tr *client.Transcript, dir, text string) bool {
	for _, l := range tr.Lines {
		if l.Dir == dir && strings.Contains(l.Text, text) {
			return true
		}
	}
	return false
}

func dump(tr *client.Transcript) string {
	var b strings.Builder
	for _, l := range tr.Lines {
		b.WriteString(l.Dir + ": " + l.Text + "\n")
	}
	return b.String()
}

func TestDelayRuleTripsClientTimeout(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	if _, err := s.Client.AddFaults(ctx, faults.Rule{Stage: faults.Mail, Delay: faults.Duration(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	rc := rawDial(t, s.Addr(25))
	wantPrefix(t, rc.reply(), "220")
	rc.send("EHLO client.test")
	wantPrefix(t, rc.reply(), "250")
	rc.send("MAIL FROM:<a@example.test>")
	// A client with a 1-second timeout gives up.
	rc.c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := rc.r.ReadString('\n')
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v before the 1s timeout, want a timeout", err)
	}
	// Patient clients get the normal reply afterwards.
	wantPrefix(t, rc.reply(), "250")
}

func TestFaultsAtEveryStage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule faults.Rule
		run  func(t *testing.T, rc *rawConn) // starts after the greeting unless stage is connect
	}{
		{faults.Rule{Stage: faults.Connect, Reply: "421 4.7.0 Try again later"}, func(t *testing.T, rc *rawConn) {
			wantPrefix(t, rc.reply(), "421 4.7.0 Try again later")
		}},
		{faults.Rule{Stage: faults.Ehlo, Reply: "554 5.7.1 Go away"}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test")
			wantPrefix(t, rc.reply(), "554 5.7.1 Go away")
		}},
		{faults.Rule{Stage: faults.StartTLS, Drop: true}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test")
			rc.reply()
			rc.send("STARTTLS")
			wantPrefix(t, rc.reply(), "220") // go-smtp's; the rule acts at the ClientHello
			tc := tls.Client(rc.c, &tls.Config{InsecureSkipVerify: true})
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err == nil {
				t.Fatal("handshake succeeded, want the connection dropped")
			}
		}},
		{faults.Rule{Stage: faults.Auth, Reply: "454 4.7.0 Temporary authentication failure"}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test")
			rc.reply()
			rc.send("AUTH PLAIN AHUAcA==")
			wantPrefix(t, rc.reply(), "454 4.7.0 Temporary authentication failure")
		}},
		{faults.Rule{Stage: faults.Mail, Sender: "*@blocked.test", Reply: "553 5.7.1 Sender refused"}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test", "MAIL FROM:<x@blocked.test>", "MAIL FROM:<x@fine.test>")
			rc.reply()
			wantPrefix(t, rc.reply(), "553 5.7.1 Sender refused")
			wantPrefix(t, rc.reply(), "250")
		}},
		{faults.Rule{Stage: faults.Data, Reply: "451 4.3.0 Try later"}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")
			rc.reply()
			rc.reply()
			rc.reply()
			wantPrefix(t, rc.reply(), "354")
			rc.send("Subject: x", "", "body", ".")
			wantPrefix(t, rc.reply(), "451 4.3.0 Try later")
		}},
		{faults.Rule{Stage: faults.Data, Drop: true}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")
			for range 3 {
				rc.reply()
			}
			wantPrefix(t, rc.reply(), "354")
			rc.send("Subject: x", "", "body") // no end marker: dropped mid-message
			rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := rc.r.ReadString('\n')
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("connection not dropped in DATA; got %q, %v", line, err)
			}
		}},
		{faults.Rule{Stage: faults.Rset, Drop: true}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test")
			rc.reply()
			rc.send("MAIL FROM:<a@example.test>", "RSET", "NOOP")
			wantPrefix(t, rc.reply(), "250") // MAIL; the RSET is dropped before its reply
			rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if line, err := rc.r.ReadString('\n'); err == nil {
				t.Fatalf("RSET answered %q, want a dropped connection", line)
			}
		}},
		{faults.Rule{Stage: faults.Quit, Delay: faults.Duration(20 * time.Millisecond)}, func(t *testing.T, rc *rawConn) {
			rc.send("EHLO client.test")
			rc.reply()
			rc.send("QUIT")
			wantPrefix(t, rc.reply(), "221")
			rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if line, err := rc.r.ReadString('\n'); err != io.EOF {
				t.Fatalf("after 221: %q, %v; want the connection closed", line, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.rule.Stage)+" "+tt.rule.Reply, func(t *testing.T) {
			t.Parallel()
			s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.Faults = []faults.Rule{tt.rule} }))
			rc := rawDial(t, s.Addr(2525))
			if tt.rule.Stage != faults.Connect {
				wantPrefix(t, rc.reply(), "220")
			}
			tt.run(t, rc)
			if got := s.Store.Stats().Total; got != 0 {
				t.Fatalf("a faulted session stored %d messages", got)
			}
			tr := waitSessionEnd(t, s, rc)
			if len(tr.Faults) != 1 || !strings.Contains(tr.Faults[0], string(tt.rule.Stage)) {
				t.Fatalf("transcript faults %v:\n%s", tr.Faults, dump(tr))
			}
		})
	}
}

// endedSession returns transcript id once its connection has ended,
// waiting on the store's session-end event.
func endedSession(t *testing.T, s *sinktest.Sink, id string) *client.Transcript {
	t.Helper()
	sub := s.Store.Subscribe(64)
	defer sub.Close()
	if tr, err := s.Store.Sessions().Get(id); err == nil && !tr.Active {
		return asWire(tr)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatal("subscription dropped")
			}
			if e.Type == storage.EventSessionEnd && e.Transcript.ID == id {
				return asWire(e.Transcript)
			}
		case <-timeout:
			t.Fatalf("session %s did not end", id)
		}
	}
}

// waitSessionEnd closes the client and returns the connection's finished
// transcript (the test's only session), waiting on the store's event.
func waitSessionEnd(t *testing.T, s *sinktest.Sink, rc *rawConn) *client.Transcript {
	t.Helper()
	list := s.Store.Sessions().List(nil)
	if len(list) != 1 {
		t.Fatalf("%d sessions, want the test's one", len(list))
	}
	rc.c.Close()
	return endedSession(t, s, list[0].ID)
}

// asWire is the transcript as the API answers it.
func asWire(tr *storage.Transcript) *client.Transcript { return api.TranscriptOf(tr, true) }

func TestPipelinedFaultRepliesStayInOrder(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.Faults = []faults.Rule{
			{Stage: faults.Rcpt, Recipient: "*@bounce.test", Reply: "550 5.1.1 User unknown"},
			{Stage: faults.Mail, Sender: "*@later.test", Reply: "451 4.3.0 Sender deferred"},
		}
	}))
	rc := rawDial(t, s.Addr(25))
	wantPrefix(t, rc.reply(), "220")
	rc.send("EHLO client.test")
	rc.reply()
	// One write, as a PIPELINING client sends it.
	rc.send("MAIL FROM:<a@example.test>", "RCPT TO:<x@bounce.test>", "RCPT TO:<y@example.test>", "RSET", "MAIL FROM:<b@later.test>", "NOOP", "MAIL FROM:<a@example.test>", "RCPT TO:<y@example.test>", "DATA")
	for i, want := range []string{"250", "550 5.1.1", "250", "250", "451 4.3.0 Sender deferred", "250", "250", "250", "354"} {
		if got := rc.reply(); !strings.HasPrefix(got, want) {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
	}
	rc.send("Subject: pipelined", "", "..dot", ".")
	wantPrefix(t, rc.reply(), "250")
	m := onlyMessage(t, s)
	if m.Raw() != "Subject: pipelined\r\n\r\n.dot\r\n" || strings.Join(m.Envelope.To, ",") != "y@example.test" {
		t.Fatalf("captured %q to %v", m.Raw(), m.Envelope.To)
	}
	// The wire matched each reply to its command: the content was seen as
	// content, not as commands.
	tr := waitSessionEnd(t, s, rc)
	if hasLine(tr, "C", "Subject: pipelined") || !hasLine(tr, "C", "[message content, 29 bytes]") {
		t.Fatalf("transcript:\n%s", dump(tr))
	}
}

func TestPipelinedTransactionWithinCommandLimit(t *testing.T) {
	t.Parallel()
	// One pipelined group of MAIL, 3 RCPT and DATA, then a message whose
	// body lines look like commands: none of them may count as commands.
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxCommands = 8 }))
	rc := rawDial(t, s.Addr(25))
	wantPrefix(t, rc.reply(), "220")
	rc.send("EHLO client.test", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "RCPT TO:<c@example.test>", "RCPT TO:<d@example.test>", "DATA")
	for _, want := range []string{"250", "250", "250", "250", "250", "354"} {
		wantPrefix(t, rc.reply(), want)
	}
	body := []string{"Subject: commands in the body"}
	for range 20 {
		body = append(body, "RSET", "QUIT", "NOOP")
	}
	rc.send(append(body, ".")...)
	wantPrefix(t, rc.reply(), "250")
	rc.send("QUIT")
	wantPrefix(t, rc.reply(), "221")
	if m := onlyMessage(t, s); !strings.Contains(m.Raw(), "QUIT\r\nNOOP") {
		t.Fatalf("captured %q", m.Raw())
	}
}

func TestTranscripts(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()

	// 587 without STARTTLS: the 530 the client got is visible.
	rc := rawDial(t, s.Addr(587))
	rc.reply()
	rc.send("EHLO app.test", "MAIL FROM:<a@example.test>")
	rc.reply()
	wantPrefix(t, rc.reply(), "530 5.7.0")
	tr := waitSessionEnd(t, s, rc)
	if !hasLine(tr, "S", "530 5.7.0 Must issue a STARTTLS command first") || tr.Helo != "app.test" || tr.Port == 0 {
		t.Fatalf("transcript:\n%s%+v", dump(tr), tr)
	}
	// The server marks the error line; a summary has the verdict, no lines.
	for _, l := range tr.Lines {
		if want := strings.HasPrefix(l.Text, "530 "); l.Error != want {
			t.Errorf("line %s %q: Error %v, want %v", l.Dir, l.Text, l.Error, want)
		}
	}
	sum, err := s.Client.Sessions(ctx, client.SessionFilter{Port: tr.Port, Errors: true, NoLines: true})
	if err != nil || len(sum.Sessions) != 1 {
		t.Fatalf("error sessions on 587 without lines: %+v, %v", sum, err)
	}
	if got := sum.Sessions[0]; got.ID != tr.ID || got.Lines != nil || got.LineCount != len(tr.Lines) || got.ErrorCount != 1 || got.Reason != "530 5.7.0 Must issue a STARTTLS command first" || got.Explained {
		t.Errorf("summary %+v, want the session's verdict and %d lines counted", got, len(tr.Lines))
	}

	// STARTTLS + AUTH + DATA: secrets masked, content elided, linked both ways.
	c := dial(t, s.Addr(587), tlsConfig(s), false)
	if err := c.Auth(sasl.NewPlainClient("", "secretuser", "hunter2")); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(testMsg, "Hi there.", "TOPSECRETBODY", 1)
	if err := send(c, "a@example.test", []string{"b@example.test"}, body); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	m, err := s.Store.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Client.Sessions(ctx, client.SessionFilter{Message: m.ID})
	if err != nil || len(list.Sessions) != 1 {
		t.Fatalf("sessions for message: %+v, %v", list, err)
	}
	tr, err = s.Client.Session(ctx, m.Delivery().SessionID)
	if err != nil || tr.ID != list.Sessions[0].ID || len(tr.MessageIDs) != 1 || tr.MessageIDs[0] != m.ID {
		t.Fatalf("session %s: %+v, %v", m.Delivery().SessionID, tr, err)
	}
	text := dump(tr)
	for _, secret := range []string{"hunter2", "TOPSECRETBODY", "AHNlY3JldHVzZXIAaHVudGVyMg"} {
		if strings.Contains(text, secret) {
			t.Fatalf("transcript leaks %q:\n%s", secret, text)
		}
	}
	for _, want := range []string{"C: STARTTLS", "S: 220", "TLS established", "AUTH PLAIN ****", "MAIL FROM:<a@example.test>", "captured as message " + m.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
	if !tr.TLS || tr.AuthUser != "secretuser" {
		t.Errorf("facts %+v", tr)
	}

	// Implicit TLS: the whole conversation is visible in plaintext.
	c = dial(t, s.Addr(465), tlsConfig(s), true)
	c.Auth(sasl.NewLoginClient("u", "pw"))
	if err := send(c, "a@example.test", []string{"c@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	m, _ = s.Store.Latest(nil)
	tr = endedSession(t, s, m.Delivery().SessionID)
	text = dump(tr)
	for _, want := range []string{"C: EHLO client.test", "C: AUTH LOGIN", "C: ****", "S: 235", "C: DATA", "S: 354", "[message content, ", "S: 250 2.0.0 OK: queued", "C: QUIT", "S: 221"} {
		if !strings.Contains(text, want) {
			t.Errorf("implicit TLS transcript lacks %q:\n%s", want, text)
		}
	}
}

func TestChaosMailpitShape(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	req := `{"Recipient":{"ErrorCode":451,"Probability":100}}`
	resp := httpDo(t, "PUT", s.URL+"/api/v1/chaos", req)
	if !strings.Contains(resp, `"Recipient":{"ErrorCode":451,"Probability":100}`) || !strings.Contains(resp, `"Sender":{"ErrorCode":451,"Probability":0}`) {
		t.Fatalf("PUT chaos answered %s", resp)
	}
	c := dial(t, s.Addr(25), nil, false)
	c.Mail("a@example.test", nil)
	err := c.Rcpt("b@example.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.Message != "Chaos recipient error" {
		t.Fatalf("RCPT with 100%% chaos: %v", err)
	}
	httpDo(t, "PUT", s.URL+"/api/v1/chaos", `{}`) // resets every trigger
	if rules, _ := s.Client.Faults(context.Background()); len(rules) != 0 {
		t.Fatalf("rules after reset: %+v", rules)
	}
}

// httpDo sends a request with a JSON body and returns the answer's body.
func httpDo(t *testing.T, method, url, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	return string(data)
}

func TestSlowLorisInDataIsCutOff(t *testing.T) {
	t.Parallel()
	// A client that dribbles its message a byte at a time cannot hold the
	// connection longer than the SMTP timeout.
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.SMTPTimeout = 500 * time.Millisecond }))
	rc := rawDial(t, s.Addr(25))
	wantPrefix(t, rc.reply(), "220")
	rc.send("EHLO client.test", "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")
	for _, want := range []string{"250", "250", "250", "354"} {
		wantPrefix(t, rc.reply(), want)
	}
	start := time.Now()
	var err error
	for i := 0; i < 100 && err == nil; i++ { // at most 10 s
		_, err = rc.c.Write([]byte("x"))
		time.Sleep(100 * time.Millisecond) // the client's dribble is what is tested, not a stand-in for an event
	}
	if err == nil {
		t.Fatal("a slow DATA kept the connection open for 10 s")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cut off only after %s", d)
	}
	if got := s.Store.Stats().Total; got != 0 {
		t.Fatalf("stored %d messages from a cut-off DATA", got)
	}
}
