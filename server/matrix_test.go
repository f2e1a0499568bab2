package server_test

// The first-try matrix: real client libraries, each in its default
// configuration, as a newcomer points them at mailsink. On the 1025 role
// (plaintext, AUTH optional) each is given host and port alone; on 587 and
// 465 each is given what that port needs (a login; implicit TLS) and trusts
// the sink's certificate only through the README's one-liner for its
// ecosystem (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, a Python cafile, a
// keytool-imported trust store, curl --cacert). Every message is then read
// back through the API.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sinktest"
)

// jakartaClasspath is Debian's libjakarta-mail-java (and the activation jar
// it depends on).
const jakartaClasspath = "/usr/share/java/jakarta-mail.jar:/usr/share/java/jakarta-activation.jar"

// phpMailerAutoload is Debian's libphp-phpmailer.
const phpMailerAutoload = "/usr/share/php/libphp-phpmailer/autoload.php"

// goSendMailEnv, when set, makes the test binary a Go mail client (see
// TestMain): "ADDR|TO|MODE|USER", MODE "", "starttls" or "implicit". It is
// a separate process so that SSL_CERT_FILE, which crypto/x509 reads once,
// is what the client trusts.
const goSendMailEnv = "MAILSINK_TEST_GO_SENDMAIL"

func TestMain(m *testing.M) {
	if spec := os.Getenv(goSendMailEnv); spec != "" {
		if err := goSendMail(spec); err != nil {
			fmt.Fprintln(os.Stderr, "net/smtp:", err)
			os.Exit(1)
		}
		fmt.Println("sent")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// goSendMail is net/smtp as a newcomer uses it: smtp.SendMail with the
// address alone (STARTTLS whenever offered, verified against the system
// roots), smtp.PlainAuth where the port wants a login, and for implicit TLS
// tls.Dial with no configuration.
func goSendMail(spec string) error {
	f := strings.Split(spec, "|")
	if len(f) != 4 {
		return fmt.Errorf("%s=%q: want ADDR|TO|MODE|USER", goSendMailEnv, spec)
	}
	addr, to, mode, user := f[0], f[1], f[2], f[3]
	host, _, _ := net.SplitHostPort(addr)
	msg := []byte("From: app@example.test\r\nTo: " + to + "\r\nSubject: matrix net/smtp\r\n\r\nsent by net/smtp\r\n")
	var auth smtp.Auth
	if user != "" {
		auth = smtp.PlainAuth("", user, "secret", host)
	}
	if mode != "implicit" {
		return smtp.SendMail(addr, auth, "app@example.test", []string{to}, msg)
	}
	conn, err := tls.Dial("tcp", addr, nil)
	if err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(auth); err != nil {
		return err
	}
	if err := c.Mail("app@example.test"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// mailer is one client library of the matrix.
type mailer struct {
	name    string
	subject string // the Subject it sends
	// tools it needs: executable -> how to install it
	tools map[string]string
	files []string // files it needs (Debian packages' jars and scripts)
	// send delivers one message to rcpt at addr. mode is "" (host and port
	// alone), "starttls" or "implicit"; user is the login ("" for none);
	// ca is the PEM file to trust, given the ecosystem's README way.
	send func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun
	// noTLSMatrix: only the 1025 row (mail() hands mail to a sendmail).
	noTLSMatrix bool
}

func hostPort(addr string) (string, string) {
	h, p, _ := net.SplitHostPort(addr)
	return h, p
}

func mailers() []mailer {
	opt := func(mode, user string) []string { // the scripts' optional trailing arguments
		switch {
		case mode == "" && user == "":
			return nil
		default:
			return []string{mode, user}
		}
	}
	return []mailer{
		{
			name: "nodemailer", subject: "matrix nodemailer",
			tools: map[string]string{"node": "install Node.js 20 or later"},
			files: []string{filepath.Join(npmDir, "node_modules", "nodemailer", "package.json")},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				host, port := hostPort(addr)
				var env []string
				if ca != "" {
					env = []string{"NODE_EXTRA_CA_CERTS=" + ca}
				}
				return runExtEnv(t, env, m.tool("node"), append([]string{filepath.Join(npmDir, "nodemailer_send.mjs"), host, port, rcpt}, opt(mode, user)...)...)
			},
		},
		{
			name: "Go net/smtp", subject: "matrix net/smtp",
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				env := []string{goSendMailEnv + "=" + strings.Join([]string{addr, rcpt, mode, user}, "|")}
				if ca != "" {
					env = append(env, "SSL_CERT_FILE="+ca)
				}
				return runExtEnv(t, env, os.Args[0], "-test.run=^$")
			},
		},
		{
			name: "Python smtplib", subject: "smtplib",
			tools: map[string]string{"python3": "install Python 3"},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				host, port := hostPort(addr)
				args := []string{filepath.Join(clientsDir, "smtplib_send.py"), host, port, "--from", "app@example.test", "--to", rcpt,
					"--message", writeFile(t, "py.eml", []byte("From: app@example.test\r\nTo: "+rcpt+"\r\nSubject: smtplib\r\n\r\nsent by smtplib\r\n"))}
				if mode != "" {
					args = append(args, "--tls", mode, "--cafile", ca) // ssl.create_default_context(cafile=...)
				}
				if user != "" {
					args = append(args, "--auth", "login", "--user", user, "--password", "secret")
				}
				r := runExt(t, m.tool("python3"), args...)
				if !strings.Contains(r.stdout, `"ok": true`) {
					r.exit = 1
				}
				return r
			},
		},
		{
			name: "PHPMailer", subject: "matrix phpmailer",
			tools: map[string]string{"php": "apt-get install php-cli"},
			files: []string{phpMailerAutoload},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				host, port := hostPort(addr)
				var env []string
				if ca != "" {
					env = []string{"SSL_CERT_FILE=" + ca}
				}
				return runExtEnv(t, env, m.tool("php"), append([]string{filepath.Join(clientsDir, "phpmailer_send.php"), host, port, rcpt}, opt(mode, user)...)...)
			},
		},
		{
			name: "PHP mail() through msmtp", subject: "matrix php mail()", noTLSMatrix: true,
			tools: map[string]string{"php": "apt-get install php-cli", "msmtp": "apt-get install msmtp"},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				host, port := hostPort(addr)
				sendmail := fmt.Sprintf(`sendmail_path="%s --host=%s --port=%s --read-envelope-from -t"`, m.tool("msmtp"), host, port)
				return runExt(t, m.tool("php"), "-d", sendmail, filepath.Join(clientsDir, "php_mail.php"), rcpt)
			},
		},
		{
			name: "Ruby mail gem", subject: "matrix ruby mail",
			tools: map[string]string{"ruby": "apt-get install ruby ruby-mail"},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				host, port := hostPort(addr)
				var env []string
				if ca != "" {
					env = []string{"SSL_CERT_FILE=" + ca}
				}
				return runExtEnv(t, env, m.tool("ruby"), append([]string{filepath.Join(clientsDir, "ruby_send.rb"), host, port, rcpt}, opt(mode, user)...)...)
			},
		},
		{
			name: "Jakarta Mail", subject: "matrix jakarta mail",
			tools: map[string]string{"java": "apt-get install default-jre-headless", "keytool": "apt-get install default-jre-headless"},
			files: []string{"/usr/share/java/jakarta-mail.jar", "/usr/share/java/jakarta-activation.jar"},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				host, port := hostPort(addr)
				var args []string
				if ca != "" {
					// Jakarta Mail's identity check matches host names, not addresses.
					host = "localhost"
					store := filepath.Join(t.TempDir(), "mailsink.p12")
					if r := runExt(t, m.tool("keytool"), "-importcert", "-noprompt", "-alias", "mailsink", "-file", ca,
						"-keystore", store, "-storepass", "changeit"); r.exit != 0 {
						return r
					}
					args = []string{"-Djavax.net.ssl.trustStore=" + store, "-Djavax.net.ssl.trustStorePassword=changeit"}
				}
				args = append(args, "-cp", jakartaClasspath, filepath.Join(clientsDir, "JakartaSend.java"), host, port, rcpt)
				return runExt(t, m.tool("java"), append(args, opt(mode, user)...)...)
			},
		},
		{
			name: "curl", subject: "matrix curl",
			tools: map[string]string{"curl": "apt-get install curl"},
			send: func(t *testing.T, m mailer, addr, rcpt, mode, user, ca string) extRun {
				msg := writeFile(t, "curl.eml", []byte("From: app@example.test\r\nTo: "+rcpt+"\r\nSubject: matrix curl\r\n\r\nsent by curl\r\n"))
				args := []string{"-sS", "--max-time", "20", "--mail-from", "app@example.test", "--mail-rcpt", rcpt, "--upload-file", msg}
				switch mode {
				case "":
					args = append(args, "smtp://"+addr)
				case "starttls":
					args = append(args, "smtp://"+addr, "--ssl-reqd", "--cacert", ca)
				case "implicit":
					args = append(args, "smtps://"+addr, "--cacert", ca)
				}
				if user != "" {
					args = append(args, "--user", user+":secret")
				}
				return runExt(t, m.tool("curl"), args...)
			},
		},
	}
}

// tool is the path of one of m.tools (checked by need).
func (m mailer) tool(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		panic(name + " vanished: " + err.Error())
	}
	return p
}

// need skips (or under CI=true fails) the test when m's tools or files are
// missing.
func (m mailer) need(t *testing.T) {
	t.Helper()
	for name, install := range m.tools {
		extTool(t, name, install)
	}
	for _, f := range m.files {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("%s is missing (.ci/run installs it): the %s tests need it", f, m.name)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// TestMailersFirstTry: host and port alone, on the 1025 role.
func TestMailersFirstTry(t *testing.T) {
	s := sinktest.Start(t)
	for i, m := range mailers() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			m.need(t)
			rcpt := fmt.Sprintf("first-try-%d@example.test", i)
			if r := m.send(t, m, s.Addr(1025), rcpt, "", "", ""); r.exit != 0 {
				t.Fatalf("%s exit %d, want 0", m.name, r.exit)
			}
			checkMatrixMessage(t, s, m, rcpt, 1025, false)
		})
	}
}

// TestMailersTrustTheCertificate: 587 (STARTTLS, AUTH) and 465 (implicit
// TLS, AUTH), each client verifying the certificate and trusting it only
// the README's way; and without that trust, each refuses to send (so the
// trust line is what made the difference).
func TestMailersTrustTheCertificate(t *testing.T) {
	s := sinktest.Start(t)
	ca := sinkCertFile(t, s)
	for i, m := range mailers() {
		if m.noTLSMatrix {
			continue
		}
		for _, port := range []int{587, 465} {
			mode := map[int]string{587: "starttls", 465: "implicit"}[port]
			t.Run(fmt.Sprintf("%s %d", m.name, port), func(t *testing.T) {
				t.Parallel()
				m.need(t)
				rcpt := fmt.Sprintf("trust-%d-%d@example.test", i, port)
				user := fmt.Sprintf("user-%d", i)
				if r := m.send(t, m, s.Addr(port), rcpt, mode, user, ca); r.exit != 0 {
					t.Fatalf("%s exit %d, want 0", m.name, r.exit)
				}
				m2 := checkMatrixMessage(t, s, m, rcpt, port, true)
				if m2.Delivery.AuthUser != user {
					t.Errorf("AUTH user %q, want %q", m2.Delivery.AuthUser, user)
				}
			})
			t.Run(fmt.Sprintf("%s %d untrusted", m.name, port), func(t *testing.T) {
				t.Parallel()
				m.need(t)
				rcpt := fmt.Sprintf("untrusted-%d-%d@example.test", i, port)
				if r := m.send(t, m, s.Addr(port), rcpt, mode, "someone", ""); r.exit == 0 {
					t.Fatalf("%s sent without trusting the certificate: it does not verify by default", m.name)
				}
				noneFor(t, s, rcpt)
			})
		}
	}
}

func checkMatrixMessage(t *testing.T, s *sinktest.Sink, m mailer, rcpt string, port int, tls bool) *client.Message {
	t.Helper()
	got, _ := capturedFor(t, s, rcpt)
	_, want, _ := net.SplitHostPort(s.Addr(port))
	if fmt.Sprint(got.Delivery.Port) != want || got.Delivery.TLS != tls {
		t.Errorf("delivered on port %d TLS %v, want the %d role (%s) TLS %v", got.Delivery.Port, got.Delivery.TLS, port, want, tls)
	}
	if got.Subject != m.subject || got.Envelope.From != "app@example.test" {
		t.Errorf("captured Subject %q from %q, want %q from app@example.test", got.Subject, got.Envelope.From, m.subject)
	}
	return got
}

// With MAILSINK_TLS_DIR, the certificate a client trusted on the first
// start still verifies after a restart: the API serves the kept CA, and the
// TLS ports present a certificate it signed.
func TestTLSDirAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	withDir := sinktest.WithConfig(func(c *server.Config) { c.TLSDir = dir })
	first := sinktest.Start(t, withDir)
	trusted, err := first.Client.Certificate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := sinktest.Start(t, withDir)
	again, err := second.Client.Certificate(t.Context())
	if err != nil || string(again) != string(trusted) {
		t.Fatalf("after a restart the API serves another certificate (%v)", err)
	}
	kept, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || string(kept) != string(trusted) {
		t.Fatalf("ca.pem is not what the API serves (%v)", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(trusted)
	for _, port := range []int{587, 465} {
		c := dial(t, second.Addr(port), &tls.Config{RootCAs: roots, ServerName: "localhost"}, port == 465)
		if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
			t.Fatalf("%d: %v", port, err)
		}
		c.Quit()
	}
}

// A client that does not trust the certificate gets no error reply it could
// read, yet its session is an error session in the API, and the reason
// says what to do; the path it names serves the certificate.
func TestUntrustedClientIsAnErrorSession(t *testing.T) {
	s := sinktest.Start(t)
	for _, port := range []int{2525, 465} {
		lc := dialLimit(t, s.Addr(port), nil)
		if port == 2525 {
			lc.want("220 ")
			lc.cmd("EHLO untrusted.test", "250 ")
			lc.cmd("STARTTLS", "220 ")
		}
		local := lc.c.LocalAddr().String()
		if err := tls.Client(lc.c, &tls.Config{ServerName: "localhost"}).HandshakeContext(t.Context()); err == nil {
			t.Fatalf("%d: the handshake succeeded without trusting the certificate", port)
		}
		lc.c.Close()
		var id string
		for _, tr := range s.Store.Sessions().List(nil) {
			if tr.ClientAddr == local {
				id = tr.ID
			}
		}
		tr := endedSession(t, s, id)
		list, err := s.Client.Sessions(t.Context(), client.SessionFilter{Client: local, Errors: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Sessions) != 1 || list.Sessions[0].ID != tr.ID {
			t.Fatalf("%d: ?errors=1 lists %d sessions from %s, want the failed handshake:\n%s", port, len(list.Sessions), local, dump(tr))
		}
		got := list.Sessions[0]
		if got.ErrorCount == 0 || !strings.HasPrefix(got.Reason, "TLS handshake failed") || !strings.Contains(got.Reason, "trust") {
			t.Errorf("%d: ErrorCount %d, Reason %q", port, got.ErrorCount, got.Reason)
		}
	}
	pem, err := s.Client.Certificate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "/api/v1/certificate")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != string(pem) {
		t.Fatalf("GET /api/v1/certificate: %s, not the certificate", resp.Status)
	}
}
