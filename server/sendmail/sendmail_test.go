package sendmail_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sendmail"
	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

var when = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// env is what a process would give sendmail mode, with addr in the
// variable MAILSINK_SENDMAIL_SMTP_ADDR and stdin as the message.
func env(addr, stdin string, stdout, stderr *bytes.Buffer) sendmail.Env {
	vars := map[string]string{sendmail.EnvAddr: addr}
	return sendmail.Env{
		Name: "sendmail", Getenv: func(k string) string { return vars[k] },
		Stdin: strings.NewReader(stdin), Stdout: stdout, Stderr: stderr,
		Hostname: "box.example.test", User: "www-data", Now: func() time.Time { return when },
	}
}

// header returns the first value of key in the stored message's header.
func header(m *storage.Message, key string) string {
	return storage.ReadHeader(m.Raw()).Get(key)
}

// TestSendmailCallers feeds sendmail mode what its usual callers write,
// with their flags, and checks what the sink captured: envelope, header
// fields added or removed, and the body as given.
func TestSendmailCallers(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		from     string   // envelope sender
		rcpts    []string // envelope recipients
		body     string   // after the header, CRLF line ends
		headers  map[string]string
		noHeader []string
	}{
		{
			name:  "PHP mail() with a bare sendmail_path: recipients from the header",
			stdin: "To: a@example.test, B <b@example.test>\r\nSubject: Hi\r\nFrom: app@example.test\r\nBcc: hidden@example.test\r\n\r\nline1\nline2\r\n",
			from:  "www-data@box.example.test", rcpts: []string{"a@example.test", "b@example.test", "hidden@example.test"},
			body:    "line1\r\nline2\r\n",
			headers: map[string]string{"From": "app@example.test", "Subject": "Hi"}, noHeader: []string{"Bcc"},
		},
		{
			name: "PHP mail() through -t -i with -f", args: []string{"-t", "-i", "-f", "bounce@app.example.test"},
			stdin: "To: a@example.test\nCc: c@example.test\nBcc: x@example.test, y@example.test\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\n\n.\nnot the end\n",
			from:  "bounce@app.example.test", rcpts: []string{"a@example.test", "c@example.test", "x@example.test", "y@example.test"},
			body:    ".\r\nnot the end\r\n",
			headers: map[string]string{"From": "<bounce@app.example.test>"}, noHeader: []string{"Bcc"},
		},
		{
			name: "mail(1): -i -t, no From", args: []string{"-i", "-t"},
			stdin: "To: to@example.test\nSubject: Subj \xc3\xa9\nCc: cc@example.test\nMIME-Version: 1.0\nContent-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: 8bit\n\nhello body \xc3\xa9\n",
			from:  "www-data@box.example.test", rcpts: []string{"to@example.test", "cc@example.test"},
			body:    "hello body \xc3\xa9\r\n",
			headers: map[string]string{"From": "<www-data@box.example.test>", "Subject": "Subj \xc3\xa9"},
		},
		{
			name: "cron: a local recipient, -F, ignored flags", args: []string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"},
			stdin: "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@box> date\n\nTue May  5 10:00:01 UTC 2026\n",
			from:  "www-data@box.example.test", rcpts: []string{"root@box.example.test"},
			body:    "Tue May  5 10:00:01 UTC 2026\r\n",
			headers: map[string]string{"From": "root (Cron Daemon)", "To": "root"},
		},
		{
			name: "-f and -F name the added From", args: []string{"-fapp@example.test", "-F", "The App", "-oi", "--", "u@example.test"},
			stdin: "Subject: s\n\nbody\n",
			from:  "app@example.test", rcpts: []string{"u@example.test"}, body: "body\r\n",
			headers: map[string]string{"From": `"The App" <app@example.test>`},
		},
		{
			name: "a lone dot ends the input without -i", args: []string{"u@example.test"},
			stdin: "Subject: dots\n\nfirst\n..stuffed stays\n.\nafter the dot\n",
			from:  "www-data@box.example.test", rcpts: []string{"u@example.test"}, body: "first\r\n..stuffed stays\r\n",
		},
		{
			name: "no header at all: all body", args: []string{"u@example.test, v@example.test"},
			stdin: "just text, no header\nsecond line\n",
			from:  "www-data@box.example.test", rcpts: []string{"u@example.test", "v@example.test"}, body: "just text, no header\r\nsecond line\r\n",
			headers: map[string]string{"From": "<www-data@box.example.test>"},
		},
		{
			name: "-t adds header recipients to the arguments; a null sender", args: []string{"-t", "-f", "<>", "arg@example.test"},
			stdin: "To: hdr@example.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <kept@example.test>\n\nx\n",
			from:  "", rcpts: []string{"arg@example.test", "hdr@example.test"}, body: "x\r\n",
			headers: map[string]string{"Date": "Mon, 1 Jan 2024 00:00:00 +0000", "Message-Id": "<kept@example.test>"},
		},
		{
			name: "Mailpit's long flags; an internationalised address", args: []string{"--from=app@example.test", "--smtp-addr", s.Addr(1025), "jörg@bücher.example.test"},
			stdin: "Subject: utf8\n\nx\n",
			from:  "app@example.test", rcpts: []string{"jörg@bücher.example.test"}, body: "x\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			before := s.Store.Stats().Accepted
			code := sendmail.Run(context.Background(), tt.args, env(s.Addr(1025), tt.stdin, &stdout, &stderr))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if n := s.Store.Stats().Accepted; n != before+1 {
				t.Fatalf("%d messages accepted, want 1", n-before)
			}
			m, err := s.Store.Latest(nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Envelope.From != tt.from || strings.Join(m.Envelope.To, ",") != strings.Join(tt.rcpts, ",") {
				t.Errorf("envelope %q -> %q, want %q -> %q", m.Envelope.From, m.Envelope.To, tt.from, tt.rcpts)
			}
			_, body, _ := strings.Cut(m.Raw(), "\r\n\r\n") // without a header in the input: after the added fields
			if body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			for _, k := range []string{"Date", "Message-Id", "From"} {
				if header(m, k) == "" {
					t.Errorf("no %s header:\n%s", k, m.Raw())
				}
			}
			if _, ok := tt.headers["Message-Id"]; !ok && !strings.HasSuffix(header(m, "Message-Id"), "@box.example.test>") {
				t.Errorf("Message-Id %q, want one at the host name", header(m, "Message-Id"))
			}
			if _, ok := tt.headers["Date"]; !ok && header(m, "Date") != "Wed, 06 May 2026 07:08:09 +0000" {
				t.Errorf("Date %q, want the time of sending", header(m, "Date"))
			}
			for k, v := range tt.headers {
				if got := header(m, k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.noHeader {
				if header(m, k) != "" {
					t.Errorf("%s header kept:\n%s", k, m.Raw())
				}
			}
			if d := m.Delivery(); d.Helo != "box.example.test" || d.Port == 0 {
				t.Errorf("delivery %+v: want EHLO with the host name", d)
			}
		})
	}
}

// TestSendmailFailures checks the exit statuses, sendmail's, and that
// nothing is stored for a refused message.
func TestSendmailFailures(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	if _, err := s.Client.AddFaults(ctx,
		client.Rule{Stage: "rcpt", Recipient: "*@bounce.test", Reply: "550 5.1.1 No such user"},
		client.Rule{Stage: "rcpt", Recipient: "*@later.test", Reply: "451 4.3.0 Try later"},
		client.Rule{Stage: "data", Sender: "spam@example.test", Reply: "554 5.7.1 Rejected"},
	); err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name  string
		args  []string
		addr  string
		stdin string
		code  int
		want  string // in stderr, or stdout for a 0
	}{
		{"no recipients", nil, "", "Subject: x\n\nx\n", 64, "no recipients"},
		{"unknown long option", []string{"--bogus", "u@example.test"}, "", "x\n", 64, "unknown option --bogus"},
		{"missing value", []string{"u@example.test", "-f"}, "", "x\n", 64, "-f needs a value"},
		{"mode not supported", []string{"-bp"}, "", "", 64, "-bp is not supported"},
		{"bad recipient", []string{"a@b@c"}, "", "x\n", 64, `recipient "a@b@c"`},
		{"bad sender", []string{"-f", "a@b@c", "u@example.test"}, "", "x\n", 64, `sender "a@b@c"`},
		{"malformed header", []string{"-t"}, "", "To: u@example.test\nno colon here\n\nx\n", 65, "header"},
		{"bad To header", []string{"-t"}, "", "To: a@b@c\n\nx\n", 65, "To header"},
		{"recipient refused", []string{"u@bounce.test"}, "", "x\n", 67, "550 5.1.1"},
		{"recipient deferred", []string{"u@later.test"}, "", "x\n", 75, "451 4.3.0"},
		{"message refused", []string{"-f", "spam@example.test", "u@example.test"}, "", "x\n", 69, "554 5.7.1"},
		{"sink not running", []string{"u@example.test"}, nowhere, "x\n", 75, "cannot reach mailsink"},
		{"queue run: nothing queued", []string{"-q"}, "", "", 0, ""},
		{"help", []string{"--help"}, "", "", 0, "Usage: sendmail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr
			if addr == "" {
				addr = s.Addr(1025)
			}
			var stdout, stderr bytes.Buffer
			before := s.Store.Stats().Total
			code := sendmail.Run(ctx, tt.args, env(addr, tt.stdin, &stdout, &stderr))
			out := stderr.String()
			if tt.code == 0 {
				out = stdout.String()
			}
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out, tt.code, tt.want)
			}
			if n := s.Store.Stats().Total; n != before {
				t.Errorf("a refused message was stored")
			}
		})
	}
}

// TestSendmailSMTPSession is -bs: go-smtp's client on one end of the
// process's standard input and output, the sink's go-smtp server on the
// other, and sendmail mode passing bytes between them.
func TestSendmailSMTPSession(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	mine, theirs := net.Pipe()
	defer mine.Close()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	e := env(s.Addr(1025), "", nil, &stderr)
	e.Stdin, e.Stdout = theirs, theirs
	go func() { done <- sendmail.Run(context.Background(), []string{"-bs"}, e) }()

	c := smtp.NewClient(mine)
	if err := c.SendMail("app@example.test", []string{"u@example.test"}, strings.NewReader("Subject: via -bs\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sendmail -bs did not end after QUIT")
	}
	m, err := s.Store.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Raw() != "Subject: via -bs\r\n\r\nhello\r\n" || m.Envelope.From != "app@example.test" {
		t.Errorf("stored %q from %q: -bs passes the session through unchanged", m.Raw(), m.Envelope.From)
	}
}
