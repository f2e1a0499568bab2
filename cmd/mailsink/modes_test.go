package main

// The other ways the binary is run: as sendmail (through a link of that
// name, or `mailsink sendmail`) by PHP's mail() and mail(1), as
// `mailsink readyz` by Compose files written for Mailpit, and the log line
// that names the inbox.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

// TestMain lets the test binary be the program: linked as "sendmail" or
// "mailsink", it runs main, so PHP and mail(1) exercise the very wiring the
// real binary has.
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "sendmail", "mailsink":
		main() // exits
	}
	os.Exit(m.Run())
}

// linkedBinary returns a directory holding links named sendmail and
// mailsink to the test binary.
func linkedBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"sendmail", "mailsink"} {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tool returns the path of an external program, or skips the test without
// it (fails it under CI=true, where .ci/run installs it).
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not on PATH (apt-get install %s)", name, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// runTool runs a program with extra environment and stdin, and fails the
// test if it does not exit 0.
func runTool(t *testing.T, env []string, stdin string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	if len(out) > 0 {
		t.Logf("%s: %s", filepath.Base(name), out)
	}
}

// captured waits for the one message to rcpt and returns it.
func captured(t *testing.T, s *sinktest.Sink, rcpt string) *storage.Message {
	t.Helper()
	res, err := s.Client.Wait(t.Context(), "to:"+rcpt, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("%d messages to %s, want 1", len(res.Messages), rcpt)
	}
	m, err := s.Store.Get(res.Messages[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkMessage holds a captured message to what a sendmail delivers: the
// envelope, the fields it adds, no Bcc, and the body.
func checkMessage(t *testing.T, m *storage.Message, from string, rcpts []string, headers map[string]string, body string) {
	t.Helper()
	h := storage.ReadHeader(m.Raw())
	if m.Envelope.From != from || strings.Join(m.Envelope.To, ",") != strings.Join(rcpts, ",") {
		t.Errorf("envelope %q -> %q, want %q -> %q", m.Envelope.From, m.Envelope.To, from, rcpts)
	}
	for _, k := range []string{"Date", "Message-Id"} {
		if h.Get(k) == "" {
			t.Errorf("no %s header added:\n%s", k, m.Raw())
		}
	}
	if h.Get("Bcc") != "" {
		t.Errorf("Bcc header delivered:\n%s", m.Raw())
	}
	for k, v := range headers {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if _, got, _ := strings.Cut(m.Raw(), "\r\n\r\n"); got != body {
		t.Errorf("body %q, want %q", got, body)
	}
}

// TestSendmailForPHPAndMailx runs PHP's mail() and bsd-mailx's mail(1)
// with this binary as their sendmail, against a running sink.
func TestSendmailForPHPAndMailx(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	dir := linkedBinary(t)
	env := []string{"MAILSINK_SENDMAIL_SMTP_ADDR=" + s.Addr(1025)}
	sender := loginName() + "@"

	t.Run("php mail() with sendmail_path=\"mailsink sendmail\"", func(t *testing.T) {
		php := tool(t, "php", "php-cli")
		// PHP runs sendmail_path as given, here without -t: recipients come
		// from the header PHP writes, as with Mailpit's sendmail.
		runTool(t, env, "", php, "-d", "sendmail_path="+filepath.Join(dir, "mailsink")+" sendmail", "-r",
			`exit(mail("php1@example.test, Bee <php2@example.test>", "Grüße from PHP", "line one\nline two", "From: App <app@example.test>\r\nBcc: php-hidden@example.test") ? 0 : 1);`)
		m := captured(t, s, "php1@example.test")
		if !strings.HasPrefix(m.Envelope.From, sender) {
			t.Errorf("envelope sender %q, want %s...", m.Envelope.From, sender)
		}
		checkMessage(t, m, m.Envelope.From, []string{"php1@example.test", "php2@example.test", "php-hidden@example.test"},
			map[string]string{"From": "App <app@example.test>", "To": "php1@example.test, Bee <php2@example.test>"},
			"line one\r\nline two\r\n")
		if m.Summary().Subject != "Grüße from PHP" {
			t.Errorf("subject %q", m.Summary().Subject)
		}
	})

	t.Run("php mail() with a link named sendmail, -t -i and -f", func(t *testing.T) {
		php := tool(t, "php", "php-cli")
		runTool(t, env, "", php, "-d", "sendmail_path="+filepath.Join(dir, "sendmail")+" -t -i", "-r",
			`exit(mail("php3@example.test", "Dots", "first\n.\nafter a lone dot", "Cc: php4@example.test", "-fbounce@app.example.test") ? 0 : 1);`)
		m := captured(t, s, "php3@example.test")
		checkMessage(t, m, "bounce@app.example.test", []string{"php3@example.test", "php4@example.test"},
			map[string]string{"Subject": "Dots", "From": "<bounce@app.example.test>"},
			"first\r\n.\r\nafter a lone dot\r\n")
	})

	t.Run("mail(1) from bsd-mailx", func(t *testing.T) {
		mailx := tool(t, "bsd-mailx", "bsd-mailx")
		home := t.TempDir()
		rc := filepath.Join(home, "mailrc")
		if err := os.WriteFile(rc, []byte("set sendmail="+filepath.Join(dir, "sendmail")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		runTool(t, append(env, "MAILRC="+rc, "HOME="+home), "hello from mail(1)\n", mailx,
			"-s", "Subject from mailx é", "-c", "mailx-cc@example.test", "mailx@example.test")
		m := captured(t, s, "mailx@example.test")
		if !strings.HasPrefix(m.Envelope.From, sender) {
			t.Errorf("envelope sender %q, want %s...", m.Envelope.From, sender)
		}
		checkMessage(t, m, m.Envelope.From, []string{"mailx@example.test", "mailx-cc@example.test"},
			map[string]string{"To": "mailx@example.test", "Cc": "mailx-cc@example.test", "From": "<" + m.Envelope.From + ">"},
			"hello from mail(1)\r\n")
		if m.Summary().Subject != "Subject from mailx é" {
			t.Errorf("subject %q", m.Summary().Subject)
		}
	})

	t.Run("exit status when the sink is not there", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.CommandContext(t.Context(), filepath.Join(dir, "sendmail"), "--smtp-addr", addr, "u@example.test")
		cmd.Stdin = strings.NewReader("Subject: x\n\nx\n")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 75 || !strings.Contains(string(out), "cannot reach mailsink") {
			t.Errorf("err %v, output %q: want exit 75 (EX_TEMPFAIL)", err, out)
		}
	})
}

// TestReadyzIsHealthcheck: `mailsink readyz`, as Mailpit's image is
// checked, asks the running sink like `mailsink healthcheck`.
func TestReadyzIsHealthcheck(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	up := func(k string) string {
		if k == "MAILSINK_HTTP_PORT" {
			return port
		}
		return ""
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	down := func(k string) string {
		if k == "MAILSINK_HTTP_PORT" {
			return closed
		}
		return ""
	}
	for _, sub := range []string{"readyz", "healthcheck"} {
		var stderr syncBuffer
		if code := run(context.Background(), []string{sub}, up, &stderr, &stderr); code != 0 {
			t.Errorf("%s against a running sink: exit %d, %s", sub, code, stderr.String())
		}
		if code := run(context.Background(), []string{sub}, down, &stderr, &stderr); code != 1 {
			t.Errorf("%s with nothing listening: exit %d, want 1", sub, code)
		}
	}
}

// TestStartupLogNamesTheInbox: the log, which docker logs and CI keep when
// the banner scrolls away, says where the inbox is.
func TestStartupLogNamesTheInbox(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--http", "0", "--smtp", "none"}, noEnv, &stdout, &stderr) }()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stderr.String(), "web inbox and API") {
		select {
		case code := <-done:
			t.Fatalf("exited %d early: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("no log line: %q", stderr.String())
		case <-stderr.Written():
		}
	}
	line := stderr.String()
	_, url, _ := strings.Cut(line, "url=")
	url, _, _ = strings.Cut(url, "\n")
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.Contains(stdout.String(), "Web inbox and API: "+url) {
		t.Errorf("log %q, banner %q: want the banner's URL in the log", line, stdout.String())
	}
	cancel()
	<-done
}
