// Package sendmail owns mailsink's sendmail mode: the program that PHP's
// mail(), cron, mail(1) and the like run as /usr/sbin/sendmail. It reads
// one message on standard input, honours the flags those callers pass (-t,
// -f, -F, -i and -oi, recipients as arguments) and ignores the others as
// real sendmail implementations do, completes the header (Date and
// Message-ID through server/compose, From when there is none, Bcc removed
// when the recipients come from the header), and submits the message with
// go-smtp's client to a mailsink SMTP listener, plaintext port 1025 unless
// told otherwise. With -bs it passes an SMTP conversation on standard input
// and output through to that listener unchanged: go-smtp's server answers.
//
// It talks to the sink over SMTP like any client and imports
// server/compose only. The process's environment reaches it through Env.
package sendmail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	msgtextproto "github.com/emersion/go-message/textproto"
	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/compose"
)

// Exit statuses, sendmail's (sysexits.h): callers such as PHP's mail()
// only tell zero from the rest, cron and MTAs read them.
const (
	ExOK          = 0
	ExUsage       = 64 // a bad flag or no recipient
	ExDataErr     = 65 // the message or an address in it is malformed
	ExNoUser      = 67 // the sink refused a recipient
	ExUnavailable = 69 // the sink refused the message for good (5xx)
	ExSoftware    = 70
	ExIOErr       = 74 // standard input could not be read
	ExTempFail    = 75 // the sink is not there or said try later (4xx)
	ExProtocol    = 76 // the sink answered something that is not SMTP
)

// The settings sendmail mode reads from the environment. Mailpit's names
// are read too, after these, so a setup written for `mailpit sendmail`
// works unchanged.
const (
	EnvAddr = "MAILSINK_SENDMAIL_SMTP_ADDR" // host:port of the SMTP listener
	EnvFrom = "MAILSINK_SENDMAIL_FROM"      // envelope sender when -f is not given

	mailpitEnvAddr = "MP_SENDMAIL_SMTP_ADDR"
	mailpitEnvFrom = "MP_SENDMAIL_FROM"
)

// DefaultAddr is where mail goes when nothing says otherwise: mailsink's
// plaintext port, which any client may use without TLS or AUTH.
const DefaultAddr = "localhost:1025"

// Env is what the process gives sendmail mode.
type Env struct {
	Name           string // how it was invoked, for messages: "sendmail" or "mailsink sendmail"
	Getenv         func(string) string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Hostname       string // this machine's name: unqualified addresses, Message-ID, EHLO
	User           string // the invoking user's login name, the default sender's local part
	Now            func() time.Time
}

// request is what the command line asks for.
type request struct {
	fromHeader bool   // -t: recipients from To, Cc and Bcc
	ignoreDots bool   // -i, -oi: a line of a single dot does not end the message
	sender     string // -f, -r
	senderSet  bool
	fullName   string // -F
	addr       string // --smtp-addr, -S
	smtpMode   bool   // -bs
	queueRun   bool   // -q: there is never a queue
	verbose    bool   // -v: print the SMTP conversation
	help       bool
	rcpts      []string
}

// failure is an error with the exit status it calls for.
type failure struct {
	code int
	err  error
}

func (f *failure) Error() string { return f.err.Error() }

func fail(code int, format string, args ...any) *failure {
	return &failure{code, fmt.Errorf(format, args...)}
}

// Run is sendmail mode: args are what follows the program name (or
// "mailsink sendmail"). It returns the exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Name == "" {
		env.Name = "sendmail"
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	env.Hostname = cleanHost(env.Hostname)
	env.User = cleanUser(env.User)
	if err := run(ctx, args, env); err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", env.Name, err)
		var f *failure
		if errors.As(err, &f) {
			return f.code
		}
		return ExSoftware
	}
	return ExOK
}

func run(ctx context.Context, args []string, env Env) error {
	req, err := parseArgs(args)
	if err != nil {
		return &failure{ExUsage, err}
	}
	switch {
	case req.help:
		usage(env.Stdout, env.Name)
		return nil
	case req.queueRun:
		return nil // nothing is ever queued: a message is submitted at once or refused
	}
	addr := firstSet(req.addr, env.Getenv(EnvAddr), env.Getenv(mailpitEnvAddr), DefaultAddr)
	if req.smtpMode {
		return relay(ctx, addr, env)
	}

	raw, err := readInput(env.Stdin, !req.ignoreDots)
	if err != nil {
		return fail(ExIOErr, "reading the message on standard input: %v", err)
	}
	msg, err := prepare(req, raw, env)
	if err != nil {
		return err
	}
	return submit(ctx, addr, env, req.verbose, msg)
}

// prepared is a message ready to submit.
type prepared struct {
	from  string
	rcpts []string
	data  []byte
}

// prepare completes the message's header and works out its envelope.
func prepare(req request, raw []byte, env Env) (prepared, error) {
	var p prepared
	br := bufio.NewReader(bytes.NewReader(raw))
	var h mail.Header
	if startsWithHeader(raw) {
		th, err := msgtextproto.ReadHeader(br)
		if err != nil {
			return p, fail(ExDataErr, "the message's header: %v", err)
		}
		h = mail.Header{Header: message.Header{Header: th}}
	} // else all of it is the body, as sendmail takes it

	for _, arg := range req.rcpts {
		list, err := addresses(arg, env.Hostname)
		if err != nil {
			return p, fail(ExUsage, "recipient %q: %v", arg, err)
		}
		p.rcpts = append(p.rcpts, list...)
	}
	// -t reads the recipients from the header. Without it and without
	// recipients, so does Mailpit's sendmail (and PHP calls sendmail_path
	// as given, often without -t): the message is not lost for a flag.
	if req.fromHeader || len(req.rcpts) == 0 {
		for _, key := range []string{"To", "Cc", "Bcc"} {
			for _, v := range h.Values(key) {
				list, err := addresses(decodeWords(v), env.Hostname)
				if err != nil {
					return p, fail(ExDataErr, "the %s header %q: %v", key, v, err)
				}
				p.rcpts = append(p.rcpts, list...)
			}
		}
		h.Del("Bcc") // its recipients get the message, nobody sees them
	}
	if len(p.rcpts) == 0 {
		return p, fail(ExUsage, "no recipients: name them as arguments, or give To, Cc or Bcc headers (with -t)")
	}

	sender := firstSet(env.Getenv(EnvFrom), env.Getenv(mailpitEnvFrom), env.User+"@"+env.Hostname)
	if req.senderSet {
		sender = req.sender
	}
	switch sender = strings.TrimSpace(sender); sender {
	case "", "<>":
		p.from = "" // the null sender, as -f '<>' asks
	default:
		list, err := addresses(sender, env.Hostname)
		if err != nil || len(list) != 1 {
			return p, fail(ExUsage, "sender %q: not one address", sender)
		}
		p.from = list[0]
	}
	if !h.Has("From") {
		from := p.from
		if from == "" {
			from = env.User + "@" + env.Hostname
		}
		h.SetAddressList("From", []*mail.Address{{Name: req.fullName, Address: from}})
	}
	if err := compose.Complete(&h, env.Now(), env.Hostname); err != nil {
		return p, fail(ExSoftware, "completing the header: %v", err)
	}
	var out bytes.Buffer
	if err := msgtextproto.WriteHeader(&out, h.Header.Header); err != nil {
		return p, fail(ExDataErr, "the message's header: %v", err)
	}
	if _, err := br.WriteTo(&out); err != nil { // the body, unchanged
		return p, fail(ExSoftware, "copying the body: %v", err)
	}
	p.data = out.Bytes()
	return p, nil
}

// submit sends the message with go-smtp's client.
func submit(ctx context.Context, addr string, env Env, verbose bool, p prepared) error {
	c, err := dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if verbose {
		c.DebugWriter = env.Stderr
	}
	if err := c.Hello(env.Hostname); err != nil {
		return smtpFailure(addr, "EHLO", err)
	}
	opts := &smtp.MailOptions{UTF8: !ascii(p.from) || !allASCII(p.rcpts)}
	if err := c.Mail(p.from, opts); err != nil {
		return smtpFailure(addr, "MAIL FROM", err)
	}
	for _, r := range p.rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			f := smtpFailure(addr, "RCPT TO:<"+r+">", err)
			if f.code == ExUnavailable {
				f.code = ExNoUser // that recipient, for good
			}
			return f
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpFailure(addr, "DATA", err)
	}
	if _, err := w.Write(p.data); err != nil {
		return smtpFailure(addr, "the message", err)
	}
	if err := w.Close(); err != nil {
		return smtpFailure(addr, "the message", err)
	}
	if err := c.Quit(); err != nil {
		return smtpFailure(addr, "QUIT", err) // after a 250: the message is in
	}
	return nil
}

// dialTimeout bounds connecting; the client's own timeouts bound each reply.
const dialTimeout = 10 * time.Second

func dial(ctx context.Context, addr string) (*smtp.Client, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fail(ExTempFail, "cannot reach mailsink's SMTP listener at %s (set --smtp-addr or %s): %v", addr, EnvAddr, err)
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = time.Minute
	c.SubmissionTimeout = 5 * time.Minute
	return c, nil
}

// smtpFailure maps what the sink answered to an exit status: 4xx and a
// lost connection are temporary, 5xx permanent, anything else a protocol
// error.
func smtpFailure(addr, step string, err error) *failure {
	var se *smtp.SMTPError
	var pe textproto.ProtocolError
	switch {
	case errors.As(err, &se) && se.Code >= 500:
		return fail(ExUnavailable, "%s at %s: refused: %s", step, addr, reply(se))
	case errors.As(err, &se):
		return fail(ExTempFail, "%s at %s: try again later: %s", step, addr, reply(se))
	case errors.As(err, &pe):
		return fail(ExProtocol, "%s at %s: %v", step, addr, err)
	default:
		return fail(ExTempFail, "%s at %s: %v", step, addr, err)
	}
}

// reply is the sink's reply as it was on the wire: "550 5.1.1 No such user".
func reply(se *smtp.SMTPError) string {
	if ec := se.EnhancedCode; ec != smtp.NoEnhancedCode && ec[0] > 0 {
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, ec[0], ec[1], ec[2], se.Message)
	}
	return fmt.Sprintf("%d %s", se.Code, se.Message)
}

// relay is -bs: the SMTP conversation on standard input and output, passed
// through to the listener byte for byte until the listener ends it.
func relay(ctx context.Context, addr string, env Env) error {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail(ExTempFail, "cannot reach mailsink's SMTP listener at %s (set --smtp-addr or %s): %v", addr, EnvAddr, err)
	}
	defer conn.Close()
	go func() {
		io.Copy(conn, env.Stdin) // ends with the input, or when conn is closed
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.CloseWrite() // end of input: the listener closes after it
		}
	}()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := io.Copy(env.Stdout, conn); err != nil && ctx.Err() == nil {
		return fail(ExIOErr, "relaying the SMTP session: %v", err)
	}
	return nil
}

// readInput reads the message. Unless dotEnds is false (-i), a line that
// holds only a dot ends it, as sendmail has always done.
func readInput(r io.Reader, dotEnds bool) ([]byte, error) {
	if !dotEnds {
		return io.ReadAll(r)
	}
	br := bufio.NewReader(r)
	var out []byte
	for {
		line, err := br.ReadBytes('\n')
		if l := string(line); l == ".\n" || l == ".\r\n" || (l == "." && err == io.EOF) {
			return out, nil
		}
		out = append(out, line...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// startsWithHeader tells whether the input opens with a header field
// ("Name:" with a valid name); input that does not is all body.
func startsWithHeader(raw []byte) bool {
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	return ok && compose.ValidKey(string(name))
}

// addresses reads a comma-separated list of addresses. A bare local part
// ("root", as cron sends to) is qualified with host, as sendmail does.
func addresses(list, host string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	if parsed, err := netmail.ParseAddressList(list); err == nil {
		out := make([]string, len(parsed))
		for i, a := range parsed {
			out[i] = a.Address
		}
		return out, nil
	}
	// Some are bare local parts: look at each ("root, a@b" or "root (Cron)").
	var out []string
	for _, one := range strings.Split(list, ",") {
		one = strings.TrimSpace(one)
		if one == "" {
			continue
		}
		if a, err := netmail.ParseAddress(one); err == nil {
			out = append(out, a.Address)
			continue
		}
		local, _, _ := strings.Cut(one, " ") // "root (Cron Daemon)"
		if a, err := netmail.ParseAddress(local + "@" + host); err == nil && !strings.Contains(local, "@") {
			out = append(out, a.Address)
			continue
		}
		return nil, fmt.Errorf("%q is not an address", one)
	}
	return out, nil
}

// decodeWords decodes RFC 2047 encoded words in a header value, so that an
// encoded display name does not hide the address from the parser.
func decodeWords(v string) string {
	var h message.Header
	h.Set("X", v)
	if s, err := h.Text("X"); err == nil {
		return s
	}
	return v
}

// cleanHost makes the machine's name usable in EHLO, Message-ID and
// addresses; an empty or odd one becomes localhost.
func cleanHost(h string) string {
	h = strings.TrimSuffix(strings.TrimSpace(h), ".")
	if h == "" || strings.ContainsFunc(h, func(r rune) bool {
		return !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "localhost"
	}
	return h
}

// cleanUser makes a login name usable as a local part, as Mailpit's
// sendmail does: other characters become "-".
func cleanUser(u string) string {
	u = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, strings.Trim(u, ". "))
	if u == "" {
		return "nobody"
	}
	return u
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(list []string) bool {
	for _, s := range list {
		if !ascii(s) {
			return false
		}
	}
	return true
}
