package server_test

// SMTP fidelity checked with independent clients: swaks (Perl, Net::SSLeay)
// and Python's smtplib run as separate processes against an in-process
// sink, and raw line-level conversations push the limits. What they sent is
// then read back through the API, byte for byte, with its envelope and
// delivery facts.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

// clientsDir holds the Python client scripts.
const clientsDir = "../testdata/clients"

// extTimeout bounds every external client run.
const extTimeout = 30 * time.Second

// extTool returns the path of an external client, or skips the test when it
// is missing. In CI (CI=true) a missing client is a failure instead.
func extTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not on PATH (%s): the %s client tests need it", name, install, name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// extRun is one finished run of an external client.
type extRun struct {
	stdout, stderr string
	exit           int // exit status; -1 if it did not exit normally
}

// runExt runs an external client with a timeout. Its output is logged if
// the test fails; a run that cannot start or times out fails the test. A
// non-zero exit status is returned for the caller to judge.
func runExt(t *testing.T, bin string, args ...string) extRun {
	t.Helper()
	return runExtEnv(t, nil, bin, args...)
}

// runExtEnv is runExt with variables added to the environment (t.Setenv
// would rule out t.Parallel).
func runExtEnv(t *testing.T, env []string, bin string, args ...string) extRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), extTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second // a child holding the pipes must not hang the test
	err := cmd.Run()
	r := extRun{stdout: stdout.String(), stderr: stderr.String()}
	name := strings.TrimSpace(strings.Join(env, " ") + " " + filepath.Base(bin) + " " + strings.Join(args, " "))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("$ %s\n--- stdout:\n%s--- stderr:\n%s--- exit %d", name, r.stdout, r.stderr, r.exit)
		}
	})
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.exit = -1
		t.Fatalf("%s: timed out after %v", name, extTimeout)
	case errors.As(err, &exitErr):
		r.exit = exitErr.ExitCode()
	case err != nil:
		r.exit = -1
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// writeFile writes data into the test's temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sinkCertFile fetches the certificate the sink's TLS listeners present
// from the API and writes it to a PEM file for an external client to trust.
func sinkCertFile(t *testing.T, s *sinktest.Sink) string {
	t.Helper()
	pem, err := s.Client.Certificate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "sink.pem", pem)
}

// capturedFor waits (server-side) for the one message addressed to rcpt and
// returns it with its raw bytes.
func capturedFor(t *testing.T, s *sinktest.Sink, rcpt string) (*client.Message, []byte) {
	t.Helper()
	ctx := t.Context()
	list, err := s.Client.Wait(ctx, "to:"+rcpt, 1, 5*time.Second)
	if err != nil {
		t.Fatalf("waiting for mail to %s: %v", rcpt, err)
	}
	if len(list.Messages) != 1 {
		t.Fatalf("%d messages to %s, want 1", len(list.Messages), rcpt)
	}
	id := list.Messages[0].ID
	m, err := s.Client.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Client.Raw(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return m, raw
}

// noneFor asserts nothing was captured for rcpt. Call it after the client
// has had its reply, so the store is final.
func noneFor(t *testing.T, s *sinktest.Sink, rcpt string) {
	t.Helper()
	list, err := s.Client.Search(t.Context(), "to:"+rcpt, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if list.MessagesCount != 0 || len(list.Messages) != 0 {
		t.Fatalf("%d messages captured for %s, want none", list.MessagesCount, rcpt)
	}
}

// deliveryWant is what the API must report about one delivery.
type deliveryWant struct {
	port     int // default role: 25, 587, 465, 2525
	helo     string
	tls      bool
	authMech string
	authUser string
	from     string
	to       []string
}

func checkDelivery(t *testing.T, s *sinktest.Sink, m *client.Message, w deliveryWant) {
	t.Helper()
	if m.Envelope.From != w.from || strings.Join(m.Envelope.To, ",") != strings.Join(w.to, ",") {
		t.Errorf("envelope = %q -> %q, want %q -> %q", m.Envelope.From, m.Envelope.To, w.from, w.to)
	}
	d := m.Delivery
	_, port, _ := net.SplitHostPort(s.Addr(w.port))
	if strconv.Itoa(d.Port) != port || d.Listener != "smtp-"+port {
		t.Errorf("delivery listener %q port %d, want smtp-%s", d.Listener, d.Port, port)
	}
	if d.Helo != w.helo {
		t.Errorf("delivery HELO %q, want %q", d.Helo, w.helo)
	}
	if d.TLS != w.tls || (w.tls && (d.TLSVersion == "" || d.TLSCipher == "")) || (!w.tls && d.TLSVersion != "") {
		t.Errorf("delivery TLS %v %q %q, want TLS %v", d.TLS, d.TLSVersion, d.TLSCipher, w.tls)
	}
	if d.AuthMechanism != w.authMech || d.AuthUser != w.authUser {
		t.Errorf("delivery AUTH %q user %q, want %q %q", d.AuthMechanism, d.AuthUser, w.authMech, w.authUser)
	}
	if !strings.HasPrefix(d.ClientAddr, "127.0.0.1:") {
		t.Errorf("delivery client %q, want loopback", d.ClientAddr)
	}
}

// swaksData is the DATA file swaks sends: CRLF lines, a line starting with
// a dot (swaks must stuff it, mailsink unstuff it), 8-bit UTF-8, and no
// final CRLF, because swaks always ends DATA with CRLF "." CRLF after the
// file, so the message it transmits is the file plus that first CRLF. No
// %TOKEN%s: swaks would replace them.
const swaksData = "From: Swaks <swaks@example.test>\r\n" +
	"To: someone@example.test\r\n" +
	"Subject: fidelity\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"first line\r\n" +
	".starts with a dot\r\n" +
	"..two dots\r\n" +
	"  leading spaces and trailing tab\t\r\n" +
	"ünïcödé\r\n" +
	"last line"

// TestSwaksOnEveryListener sends with swaks through each default listener
// with the TLS and AUTH that port expects, verifying the sink's certificate
// where TLS is used.
func TestSwaksOnEveryListener(t *testing.T) {
	t.Parallel()
	swaks := extTool(t, "swaks", "apt-get install -y swaks")
	s := sinktest.Start(t)
	data := writeFile(t, "swaks.eml", []byte(swaksData))
	ca := sinkCertFile(t, s)
	verify := []string{"--tls-verify", "--tls-ca-path", ca}
	tests := []struct {
		name     string
		port     int
		args     []string
		tls      bool
		authMech string
	}{
		{name: "25 cleartext", port: 25},
		{name: "25 STARTTLS", port: 25, args: append([]string{"--tls"}, verify...), tls: true},
		{name: "587 STARTTLS PLAIN", port: 587, args: append([]string{"--tls", "--auth", "PLAIN"}, verify...), tls: true, authMech: "PLAIN"},
		{name: "465 implicit LOGIN", port: 465, args: append([]string{"--tlsc", "--auth", "LOGIN"}, verify...), tls: true, authMech: "LOGIN"},
		{name: "2525 cleartext PLAIN", port: 2525, args: []string{"--auth", "PLAIN"}, authMech: "PLAIN"},
		{name: "2525 STARTTLS LOGIN", port: 2525, args: append([]string{"--tls", "--auth", "LOGIN"}, verify...), tls: true, authMech: "LOGIN"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcpt := fmt.Sprintf("swaks-%d@example.test", i)
			user := ""
			args := []string{"--server", s.Addr(tt.port), "--helo", "swaks.test", "--timeout", "20",
				"--from", "swaks@example.test", "--to", rcpt, "--data", "@" + data}
			if tt.authMech != "" {
				user = fmt.Sprintf("swaks-user-%d", i)
				args = append(args, "--auth-user", user, "--auth-password", "secret")
			}
			r := runExt(t, swaks, append(args, tt.args...)...)
			if r.exit != 0 {
				t.Fatalf("swaks exit %d, want 0", r.exit)
			}
			if tt.tls && !strings.Contains(r.stdout, "=== TLS started") {
				t.Errorf("swaks did not report TLS")
			}
			m, raw := capturedFor(t, s, rcpt)
			if want := swaksData + "\r\n"; string(raw) != want {
				t.Errorf("raw = %q, want byte-exact %q", raw, want)
			}
			checkDelivery(t, s, m, deliveryWant{port: tt.port, helo: "swaks.test", tls: tt.tls,
				authMech: tt.authMech, authUser: user, from: "swaks@example.test", to: []string{rcpt}})
		})
	}

	t.Run("2525 pipelined to three recipients", func(t *testing.T) {
		t.Parallel()
		to := []string{"swaks-pipe-1@example.test", "swaks-pipe-2@example.test", "swaks-pipe-3@example.test"}
		r := runExt(t, swaks, "--server", s.Addr(2525), "--helo", "swaks.test", "--timeout", "20", "--pipeline",
			"--auth", "PLAIN", "--auth-user", "piper", "--auth-password", "x",
			"--from", "swaks@example.test", "--to", strings.Join(to, ","), "--data", "@"+data)
		if r.exit != 0 {
			t.Fatalf("swaks exit %d, want 0", r.exit)
		}
		// Really pipelined: MAIL, every RCPT and DATA written before the first reply to them.
		_, afterMail, ok := strings.Cut(r.stdout, " -> MAIL FROM:")
		firstReply := strings.Index(afterMail, "\n<")
		if !ok || firstReply < 0 || strings.Count(afterMail[:firstReply], "\n -> RCPT TO:") != 3 ||
			!strings.Contains(afterMail[:firstReply], "\n -> DATA") {
			t.Errorf("swaks did not pipeline MAIL/RCPT/DATA")
		}
		m, raw := capturedFor(t, s, to[1])
		if want := swaksData + "\r\n"; string(raw) != want {
			t.Errorf("raw = %q, want byte-exact %q", raw, want)
		}
		checkDelivery(t, s, m, deliveryWant{port: 2525, helo: "swaks.test", authMech: "PLAIN", authUser: "piper",
			from: "swaks@example.test", to: to})
	})

	t.Run("587 without STARTTLS gets 530", func(t *testing.T) {
		t.Parallel()
		rcpt := "swaks-587-clear@example.test"
		r := runExt(t, swaks, "--server", s.Addr(587), "--timeout", "20",
			"--from", "swaks@example.test", "--to", rcpt, "--data", "@"+data)
		if r.exit == 0 || !strings.Contains(r.stdout+r.stderr, "<** 530 5.7.0") {
			t.Fatalf("swaks exit %d, want a failure with 530 5.7.0", r.exit)
		}
		noneFor(t, s, rcpt)
	})

	t.Run("25 does not offer AUTH", func(t *testing.T) {
		t.Parallel()
		rcpt := "swaks-25-auth@example.test"
		r := runExt(t, swaks, "--server", s.Addr(25), "--timeout", "20", "--auth", "PLAIN",
			"--auth-user", "u", "--auth-password", "p",
			"--from", "swaks@example.test", "--to", rcpt, "--data", "@"+data)
		out := r.stdout + r.stderr
		if r.exit == 0 || !strings.Contains(out, "Host did not advertise authentication") || strings.Contains(out, "250-AUTH") {
			t.Fatalf("swaks exit %d, want it to find no AUTH advertised", r.exit)
		}
		noneFor(t, s, rcpt)
	})

	t.Run("verification fails without trusting the sink", func(t *testing.T) {
		t.Parallel()
		// The verified runs above prove something only if swaks does verify.
		rcpt := "swaks-untrusted@example.test"
		r := runExt(t, swaks, "--server", s.Addr(465), "--timeout", "20", "--tlsc", "--tls-verify",
			"--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p",
			"--from", "swaks@example.test", "--to", rcpt, "--data", "@"+data)
		if r.exit == 0 || !strings.Contains(r.stdout+r.stderr, "certificate verify failed") {
			t.Fatalf("swaks exit %d, want certificate verification to fail", r.exit)
		}
		noneFor(t, s, rcpt)
	})
}

// pyResult is what testdata/clients/smtplib_send.py prints.
type pyResult struct {
	OK         bool
	Code       int
	Error      string
	Refused    map[string][]any
	TLSVersion string `json:"tls_version"`
}

// TestPythonSmtplib sends with Python's smtplib in every TLS mode, with
// certificate verification on and only the sink's certificate trusted, with
// each AUTH flavour, and with SMTPUTF8 addresses.
func TestPythonSmtplib(t *testing.T) {
	t.Parallel()
	python := extTool(t, "python3", "install Python 3")
	script := filepath.Join(clientsDir, "smtplib_send.py")
	s := sinktest.Start(t)
	ca := sinkCertFile(t, s)
	const body = "From: Py <py@example.test>\r\nTo: someone@example.test\r\nSubject: smtplib\r\n\r\n" +
		"first\r\n.dot first\r\n\r\nafter an empty line\r\n"
	msgFile := writeFile(t, "py.eml", []byte(body))
	tests := []struct {
		name     string
		port     int
		args     []string
		tls      bool
		authMech string
	}{
		{name: "25 plain sendmail", port: 25},
		{name: "25 STARTTLS verified", port: 25, args: []string{"--tls", "starttls", "--cafile", ca}, tls: true},
		{name: "587 STARTTLS login()", port: 587, args: []string{"--tls", "starttls", "--cafile", ca, "--auth", "login"}, tls: true, authMech: "PLAIN"},
		{name: "587 STARTTLS LOGIN", port: 587, args: []string{"--tls", "starttls", "--cafile", ca, "--auth", "LOGIN"}, tls: true, authMech: "LOGIN"},
		{name: "465 SMTP_SSL LOGIN initial response", port: 465, args: []string{"--tls", "implicit", "--cafile", ca, "--auth", "LOGIN-IR"}, tls: true, authMech: "LOGIN"},
		{name: "465 SMTP_SSL PLAIN", port: 465, args: []string{"--tls", "implicit", "--cafile", ca, "--auth", "PLAIN"}, tls: true, authMech: "PLAIN"},
		{name: "2525 cleartext login()", port: 2525, args: []string{"--auth", "login"}, authMech: "PLAIN"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcpt := fmt.Sprintf("py-%d@example.test", i)
			host, port, _ := net.SplitHostPort(s.Addr(tt.port))
			args := []string{script, host, port, "--from", "py@example.test", "--to", rcpt, "--message", msgFile}
			user := ""
			if tt.authMech != "" {
				user = fmt.Sprintf("py-user-%d", i)
				args = append(args, "--user", user, "--password", "pw")
			}
			res := runPy(t, python, append(args, tt.args...)...)
			if !res.OK || len(res.Refused) != 0 {
				t.Fatalf("smtplib: %+v", res)
			}
			if tt.tls && !strings.HasPrefix(res.TLSVersion, "TLSv1.") {
				t.Errorf("smtplib TLS version %q", res.TLSVersion)
			}
			m, raw := capturedFor(t, s, rcpt)
			if string(raw) != body {
				t.Errorf("raw = %q, want byte-exact %q", raw, body)
			}
			checkDelivery(t, s, m, deliveryWant{port: tt.port, helo: "smtplib.test", tls: tt.tls,
				authMech: tt.authMech, authUser: user, from: "py@example.test", to: []string{rcpt}})
		})
	}

	t.Run("SMTPUTF8 addresses", func(t *testing.T) {
		t.Parallel()
		const from, to = "josé@exämple.test", "用户@例子.test"
		utf8Body := "From: José <" + from + ">\r\nTo: " + to + "\r\nSubject: ünïcode\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 你好\r\n"
		host, port, _ := net.SplitHostPort(s.Addr(2525))
		res := runPy(t, python, script, host, port, "--smtputf8", "--from", from, "--to", to, "--to", "plain@example.test",
			"--message", writeFile(t, "utf8.eml", []byte(utf8Body)))
		if !res.OK || len(res.Refused) != 0 {
			t.Fatalf("smtplib: %+v", res)
		}
		m, raw := capturedFor(t, s, "plain@example.test")
		if string(raw) != utf8Body {
			t.Errorf("raw = %q, want byte-exact %q", raw, utf8Body)
		}
		checkDelivery(t, s, m, deliveryWant{port: 2525, helo: "smtplib.test", from: from, to: []string{to, "plain@example.test"}})
		if m.Subject != "ünïcode" || m.From == nil || m.From.Address != from {
			t.Errorf("parsed Subject %q From %+v", m.Subject, m.From)
		}
	})

	t.Run("587 without STARTTLS gets 530", func(t *testing.T) {
		t.Parallel()
		rcpt := "py-587-clear@example.test"
		host, port, _ := net.SplitHostPort(s.Addr(587))
		res := runPy(t, python, script, host, port, "--from", "py@example.test", "--to", rcpt, "--message", msgFile)
		if res.OK || res.Code != 530 || !strings.HasPrefix(res.Error, "5.7.0") {
			t.Fatalf("smtplib: %+v, want 530 5.7.0", res)
		}
		noneFor(t, s, rcpt)
	})

	t.Run("verification fails without trusting the sink", func(t *testing.T) {
		t.Parallel()
		host, port, _ := net.SplitHostPort(s.Addr(465))
		r := runExt(t, python, script, host, port, "--tls", "implicit",
			"--from", "py@example.test", "--to", "py-untrusted@example.test", "--message", msgFile)
		if r.exit == 0 || !strings.Contains(r.stderr, "CERTIFICATE_VERIFY_FAILED") {
			t.Fatalf("python exit %d, want certificate verification to fail", r.exit)
		}
		noneFor(t, s, "py-untrusted@example.test")
	})
}

// runPy runs a Python client that must exit 0 and print one JSON object.
func runPy(t *testing.T, python string, args ...string) pyResult {
	t.Helper()
	r := runExt(t, python, args...)
	if r.exit != 0 {
		t.Fatalf("python exit %d", r.exit)
	}
	var res pyResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("python output is not JSON: %v", err)
	}
	return res
}

// TestPythonBDATPipelined speaks CHUNKING from a raw Python socket: EHLO,
// MAIL, two RCPTs, three BDAT chunks (the last with LAST) and QUIT in one
// send. The chunks carry what DATA would treat specially: a lone dot line,
// lines starting with a dot, command-looking lines, a bare LF, and a chunk
// boundary between CR and LF.
func TestPythonBDATPipelined(t *testing.T) {
	t.Parallel()
	python := extTool(t, "python3", "install Python 3")
	s := sinktest.Start(t)
	body := "From: bdat@example.test\r\nTo: someone@example.test\r\nSubject: chunks\r\n\r\n" +
		"line\r\n.\r\nQUIT\r\nBDAT 5\r\nRSET\r\n..two dots stay two\r\nbare\nLF\r\n\xc3\xa9 8-bit\r\nend\r\n"
	first := strings.Index(body, "\r\n.\r\n") + 1 // ends between CR and LF
	second := 17
	const to1, to2 = "bdat-1@example.test", "bdat-2@example.test"
	host, port, _ := net.SplitHostPort(s.Addr(2525))
	r := runExt(t, python, filepath.Join(clientsDir, "bdat_pipelined.py"), host, port,
		"--from", "bdat@example.test", "--to", to1, "--to", to2,
		"--message", writeFile(t, "bdat.eml", []byte(body)),
		"--chunk", strconv.Itoa(first), "--chunk", strconv.Itoa(second))
	if r.exit != 0 {
		t.Fatalf("python exit %d", r.exit)
	}
	var out struct{ Replies []string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("python output is not JSON: %v", err)
	}
	var codes []string
	chunking := false
	for _, line := range out.Replies {
		if len(line) < 4 || line[3] == ' ' {
			codes = append(codes, line[:min(3, len(line))])
		}
		chunking = chunking || strings.HasPrefix(line, "250-CHUNKING") || line == "250 CHUNKING"
	}
	// greeting, EHLO, MAIL, RCPT, RCPT, BDAT, BDAT, BDAT LAST, QUIT: in order.
	if got, want := strings.Join(codes, " "), "220 250 250 250 250 250 250 250 221"; got != want || !chunking {
		t.Fatalf("replies %q: codes %s, want %s with CHUNKING advertised", out.Replies, got, want)
	}
	m, raw := capturedFor(t, s, to2)
	if string(raw) != body {
		t.Errorf("raw = %q, want byte-exact %q", raw, body)
	}
	checkDelivery(t, s, m, deliveryWant{port: 2525, helo: "bdat.test", from: "bdat@example.test", to: []string{to1, to2}})
	if info, err := s.Client.Info(t.Context()); err != nil || info.Messages != 1 {
		t.Fatalf("info %+v, %v: want exactly one message (no command was read from chunk data)", info, err)
	}
}

// limitConn is a line-level SMTP client for the limit tests.
type limitConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// dialLimit connects and, unless tlsCfg is set for implicit TLS, stays in
// cleartext. Every read and write is bounded by a deadline.
func dialLimit(t *testing.T, addr string, tlsCfg *tls.Config) *limitConn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	var c net.Conn
	var err error
	if tlsCfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsCfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &limitConn{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one reply and returns its last line, or the read error.
func (lc *limitConn) reply() (string, error) {
	lc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := lc.r.ReadString('\n')
		if err != nil {
			return line, err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line, nil
		}
	}
}

// want reads one reply and fails unless it starts with prefix.
func (lc *limitConn) want(prefix string) string {
	lc.t.Helper()
	line, err := lc.reply()
	if err != nil || !strings.HasPrefix(line, prefix) {
		lc.t.Fatalf("reply %q (%v), want %q", line, err, prefix)
	}
	return line
}

func (lc *limitConn) send(lines ...string) {
	lc.t.Helper()
	lc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(lc.c, strings.Join(lines, "\r\n")+"\r\n"); err != nil {
		lc.t.Fatal(err)
	}
}

// cmd sends one command and checks its reply.
func (lc *limitConn) cmd(line, prefix string) string {
	lc.t.Helper()
	lc.send(line)
	return lc.want(prefix)
}

// handshake starts TLS as a client, after the server's 220 to STARTTLS.
func (lc *limitConn) handshake(cfg *tls.Config) {
	lc.t.Helper()
	tc := tls.Client(lc.c, cfg)
	if err := tc.HandshakeContext(lc.t.Context()); err != nil {
		lc.t.Fatal(err)
	}
	lc.c, lc.r = tc, bufio.NewReader(tc)
}

// closed asserts the server closed the connection: EOF with nothing more.
func (lc *limitConn) closed() {
	lc.t.Helper()
	line, err := lc.reply()
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		lc.t.Fatalf("connection still open: read %q, %v", line, err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

func TestLimitsRawClient(t *testing.T) {
	t.Parallel()
	t.Run("MaxRecipients", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxRecipients = 3 }))
		lc := dialLimit(t, s.Addr(25), nil)
		lc.want("220 ")
		lc.cmd("EHLO raw.test", "250 ")
		lc.cmd("MAIL FROM:<a@example.test>", "250 ")
		for i := range 3 {
			lc.cmd(fmt.Sprintf("RCPT TO:<r%d@example.test>", i), "250 ")
		}
		lc.cmd("RCPT TO:<r3@example.test>", "452 4.5.3 ")
		lc.cmd("RCPT TO:<r4@example.test>", "452 4.5.3 ")
		// The transaction goes on with the three accepted.
		lc.cmd("DATA", "354 ")
		lc.send(strings.TrimSuffix(testMsg, "\r\n"), ".")
		lc.want("250 ")
		lc.cmd("QUIT", "221 ")
		m, raw := capturedFor(t, s, "r0@example.test")
		if string(raw) != testMsg || strings.Join(m.Envelope.To, ",") != "r0@example.test,r1@example.test,r2@example.test" {
			t.Fatalf("raw %q envelope %+v", raw, m.Envelope)
		}
	})

	t.Run("MaxLineLength", func(t *testing.T) {
		t.Parallel()
		const limit = 512
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxLineLength = limit }))
		for _, n := range []int{limit + 1, 3 * limit, 10000} { // 10000 is past the wire layer's own buffer
			t.Run(strconv.Itoa(n), func(t *testing.T) {
				t.Parallel()
				lc := dialLimit(t, s.Addr(25), nil)
				lc.want("220 ")
				lc.cmd("EHLO raw.test", "250 ")
				lc.cmd("NOOP "+strings.Repeat("x", limit-10), "250 ") // under the limit
				lc.cmd("NOOP "+strings.Repeat("x", n-len("NOOP ")), "500 ")
				lc.closed()
			})
		}
		t.Run("message line", func(t *testing.T) {
			t.Parallel()
			lc := dialLimit(t, s.Addr(25), nil)
			lc.want("220 ")
			lc.cmd("EHLO raw.test", "250 ")
			lc.cmd("MAIL FROM:<a@example.test>", "250 ")
			lc.cmd("RCPT TO:<long-line@example.test>", "250 ")
			lc.cmd("DATA", "354 ")
			lc.send("Subject: long", "", strings.Repeat("y", 2*limit), ".")
			lc.want("500 ")
			noneFor(t, s, "long-line@example.test")
		})
	})

	t.Run("MaxConnections", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxConnections = 2 }))
		// The greeting proves the server accepted, and counted, each one.
		held := []*limitConn{dialLimit(t, s.Addr(25), nil), dialLimit(t, s.Addr(587), nil)}
		for _, lc := range held {
			lc.want("220 ")
		}
		third := dialLimit(t, s.Addr(2525), nil)
		third.want("421 4.7.0 ")
		third.closed()
		// The limit spans listeners and holds behind implicit TLS too.
		tlsd := dialLimit(t, s.Addr(465), tlsConfig(s))
		tlsd.want("421 4.7.0 ")
		tlsd.closed()
		// A slot frees once a held connection ends: the server releases it
		// before it ends the connection's transcript, so wait for that.
		local := held[0].c.LocalAddr().String()
		list := s.Store.Sessions().List(func(tr *storage.Transcript) bool { return tr.ClientAddr == local })
		if len(list) != 1 {
			t.Fatalf("%d transcripts from %s, want 1", len(list), local)
		}
		held[0].cmd("QUIT", "221 ")
		held[0].closed()
		endedSession(t, s, list[0].ID)
		dialLimit(t, s.Addr(25), nil).want("220 ")
	})

	t.Run("SMTPTimeout", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.SMTPTimeout = 300 * time.Millisecond }))
		for _, after := range []string{"greeting", "EHLO"} {
			t.Run("idle after "+after, func(t *testing.T) {
				t.Parallel()
				lc := dialLimit(t, s.Addr(25), nil)
				lc.want("220 ")
				if after == "EHLO" {
					lc.cmd("EHLO raw.test", "250 ")
				}
				start := time.Now()
				lc.want("421 4.4.2 ")
				if waited := time.Since(start); waited > 4*time.Second {
					t.Errorf("421 after %v, want about 300ms", waited)
				}
				lc.closed()
			})
		}
	})

	t.Run("MaxCommands", func(t *testing.T) {
		t.Parallel()
		// Past the limit the connection is closed before go-smtp answers
		// the next command: the layer under go-smtp may hang up, never
		// answer.
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxCommands = 5 }))
		t.Run("one by one", func(t *testing.T) {
			t.Parallel()
			lc := dialLimit(t, s.Addr(25), nil)
			lc.want("220 ")
			lc.cmd("EHLO raw.test", "250 ")
			lc.cmd("NOOP", "250 ")
			lc.cmd("MAIL FROM:<a@example.test>", "250 ")
			lc.cmd("RCPT TO:<b@example.test>", "250 ")
			lc.cmd("NOOP", "250 ")
			lc.send("NOOP")
			lc.closed()
		})
		t.Run("pipelined", func(t *testing.T) {
			t.Parallel()
			lc := dialLimit(t, s.Addr(2525), nil)
			lc.want("220 ")
			lc.send("EHLO raw.test", "NOOP", "NOOP", "NOOP", "NOOP", "NOOP", "NOOP")
			for range 5 {
				lc.want("250 ")
			}
			lc.closed()
		})
		t.Run("implicit TLS", func(t *testing.T) {
			t.Parallel()
			lc := dialLimit(t, s.Addr(465), tlsConfig(s))
			lc.want("220 ")
			lc.cmd("EHLO raw.test", "250 ")
			lc.cmd("AUTH PLAIN AHUAcA==", "235 ") // RFC 4954: AUTH ends a pipelined group
			lc.send("NOOP", "NOOP", "NOOP", "NOOP")
			for range 3 {
				lc.want("250 ")
			}
			lc.closed()
		})
		t.Run("after STARTTLS", func(t *testing.T) {
			t.Parallel()
			lc := dialLimit(t, s.Addr(25), nil)
			lc.want("220 ")
			lc.cmd("EHLO raw.test", "250 ")
			lc.cmd("STARTTLS", "220 ")
			lc.handshake(tlsConfig(s))
			// Commands inside TLS count too (go-smtp's Debug writer sees
			// them): the third one after the handshake is the 6th.
			lc.cmd("EHLO raw.test", "250 ")
			lc.cmd("MAIL FROM:<a@example.test>", "250 ")
			lc.cmd("RCPT TO:<b@example.test>", "250 ")
			lc.send("RCPT TO:<c@example.test>")
			lc.closed()
		})
		t.Run("a message restarts the count", func(t *testing.T) {
			t.Parallel()
			lc := dialLimit(t, s.Addr(25), nil)
			lc.want("220 ")
			lc.cmd("EHLO raw.test", "250 ")
			for range 3 {
				lc.cmd("RSET", "250 ")
				lc.cmd("MAIL FROM:<a@example.test>", "250 ")
				lc.cmd("RCPT TO:<count@example.test>", "250 ")
				lc.cmd("DATA", "354 ")
				lc.send("Subject: count", "", "x", ".")
				lc.want("250 ")
			}
			lc.cmd("QUIT", "221 ")
		})
	})
}

// go-smtp runs STARTTLS and its Debug writer follows it into TLS, so the
// conversation inside TLS is recorded line by line (go-smtp's own replies
// too), plaintext pipelined after STARTTLS is dropped, and the client must
// say EHLO again.
func TestStartTLSUnderGoSMTP(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	lc := dialLimit(t, s.Addr(2525), nil)
	lc.want("220 ")
	ehlo := func() []string {
		lc.send("EHLO raw.test")
		var lines []string
		for {
			line, err := lc.r.ReadString('\n')
			if err != nil {
				t.Fatalf("EHLO reply: %v", err)
			}
			lines = append(lines, strings.TrimRight(line, "\r\n"))
			if len(line) < 4 || line[3] != '-' {
				return lines
			}
		}
	}
	if lines := ehlo(); !slices.Contains(lines, "250-STARTTLS") || !strings.HasPrefix(lines[0], "250-") {
		t.Fatalf("EHLO before TLS: %q, want STARTTLS offered after the greeting line", lines)
	}
	// An attacker's plaintext after STARTTLS must not run inside TLS.
	lc.send("STARTTLS", "RCPT TO:<injected@example.test>")
	lc.want("220 2.0.0")
	lc.handshake(tlsConfig(s))
	lc.cmd("MAIL FROM:<a@example.test>", "502 5.5.1") // EHLO first, as go-smtp's STARTTLS wants
	if lines := ehlo(); slices.Contains(lines, "250-STARTTLS") || !strings.HasPrefix(lines[len(lines)-1], "250 ") {
		t.Fatalf("EHLO inside TLS: %q", lines)
	}
	lc.cmd("STARTTLS", "502 5.5.1")
	lc.cmd("MAIL FROM:bogus", "501 ") // go-smtp's own syntax error
	lc.cmd("MAIL FROM:<a@example.test>", "250 ")
	lc.cmd("RCPT TO:<inside-tls@example.test>", "250 ")
	lc.cmd("DATA", "354 ")
	lc.send("Subject: inside TLS", "", "..dot", ".")
	lc.want("250 ")
	lc.cmd("QUIT", "221 ")

	m, raw := capturedFor(t, s, "inside-tls@example.test")
	if string(raw) != "Subject: inside TLS\r\n\r\n.dot\r\n" || !m.Delivery.TLS || m.Delivery.TLSVersion == "" {
		t.Fatalf("captured %q, delivery %+v", raw, m.Delivery)
	}
	if strings.Join(m.Envelope.To, ",") != "inside-tls@example.test" {
		t.Fatalf("envelope %+v: the injected RCPT ran", m.Envelope)
	}
	tr := endedSession(t, s, m.Delivery.SessionID)
	text := dump(tr)
	for _, want := range []string{"S: 250-STARTTLS", "TLS established", "C: MAIL FROM:bogus", "S: 501", "S: 502 5.5.1 Already running in TLS", "[message content, ", "S: 221"} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "injected@") {
		t.Errorf("transcript shows the injected command as run:\n%s", text)
	}
}

// After a cleartext AUTH, STARTTLS forgets the login (RFC 3207), as
// go-smtp does: the session inside TLS starts unauthenticated.
func TestStartTLSForgetsACleartextLogin(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	lc := dialLimit(t, s.Addr(2525), nil) // AUTH optional, cleartext allowed
	lc.want("220 ")
	lc.cmd("EHLO raw.test", "250 ")
	lc.cmd("AUTH PLAIN AHUAcA==", "235 ")
	lc.cmd("STARTTLS", "220 ")
	lc.handshake(tlsConfig(s))
	lc.cmd("EHLO raw.test", "250 ")
	lc.cmd("MAIL FROM:<a@example.test>", "250 ")
	lc.cmd("RCPT TO:<forgotten@example.test>", "250 ")
	lc.cmd("DATA", "354 ")
	lc.send("Subject: after TLS", "", "x", ".")
	lc.want("250 ")
	m, _ := capturedFor(t, s, "forgotten@example.test")
	if m.Delivery.AuthUser != "" || !m.Delivery.TLS {
		t.Fatalf("delivery %+v: the cleartext login carried into TLS", m.Delivery)
	}
}

// Nothing from before STARTTLS takes effect inside TLS (RFC 3207): not a
// plaintext envelope, and a BDAT chunk go-smtp refuses is read as a chunk
// and thrown away, never run as commands.
func TestStartTLSCarriesNothingOver(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	start := func(t *testing.T) *limitConn {
		lc := dialLimit(t, s.Addr(2525), nil)
		lc.want("220 ")
		lc.cmd("EHLO plain.test", "250 ")
		return lc
	}
	t.Run("the plaintext envelope", func(t *testing.T) {
		t.Parallel()
		lc := start(t)
		lc.cmd("MAIL FROM:<plaintext@example.test>", "250 ")
		lc.cmd("RCPT TO:<carried@example.test>", "250 ")
		lc.cmd("STARTTLS", "220 ")
		lc.handshake(tlsConfig(s))
		lc.cmd("EHLO", "501 ") // go-smtp refuses it
		lc.cmd("DATA", "502 5.5.1 Missing RCPT TO")
	})
	t.Run("BDAT before EHLO", func(t *testing.T) {
		t.Parallel()
		lc := start(t)
		lc.cmd("STARTTLS", "220 ")
		lc.handshake(tlsConfig(s))
		cmds := "MAIL FROM:<a@example.test>\r\nRCPT TO:<smuggled@example.test>\r\n"
		lc.send(fmt.Sprintf("BDAT %d\r\n%sNOOP", len(cmds), cmds))
		lc.want("502 5.5.1 Missing RCPT TO") // the chunk is discarded with it
		lc.want("250 2.0.0 I have successfully done nothing")
	})
}

// The time a TLS handshake (and a delay fault before it) takes is not the
// client's idle time: the first command inside TLS gets a whole timeout.
func TestStartTLSRestartsTheIdleTimeout(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.SMTPTimeout = 2 * time.Second
		rules, err := faults.ParseRules("starttls,delay=1500ms")
		if err != nil {
			t.Fatal(err)
		}
		c.Faults = rules
	}))
	lc := dialLimit(t, s.Addr(2525), nil)
	lc.want("220 ")
	lc.cmd("EHLO raw.test", "250 ")
	lc.cmd("STARTTLS", "220 ")
	lc.handshake(tlsConfig(s))
	// The client idling is what is tested, not a stand-in for an event.
	time.Sleep(time.Second) // 2.5 s since the STARTTLS line, 1 s since the handshake
	lc.cmd("EHLO raw.test", "250 ")
}
