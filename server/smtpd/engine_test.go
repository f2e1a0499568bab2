package smtpd

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/storage"
)

// The layer under go-smtp only observes: every conversation below gets,
// byte for byte, the replies a plain go-smtp server with the same settings
// gives, whatever the client pipelines. Each script is one of the cases
// the old wire layer got wrong.

// step is one write, then the final replies to read; tls starts a client
// handshake after them.
type step struct {
	send    string
	replies int
	tls     bool
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// exactly returns a DATA message of n bytes (CRLF line ends, no dots).
func exactly(n int) string {
	head := "Subject: size\r\n\r\n"
	body := strings.Repeat("x", n-len(head)-2) + "\r\n"
	return head + body
}

const maxSize = 1000

var scripts = []struct {
	name  string
	steps []step
}{
	{"content before 354, then STARTTLS", []step{
		{"EHLO a.test\r\n", 1, false},
		{"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nSubject: early\r\n\r\nbody\r\n.\r\nSTARTTLS\r\n", 5, true},
		{"EHLO a.test\r\nNOOP\r\nQUIT\r\n", 3, false},
	}},
	{"BDAT over the size limit, its chunk full of commands", []step{
		{"EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n", 3, false},
		{"BDAT 2000 LAST\r\n" + strings.Repeat("STARTTLS\r\n", 199) + "NOOP\r\nxx\r\n" + "NOOP\r\nQUIT\r\n", 3, false},
	}},
	{"BDAT without RCPT", []step{
		{"EHLO a.test\r\nBDAT 30\r\nRCPT TO:<smuggled@x.test>\r\nNOOP\r\nQUIT\r\n", 4, false},
	}},
	{"AUTH LOGIN with both responses pipelined", []step{
		{"EHLO a.test\r\nAUTH LOGIN\r\n" + b64("user") + "\r\n" + b64("hunter2") + "\r\nNOOP\r\n", 5, false},
		{"QUIT\r\n", 1, false},
	}},
	{"AUTH PLAIN without initial response, pipelined", []step{
		{"EHLO a.test\r\nAUTH PLAIN\r\n" + b64("\x00user\x00hunter2") + "\r\nQUIT\r\n", 4, false},
	}},
	{"a message of SIZE-1 bytes, then one of exactly SIZE", []step{
		{"EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n", 4, false},
		{exactly(maxSize-1) + ".\r\n", 1, false},
		{"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n", 3, false},
		{exactly(maxSize) + ".\r\n", 1, false},
		{"QUIT\r\n", 1, false},
	}},
	{"BDAT of exactly SIZE", []step{
		{"EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n", 3, false},
		{"BDAT 1000 LAST\r\n" + exactly(maxSize) + "QUIT\r\n", 2, false},
	}},
	{"part of a line, then STARTTLS", []step{
		{"EHLO a.test\r\nNOOP ", 1, false},
		{"STARTTLS\r\nQUIT\r\n", 2, false},
	}},
	{"AUTH then STARTTLS before the 334", []step{
		{"EHLO a.test\r\nAUTH PLAIN\r\nSTARTTLS\r\nQUIT\r\n", 4, false},
	}},
	{"plaintext pipelined after STARTTLS", []step{
		{"EHLO a.test\r\nSTARTTLS\r\nMAIL FROM:<injected@x.test>\r\n", 2, true},
		{"RCPT TO:<b@x.test>\r\nEHLO a.test\r\nQUIT\r\n", 3, false},
	}},
	{"a line over the limit", []step{
		{"EHLO a.test\r\nNOOP " + strings.Repeat("y", 3000) + "\r\n", 2, false},
	}},
	{"a long line under the limit", []step{
		{"EHLO a.test\r\nNOOP " + strings.Repeat("z", 1500) + "\r\nQUIT\r\n", 3, false},
	}},
	{"DATA refused, content sent anyway", []step{
		{"EHLO a.test\r\nDATA\r\nSubject: x\r\n\r\nRSET\r\n.\r\nQUIT\r\n", 7, false},
	}},
	{"commands before EHLO and bad syntax", []step{
		{"MAIL FROM:<a@x.test>\r\nFOO\r\nHELO\r\nEHLO a.test\r\nMAIL FROM:bad\r\nQUIT\r\n", 6, false},
	}},
}

func testCert(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// plainBackend is a go-smtp backend with mailsink's policy on 2525 (AUTH
// optional, any credentials), and nothing underneath go-smtp.
type plainBackend struct{}

func (plainBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return plainSession{}, nil }

type plainSession struct{}

func (plainSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }
func (plainSession) Auth(mech string) (sasl.Server, error) {
	ok := func(string, string) error { return nil }
	if mech == sasl.Plain {
		return sasl.NewPlainServer(func(_, u, p string) error { return ok(u, p) }), nil
	}
	return &loginServer{authenticate: ok}, nil
}
func (plainSession) Mail(string, *smtp.MailOptions) error { return nil }
func (plainSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (plainSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, smtp.ErrTooLongLine) {
		return errLineTooLong
	}
	return err
}
func (plainSession) Reset()        {}
func (plainSession) Logout() error { return nil }

const (
	testTimeout = 5 * time.Second
	lineLimit   = 2000
)

func startPlain(t *testing.T, cfg *tls.Config) string {
	srv := smtp.NewServer(plainBackend{})
	srv.Domain = "sink.test"
	srv.MaxMessageBytes = maxSize
	srv.MaxRecipients = 100
	srv.MaxLineLength = lineLimit
	srv.ReadTimeout, srv.WriteTimeout = testTimeout, testTimeout
	srv.EnableSMTPUTF8, srv.EnableBINARYMIME, srv.AllowInsecureAuth = true, true, true
	srv.TLSConfig = cfg
	srv.ErrorLog = discardLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

func startSink(t *testing.T, cfg *tls.Config, debug io.Writer) (*Listener, *storage.Store) {
	store := storage.New(storage.Limits{})
	opts := Options{Hostname: "sink.test", TLSConfig: cfg, MaxMessageSize: maxSize, MaxRecipients: 100,
		MaxLineLength: lineLimit, Timeout: testTimeout, Debug: debug}
	l, err := Listen("127.0.0.1:0", ListenerConfig{TLS: TLSStartTLS, Auth: AuthOptional, CleartextAuth: true}, opts, store)
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Close() })
	return l, store
}

// converse runs a script and returns every reply line, in order, and
// whether the server closed the connection at the end.
func converse(t *testing.T, addr string, steps []step) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var conn net.Conn = c
	r := bufio.NewReader(conn)
	var got []string
	readFinal := func() bool {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				got = append(got, "[closed]")
				return false
			}
			line = strings.TrimRight(line, "\r\n")
			got = append(got, line)
			if len(line) < 4 || line[3] != '-' {
				return true
			}
		}
	}
	readFinal() // greeting
	for _, st := range steps {
		if _, err := io.WriteString(conn, st.send); err != nil {
			got = append(got, "[write failed]")
			return got
		}
		for range st.replies {
			if !readFinal() {
				return got
			}
		}
		if st.tls {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				got = append(got, "[handshake failed]")
				return got
			}
			conn, r = tc, bufio.NewReader(tc)
		}
	}
	// Nothing more may come: the replies counted are all there are.
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if line, err := r.ReadString('\n'); err == nil {
		got = append(got, "[extra] "+strings.TrimSpace(line))
	}
	return got
}

func TestRepliesAreGoSMTPs(t *testing.T) {
	t.Parallel()
	cfg := testCert(t)
	plain := startPlain(t, cfg)
	for _, debug := range []io.Writer{nil, io.Discard} { // --smtp-debug changes nothing
		sink, _ := startSink(t, cfg, debug)
		for _, sc := range scripts {
			t.Run(fmt.Sprintf("%s/debug=%v", sc.name, debug != nil), func(t *testing.T) {
				t.Parallel()
				want := converse(t, plain, sc.steps)
				got := converse(t, sink.Addr().String(), sc.steps)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("mailsink answered\n  %s\nplain go-smtp answered\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			})
		}
	}
}

// transcriptOf runs a script against a fresh sink and returns its one
// transcript, once the connection has ended.
func transcriptOf(t *testing.T, steps []step) (string, *storage.Transcript, *storage.Store) {
	t.Helper()
	sink, store := startSink(t, testCert(t), nil)
	sub := store.Subscribe(64)
	defer sub.Close()
	converse(t, sink.Addr().String(), steps)
	for e := range sub.C {
		if e.Type == storage.EventSessionEnd {
			return dumpLines(e.Transcript), e.Transcript, store
		}
	}
	t.Fatal("subscription closed before the session ended")
	return "", nil, nil
}

func scriptNamed(t *testing.T, name string) []step {
	for _, sc := range scripts {
		if sc.name == name {
			return sc.steps
		}
	}
	t.Fatalf("no script %q", name)
	return nil
}

// What the transcripts of the old wire layer's failures show now.
func TestTranscriptsFollowGoSMTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script       string
		want, reject []string
		messages     int
	}{
		{"content before 354, then STARTTLS",
			[]string{"C: DATA", "S: 354", "C: [message content, 24 bytes]", "S: 250 2.0.0 OK: queued", "C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "*: TLS established", "C: NOOP", "S: 221"},
			[]string{"C: Subject: early", "C: body", "502"}, 1},
		{"BDAT over the size limit, its chunk full of commands",
			[]string{"C: BDAT 2000 LAST", "C: [chunk, 2000 bytes]", "S: 552", "C: NOOP", "S: 250 2.0.0 I have successfully done nothing", "S: 221"},
			[]string{"C: STARTTLS", "C: xx", "503"}, 0},
		{"AUTH LOGIN with both responses pipelined",
			// The NOOP came with the secrets, before AUTH's reply: masked too
			// (failing closed), and its reply with it.
			[]string{"C: AUTH LOGIN\n", "S: 334 VXNlcm5hbWU6", "C: ****\nS: 334 UGFzc3dvcmQ6\nC: ****\nS: 235", "C: ****\nS: 250 ****"},
			[]string{b64("hunter2"), "hunter2", b64("user")}, 0},
		{"AUTH PLAIN without initial response, pipelined",
			[]string{"C: AUTH PLAIN\n", "S: 334", "C: ****", "S: 235", "C: ****\nS: 221 ****"},
			[]string{b64("\x00user\x00hunter2"), "hunter2"}, 0},
		{"AUTH then STARTTLS before the 334",
			[]string{"C: AUTH PLAIN", "S: 334", "C: ****", "S: 454", "C: ****\nS: 221 ****"},
			[]string{"C: STARTTLS"}, 0},
		{"plaintext pipelined after STARTTLS",
			[]string{"[29 bytes sent in plaintext after STARTTLS, discarded]", "*: TLS established", "C: RCPT TO:<b@x.test>", "S: 502 5.5.1 Missing MAIL FROM"},
			[]string{"C: MAIL FROM:<injected@x.test>"}, 0},
		{"a message of SIZE-1 bytes, then one of exactly SIZE",
			[]string{"C: [message content, 999 bytes]", "C: [message content, 1000 bytes]", "S: 552"}, nil, 1},
		{"a long line under the limit",
			[]string{"C: NOOP zzz", "… [1505 bytes in all]", "S: 250 2.0.0 I have successfully done nothing"}, nil, 0},
		// go-smtp's line limit fails the whole read: what it held is
		// never seen, so never recorded.
		{"a line over the limit",
			[]string{"S: 500 5.4.0 Too long line"}, []string{"yyy"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			t.Parallel()
			text, _, store := transcriptOf(t, scriptNamed(t, tt.script))
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("transcript lacks %q", w)
				}
			}
			for _, r := range tt.reject {
				if strings.Contains(text, r) {
					t.Errorf("transcript has %q", r)
				}
			}
			if n := store.Stats().Total; n != tt.messages {
				t.Errorf("%d messages stored, want %d", n, tt.messages)
			}
			if t.Failed() {
				t.Log(text)
			}
		})
	}
}

// A failed AUTH leaves the SASL lines a client pipelined to go-smtp's
// command parser, which repeats an unknown command in its reply: neither
// the lines nor those replies may keep the secret.
func TestFailedPipelinedAuthKeepsNoSecret(t *testing.T) {
	t.Parallel()
	l, store := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthOff}, Options{Hostname: "sink.test", Timeout: testTimeout})
	sub := store.Subscribe(16)
	defer sub.Close()
	got := converse(t, l.Addr().String(), []step{{"EHLO a.test\r\nAUTH LOGIN\r\n" + b64("user") + "\r\n" + b64("hunter2") + "\r\nQUIT\r\n", 5, false}})
	for e := range sub.C {
		if e.Type != storage.EventSessionEnd {
			continue
		}
		text := dumpLines(e.Transcript)
		for _, secret := range []string{b64("hunter2"), strings.ToUpper(b64("hunter2")), "hunter2"} {
			if strings.Contains(text, secret) {
				t.Fatalf("transcript keeps %q:\n%s\nreplies: %q", secret, text, got)
			}
		}
		if !strings.Contains(text, "C: ****") || !strings.Contains(text, "S: 221") {
			t.Fatalf("transcript:\n%s", text)
		}
		return
	}
}

// A client on the wrong kind of port, or one that does not trust the
// certificate, leaves a transcript that says so.
func TestTranscriptsExplainTLSMistakes(t *testing.T) {
	t.Parallel()
	cfg := testCert(t)
	store := storage.New(storage.Limits{})
	listen := func(mode TLSMode) string {
		l, err := Listen("127.0.0.1:0", ListenerConfig{TLS: mode, Auth: AuthOptional, CleartextAuth: true}, Options{Hostname: "sink.test", TLSConfig: cfg, Timeout: testTimeout}, store)
		if err != nil {
			t.Fatal(err)
		}
		go l.Serve()
		t.Cleanup(func() { l.Close() })
		return l.Addr().String()
	}
	plain, implicit := listen(TLSStartTLS), listen(TLSImplicit)
	verifying := &tls.Config{ServerName: "localhost"} // the system roots: mailsink's certificate is not among them
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"TLS on a STARTTLS port", func() error {
			c, err := tls.Dial("tcp", plain, &tls.Config{InsecureSkipVerify: true})
			if err == nil {
				c.Close()
			}
			return err
		}, "probably meant an implicit-TLS port"},
		{"plaintext on the implicit-TLS port", func() error {
			rc := dialRaw(t, implicit)
			io.WriteString(rc.c, "EHLO a.test\r\n")
			if got := rc.final(); !strings.HasPrefix(got, "[") {
				return nil // answered in plaintext
			}
			return errors.New("closed")
		}, "the client spoke plaintext"},
		{"untrusted certificate, implicit TLS", func() error {
			c, err := tls.Dial("tcp", implicit, verifying)
			if err == nil {
				c.Close()
			}
			return err
		}, "does not trust mailsink's certificate"},
		{"untrusted certificate, STARTTLS", func() error {
			rc := dialRaw(t, plain)
			rc.final()
			rc.cmd("EHLO a.test", "250")
			rc.cmd("STARTTLS", "220")
			defer rc.c.Close()
			return tls.Client(rc.c, verifying).Handshake()
		}, "the client may not trust mailsink's certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := store.Subscribe(64)
			defer sub.Close()
			if err := tt.run(); err == nil {
				t.Fatal("the client succeeded")
			}
			for e := range sub.C {
				if e.Type != storage.EventSessionEnd {
					continue
				}
				if text := dumpLines(e.Transcript); !strings.Contains(text, tt.want) {
					t.Fatalf("transcript lacks %q:\n%s", tt.want, text)
				}
				return
			}
		})
	}
}

// Transcripts stay small in JSON whatever the client sends: control bytes
// and invalid UTF-8 are kept as "?", and a session's line text is capped.
func TestTranscriptsStayBounded(t *testing.T) {
	t.Parallel()
	noise := "NOOP " + strings.Repeat("\x01\xff", 400) + "\r\n"
	text, tr, _ := transcriptOf(t, []step{{"EHLO a.test\r\n" + strings.Repeat(noise, 200) + "QUIT\r\n", 202, false}})
	if strings.ContainsAny(text, "\x01\xff") || !strings.Contains(text, "C: NOOP ????") {
		t.Fatalf("control bytes kept:\n%.300s", text)
	}
	n := 0
	for _, l := range tr.Lines {
		n += len(l.Text)
	}
	if n > storage.MaxTranscriptBytes+maxRecorded {
		t.Fatalf("transcript keeps %d bytes of text, cap %d", n, storage.MaxTranscriptBytes)
	}
	if !strings.Contains(text, "(further lines not kept)") {
		t.Fatal("no note that lines were cut")
	}
}

// dumpLines is a transcript as "DIR: text" lines.
func dumpLines(tr *storage.Transcript) string {
	var b strings.Builder
	for _, l := range tr.Lines {
		fmt.Fprintf(&b, "%s: %s\n", l.Dir, l.Text)
	}
	return b.String()
}

// Ways a secret once reached a transcript (found in review): each runs a
// real conversation and the transcript must not hold the secret.
func TestTranscriptsKeepNoSecretWhateverTheClientSends(t *testing.T) {
	t.Parallel()
	pass, user := b64("hunter2"), b64("user")
	ir := b64("\x00user\x00hunter2")
	tests := []struct {
		name      string
		lineLimit int
		steps     func(rc *rawClient)
	}{
		{"an initial response after a tab", 2000, func(rc *rawClient) {
			rc.cmd("AUTH PLAIN\t"+ir, "235")
		}},
		{"DATA with trailing spaces, then AUTH LOGIN", 2000, func(rc *rawClient) {
			rc.cmd("MAIL FROM:<a@x.test>", "250")
			rc.cmd("RCPT TO:<b@x.test>", "250")
			rc.cmd("DATA  ", "354")
			rc.cmd("Subject: x\r\n.", "250")
			rc.cmd("AUTH LOGIN", "334")
			rc.cmd(user, "334")
			rc.cmd(pass, "235")
		}},
		{"a user name longer than what is held", 0, func(rc *rawClient) {
			rc.cmd("AUTH LOGIN", "334")
			rc.cmd(b64(strings.Repeat("u", 15000)), "334")
			rc.cmd(pass, "235")
		}},
		{"AUTH on a listener refusing it, responses pipelined", 2000, func(rc *rawClient) {
			io.WriteString(rc.c, "AUTH LOGIN\r\n"+user+"\r\n"+pass+"\r\n")
			for range 3 {
				rc.final()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			auth := AuthOptional
			if strings.Contains(tt.name, "refusing") {
				auth = AuthOff
			}
			l, store := listen(t, ListenerConfig{TLS: TLSNone, Auth: auth, CleartextAuth: true}, Options{Hostname: "sink.test", Timeout: testTimeout, MaxLineLength: tt.lineLimit})
			sub := store.Subscribe(256)
			defer sub.Close()
			rc := dialRaw(t, l.Addr().String())
			rc.final()
			rc.cmd("EHLO a.test", "250")
			tt.steps(rc)
			rc.cmd("QUIT", "221")
			for e := range sub.C {
				if e.Type != storage.EventSessionEnd {
					continue
				}
				text := dumpLines(e.Transcript)
				for _, secret := range []string{pass, strings.ToUpper(pass), ir, "hunter2"} {
					if strings.Contains(text, secret) {
						t.Fatalf("transcript keeps %q:\n%s", secret, text)
					}
				}
				return
			}
		})
	}
}

// A BDAT transfer's Data runs beside go-smtp's own goroutine, which calls
// Reset on RSET: the session's envelope must not be shared between them
// unguarded (the race detector watches this one).
func TestBDATThenRSET(t *testing.T) {
	t.Parallel()
	l, _ := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthOptional}, Options{Hostname: "sink.test", Timeout: testTimeout})
	for range 20 {
		rc := dialRaw(t, l.Addr().String())
		rc.final()
		io.WriteString(rc.c, "EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nBDAT 0\r\nRSET\r\nQUIT\r\n")
		for range 6 {
			rc.final()
		}
		rc.c.Close()
	}
}

func TestReplyShaped(t *testing.T) {
	for in, want := range map[string]bool{"250 OK\r\n": true, "250-SIZE\r\n": true, "334 \r\n": true, "221\r\n": true,
		"AUTH PLAIN AHU=\r\n": false, "aHVudGVyMg==\r\n": false, "25": false, "2500": false} {
		if got := replyShaped([]byte(in)); got != want {
			t.Errorf("replyShaped(%q) = %v", in, got)
		}
	}
}
