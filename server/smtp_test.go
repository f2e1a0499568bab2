package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netsmtp "net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

const testMsg = "From: App <app@example.test>\r\nTo: user@example.test\r\nSubject: hello\r\n\r\nHi there.\r\n"

// dial opens a go-smtp client to addr: implicit TLS when tlsCfg is set and
// implicit is true, STARTTLS when tlsCfg is set, cleartext otherwise.
func dial(t *testing.T, addr string, tlsCfg *tls.Config, implicit bool) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	switch {
	case tlsCfg != nil && implicit:
		c, err = smtp.DialTLS(addr, tlsCfg)
	case tlsCfg != nil:
		c, err = smtp.DialStartTLS(addr, tlsCfg)
	default:
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

func tlsConfig(s *sinktest.Sink) *tls.Config {
	return &tls.Config{RootCAs: s.Certs, ServerName: "localhost"}
}

// send runs MAIL, RCPT and DATA and returns the first error.
func send(c *smtp.Client, from string, to []string, body string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	return w.Close()
}

// wantCode asserts err is an SMTP reply with code and enhanced code.
func wantCode(t *testing.T, err error, code int, enhanced string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP reply %d %s", err, code, enhanced)
	}
	got := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != code || got != enhanced {
		t.Fatalf("got %d %s %q, want %d %s", se.Code, got, se.Message, code, enhanced)
	}
}

func onlyMessage(t *testing.T, s *sinktest.Sink) *storage.Message {
	t.Helper()
	p := s.Store.List(nil, 0, 0)
	if len(p.Messages) != 1 {
		t.Fatalf("store holds %d messages, want 1", len(p.Messages))
	}
	return p.Messages[0]
}

func TestDefaultPortSemantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		port     int
		tls      bool // STARTTLS (or implicit for 465) before anything else
		auth     sasl.Client
		wantErr  string // "code enhanced" of the first failing step, "" for delivery
		wantAuth string
	}{
		{name: "25 cleartext", port: 25},
		{name: "25 STARTTLS", port: 25, tls: true},
		{name: "587 MAIL before STARTTLS", port: 587, wantErr: "530 5.7.0"},
		{name: "587 AUTH before STARTTLS", port: 587, auth: sasl.NewPlainClient("", "u", "p"), wantErr: "530 5.7.0"},
		{name: "587 STARTTLS without AUTH", port: 587, tls: true, wantErr: "530 5.7.0"},
		{name: "587 STARTTLS and PLAIN", port: 587, tls: true, auth: sasl.NewPlainClient("", "alice", "x"), wantAuth: "alice"},
		{name: "587 STARTTLS and LOGIN", port: 587, tls: true, auth: sasl.NewLoginClient("bob", "y"), wantAuth: "bob"},
		{name: "465 implicit without AUTH", port: 465, tls: true, wantErr: "530 5.7.0"},
		{name: "465 implicit and PLAIN", port: 465, tls: true, auth: sasl.NewPlainClient("", "carol", "z"), wantAuth: "carol"},
		{name: "2525 cleartext, no AUTH", port: 2525},
		{name: "2525 AUTH before STARTTLS", port: 2525, auth: sasl.NewPlainClient("", "dave", "w"), wantAuth: "dave"},
		{name: "2525 STARTTLS and LOGIN", port: 2525, tls: true, auth: sasl.NewLoginClient("erin", "v"), wantAuth: "erin"},
	}
	s := sinktest.Start(t)
	// The cases share the sink and clear it: they run one after another.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Store.DeleteMatching(nil)
			var cfg *tls.Config
			if tt.tls {
				cfg = tlsConfig(s)
			}
			c := dial(t, s.Addr(tt.port), cfg, tt.port == 465)
			err := func() error {
				if tt.auth != nil {
					if err := c.Auth(tt.auth); err != nil {
						return err
					}
				}
				return send(c, "app@example.test", []string{"user@example.test", "hidden@example.test"}, testMsg)
			}()
			if tt.wantErr != "" {
				code, enh, _ := strings.Cut(tt.wantErr, " ")
				var n int
				fmt.Sscan(code, &n)
				wantCode(t, err, n, enh)
				if got := s.Store.Stats().Total; got != 0 {
					t.Fatalf("a refused message was stored (%d)", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("delivery failed: %v", err)
			}
			m := onlyMessage(t, s)
			if m.Raw() != testMsg {
				t.Errorf("raw = %q, want byte-exact %q", m.Raw(), testMsg)
			}
			if m.Envelope.From != "app@example.test" || strings.Join(m.Envelope.To, ",") != "user@example.test,hidden@example.test" {
				t.Errorf("envelope = %+v", m.Envelope)
			}
			d := m.Delivery()
			if d.TLS != tt.tls || (tt.tls && d.TLSVersion == "") || d.AuthUser != tt.wantAuth || d.Helo != "client.test" {
				t.Errorf("delivery = %+v, want TLS %v auth %q", d, tt.tls, tt.wantAuth)
			}
			if _, port, _ := net.SplitHostPort(s.Addr(tt.port)); fmt.Sprint(d.Port) != port {
				t.Errorf("delivery port %d, want %s", d.Port, port)
			}
			if !strings.HasPrefix(d.ClientAddr, "127.0.0.1:") {
				t.Errorf("client addr %q", d.ClientAddr)
			}
		})
	}
}

func TestAdvertisedExtensions(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	tests := []struct {
		port           int
		tls            bool
		auth, starttls bool
	}{
		{port: 25, auth: false, starttls: true},
		{port: 25, tls: true, auth: false, starttls: false},
		{port: 587, auth: false, starttls: true}, // AUTH only after STARTTLS
		{port: 587, tls: true, auth: true},
		{port: 465, tls: true, auth: true},
		{port: 2525, auth: true, starttls: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d tls=%v", tt.port, tt.tls), func(t *testing.T) {
			t.Parallel()
			var cfg *tls.Config
			if tt.tls {
				cfg = tlsConfig(s)
			}
			c := dial(t, s.Addr(tt.port), cfg, tt.port == 465)
			if ok, _ := c.Extension("AUTH"); ok != tt.auth {
				t.Errorf("AUTH advertised = %v, want %v", ok, tt.auth)
			}
			if ok, _ := c.Extension("STARTTLS"); ok != tt.starttls {
				t.Errorf("STARTTLS advertised = %v, want %v", ok, tt.starttls)
			}
			for _, ext := range []string{"SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "CHUNKING"} {
				if ok, _ := c.Extension(ext); !ok {
					t.Errorf("%s not advertised", ext)
				}
			}
			if ok, _ := c.Extension("AUTH"); ok {
				if !c.SupportsAuth("PLAIN") || !c.SupportsAuth("LOGIN") {
					t.Errorf("AUTH mechanisms lack PLAIN or LOGIN")
				}
			}
		})
	}
	// AUTH on port 25 is refused even though nobody advertised it.
	c := dial(t, s.Addr(25), nil, false)
	wantCode(t, c.Auth(sasl.NewPlainClient("", "u", "p")), 502, "5.7.0")
}

func TestAuthModes(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.Listeners = []server.ListenerConfig{
			{Port: 0, TLS: server.TLSNone, Auth: server.AuthCredentials, CleartextAuth: true},
		}
		c.Credentials = map[string]string{"app": "s3cret"}
	}))
	s2 := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.Listeners = []server.ListenerConfig{{Port: 0, TLS: server.TLSStartTLS, Auth: server.AuthReject, CleartextAuth: true}}
	}))
	cred := s.Server.Listeners()[0].Addr.String()
	rej := s2.Server.Listeners()[0].Addr.String()
	tests := []struct {
		name, addr string
		tls        bool
		auth       sasl.Client
		want       string
	}{
		{"credentials wrong password", cred, false, sasl.NewPlainClient("", "app", "nope"), "535 5.7.8"},
		{"credentials unknown user", cred, false, sasl.NewLoginClient("who", "s3cret"), "535 5.7.8"},
		{"credentials no AUTH", cred, false, nil, "530 5.7.0"},
		{"credentials right PLAIN", cred, false, sasl.NewPlainClient("", "app", "s3cret"), ""},
		{"credentials right LOGIN", cred, false, sasl.NewLoginClient("app", "s3cret"), ""},
		{"reject PLAIN", rej, true, sasl.NewPlainClient("", "app", "s3cret"), "535 5.7.8"},
		{"reject LOGIN cleartext", rej, false, sasl.NewLoginClient("app", "s3cret"), "535 5.7.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg *tls.Config
			if tt.tls {
				cfg = tlsConfig(s2)
			}
			c := dial(t, tt.addr, cfg, false)
			var err error
			if tt.auth != nil {
				err = c.Auth(tt.auth)
			}
			if err == nil {
				err = send(c, "a@example.test", []string{"b@example.test"}, testMsg)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want delivery, got %v", err)
				}
				return
			}
			code, enh, _ := strings.Cut(tt.want, " ")
			var n int
			fmt.Sscan(code, &n)
			wantCode(t, err, n, enh)
		})
	}
}

func TestOversizeMessageIs552(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxMessageSize = 1024 }))
	c := dial(t, s.Addr(25), nil, false)
	if ok, v := c.Extension("SIZE"); !ok || v != "1024" {
		t.Fatalf("SIZE = %v %q, want 1024", ok, v)
	}
	big := testMsg + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30)
	wantCode(t, send(c, "a@example.test", []string{"b@example.test"}, big), 552, "5.3.4")
	// The session is still usable and a normal message goes through.
	if err := send(c, "a@example.test", []string{"b@example.test"}, testMsg); err != nil {
		t.Fatalf("after 552: %v", err)
	}
	if got := s.Store.Stats().Total; got != 1 {
		t.Fatalf("stored %d, want 1", got)
	}
}

func TestNetSMTPClient(t *testing.T) {
	t.Parallel()
	// Go's standard client, the way most Go applications send mail: PLAIN
	// auth over STARTTLS on the submission port.
	s := sinktest.Start(t)
	addr := s.Addr(587)
	c, err := netsmtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(tlsConfig(s)); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.Auth(netsmtp.PlainAuth("", "netsmtp", "pw", "127.0.0.1")); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if err := c.Mail("a@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(testMsg))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	m := onlyMessage(t, s)
	if m.Delivery().AuthUser != "netsmtp" || m.Delivery().AuthMechanism != "PLAIN" || !m.Delivery().TLS {
		t.Fatalf("delivery = %+v", m.Delivery())
	}
}

func TestStoreLimitsEvictOldest(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxMessages = 3 }))
	for i := range 5 {
		c := dial(t, s.Addr(25), nil, false)
		body := strings.Replace(testMsg, "hello", fmt.Sprintf("n%d", i), 1)
		if err := send(c, "a@example.test", []string{"b@example.test"}, body); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	list, err := s.Client.List(ctx, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range list.Messages {
		subjects = append(subjects, m.Subject)
	}
	if strings.Join(subjects, ",") != "n4,n3,n2" || list.Evicted != 2 {
		t.Fatalf("subjects %v evicted %d, want n4,n3,n2 and 2", subjects, list.Evicted)
	}
	info, err := s.Client.Info(ctx)
	if err != nil || info.RuntimeStats.MessagesEvicted != 2 {
		t.Fatalf("info = %+v, %v", info, err)
	}
}

func TestShutdownLetsDataFinish(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	c := dial(t, s.Addr(25), nil, false)
	if err := c.Mail("a@example.test", nil); err != nil {
		t.Fatal(err)
	}
	c.Rcpt("b@example.test", nil)
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(testMsg[:20]))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Server.Shutdown(ctx)
	}()
	// New connections are refused soon after shutdown began. Nothing
	// announces that the listeners have closed; a refused dial is the only
	// sign, so poll for it, bounded.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", s.Addr(2525), 100*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	w.Write([]byte(testMsg[20:]))
	if err := w.Close(); err != nil {
		t.Fatalf("DATA in progress during shutdown: %v", err)
	}
	c.Quit()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if m := onlyMessage(t, s); m.Raw() != testMsg {
		t.Fatalf("raw %q", m.Raw())
	}
}
