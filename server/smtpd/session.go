package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/storage"
)

var (
	errTLSRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errAuthNeeded  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errAuthInvalid = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	errStoreFull   = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big for the store"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"}
	errDropped     = errors.New("connection dropped by fault rule")
	errBusy        = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Too much mail being received at once, try again later"}
	errAddrTooLong = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Address longer than 256 bytes"}
	errRcptBytes   = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipient bytes for one message"}
	errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout while receiving the message"}
	errDataBroken  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "The message could not be read, try again"}
	errShutdown    = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}
)

type backend struct {
	l *Listener
	c *observedConn
}

// NewSession is called at the first EHLO/HELO of a connection, and at the
// first after STARTTLS: the ehlo fault stage.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := &session{l: b.l, c: b.c, conn: c}
	if err := s.fault(faults.Event{Stage: faults.Ehlo}); err != nil {
		return nil, err
	}
	return s, nil
}

// session is one SMTP transaction context between EHLO and QUIT.
type session struct {
	l    *Listener
	c    *observedConn
	conn *smtp.Conn

	authMech, authUser string
	mu                 sync.Mutex // guards from, to, rcptBytes: see Data
	from               string
	to                 []string // a new slice per transaction: Data keeps the old one
	rcptBytes          int
	clientAddr         string // cached: every message of the session shares it
}

var _ smtp.AuthSession = (*session)(nil)

// tlsState is the TLS in effect, implicit or after STARTTLS.
func (s *session) tlsState() (tls.ConnectionState, bool) { return s.conn.TLSConnectionState() }

// fault asks the rule set about a stage and applies a delay or a drop; it
// returns the SMTP error to answer with, if any.
func (s *session) fault(e faults.Event) error {
	e.Port, e.Conn, e.User = s.l.cfg.Port, s.c.rec.tr.ID(), s.authUser
	r, ok := s.l.opts.Faults.Fire(e)
	if !ok {
		return nil
	}
	return s.apply(r)
}

// apply records a fired rule, waits its delay, and returns its reply as an
// SMTP error (nil for a delay-only rule); a drop closes the connection.
// go-smtp writes the reply; a 421 closes the connection after it.
func (s *session) apply(r faults.Rule) error {
	s.c.rec.fault(r)
	s.c.wait(r)
	if rep, ok := r.ParsedReply(); ok {
		return &smtp.SMTPError{Code: rep.Code, EnhancedCode: smtp.EnhancedCode(rep.Enhanced), Message: rep.Text}
	}
	if r.Drop {
		s.drop()
		return errDropped
	}
	return nil
}

// drop closes the connection at once, as a crashing server would.
func (s *session) drop() {
	s.c.rec.note("connection dropped")
	s.c.Close()
}

func (s *session) needsTLS() bool {
	_, isTLS := s.tlsState()
	return s.l.cfg.TLS == TLSStartTLSRequired && !isTLS
}

func (s *session) AuthMechanisms() []string {
	if s.l.cfg.Auth == AuthOff {
		return nil
	}
	if _, isTLS := s.tlsState(); !isTLS && !s.l.cfg.CleartextAuth {
		return nil // advertised only after STARTTLS
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.l.cfg.Auth == AuthOff {
		return nil, smtp.ErrAuthUnsupported
	}
	if _, isTLS := s.tlsState(); !isTLS && !s.l.cfg.CleartextAuth {
		return nil, errTLSRequired
	}
	if err := s.fault(faults.Event{Stage: faults.Auth}); err != nil {
		return nil, err
	}
	check := func(user, pass string) error {
		if user == "" { // nobody to be: an application that sends none has a bug to see
			s.c.rec.note("authentication failed: empty user name (" + mech + ")")
			return errAuthInvalid
		}
		if err := s.checkCredentials(user, pass); err != nil {
			s.c.rec.note(fmt.Sprintf("authentication failed for user %q (%s)", user, mech))
			return err
		}
		s.authMech, s.authUser = mech, user
		s.c.rec.tr.Update(func(t *storage.Transcript) { t.AuthUser = user })
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return errAuthInvalid
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{authenticate: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) checkCredentials(user, pass string) error {
	switch s.l.cfg.Auth {
	case AuthReject:
		return errAuthInvalid
	case AuthCredentials:
		want, ok := s.l.opts.Credentials[user]
		if !ok || want != pass {
			return errAuthInvalid
		}
	}
	return nil
}

// stopping is whether the listener is shutting down: no new transaction
// then, and no step of one not yet transferring its message.
func (s *session) stopping() bool {
	select {
	case <-s.l.stopping:
		return true
	default:
		return false
	}
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.stopping() {
		return errShutdown
	}
	if s.needsTLS() {
		return errTLSRequired
	}
	switch s.l.cfg.Auth {
	case AuthRequired, AuthCredentials, AuthReject:
		if s.authUser == "" {
			return errAuthNeeded
		}
	}
	if err := s.fault(faults.Event{Stage: faults.Mail, Sender: from}); err != nil {
		return err
	}
	s.mu.Lock()
	s.from = from
	s.to, s.rcptBytes = nil, 0
	s.mu.Unlock()
	return nil
}

// maxPath is RFC 5321's limit on a path (4.5.3.1.3); maxRcptBytes bounds
// the envelope recipients of one message, which the store keeps.
const (
	maxPath      = 256
	maxRcptBytes = 64 << 10
)

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.stopping() {
		return errShutdown
	}
	if len(to) > maxPath {
		return errAddrTooLong
	}
	if s.rcptBytes+len(to) > maxRcptBytes {
		return errRcptBytes
	}
	if err := s.fault(faults.Event{Stage: faults.Rcpt, Sender: s.from, Recipients: []string{to}}); err != nil {
		return err
	}
	s.mu.Lock()
	s.to = append(s.to, to)
	s.rcptBytes += len(to)
	s.mu.Unlock()
	return nil
}

func (s *session) Data(r io.Reader) (err error) {
	// No shutdown check here: go-smtp has sent 354 before calling Data, so
	// a client reaching it is transferring a message, which may finish (its
	// MAIL and RCPT came before the signal, or were refused).
	defer func() {
		if err != nil { // not stored: Mailpit's SMTPRejected in /api/v1/info
			s.l.store.CountRejected()
		}
	}()
	s.c.enterData()
	defer s.c.leaveData()
	// A BDAT transfer's Data runs on a goroutine of its own while go-smtp's
	// may Reset the session (RSET): it works on a snapshot of the envelope.
	s.mu.Lock()
	from, to := s.from, s.to
	s.mu.Unlock()
	ev := faults.Event{Stage: faults.Data, Port: s.l.cfg.Port, Sender: from, Recipients: to, Conn: s.c.rec.tr.ID(), User: s.authUser}
	if rule, fire := s.l.opts.Faults.Fire(ev); fire { // a drop in the middle of DATA: take some, then hang up
		io.CopyN(io.Discard, r, 1)
		s.c.rec.fault(rule)
		s.drop()
		return errDropped
	}
	if s.clientAddr == "" {
		s.clientAddr = s.conn.Conn().RemoteAddr().String()
	}
	buf := s.l.getBuffer()
	defer s.l.putBuffer(buf)
	if err := s.content(r, buf); err != nil {
		return err
	}
	// The other rules decide once the message is read: the reply after
	// it, nothing stored (or the connection dropped before the reply).
	ev.Content, ev.Size, ev.Raw = true, len(*buf), *buf
	if rule, fire := s.l.opts.Faults.Fire(ev); fire {
		if err := s.apply(rule); err != nil {
			return err
		}
	}
	// The store keeps a copy; the read buffer goes back to the pool, so
	// capture makes almost no garbage.
	raw := *buf
	d := storage.Delivery{
		Listener:      s.l.name,
		Port:          s.l.cfg.Port,
		ClientAddr:    s.clientAddr,
		Helo:          s.conn.Hostname(),
		AuthMechanism: s.authMech,
		AuthUser:      s.authUser,
		SessionID:     s.c.rec.tr.ID(),
		Received:      time.Now(),
	}
	if st, ok := s.tlsState(); ok {
		d.TLS = true
		d.TLSVersion = tls.VersionName(st.Version)
		d.TLSCipher = tls.CipherSuiteName(st.CipherSuite)
	}
	env := storage.Envelope{From: from, To: to} // the store copies it
	m, err := s.l.store.Add(raw, env, d)
	if errors.Is(err, storage.ErrTooLarge) {
		return errStoreFull
	}
	if err != nil {
		s.l.log.Error("storing message", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not store the message, try again"}
	}
	s.c.rec.captured(m.ID)
	if s.l.log.Enabled(context.Background(), slog.LevelDebug) { // the arguments alone allocate
		s.l.log.Debug("captured", "id", m.ID, "from", from, "to", to, "size", len(raw))
	}
	return nil
}

// content reads the message from go-smtp's reader (DATA or BDAT chunks)
// into buf. go-smtp applies the size and line limits.
func (s *session) content(r io.Reader, buf *[]byte) error {
	budget := s.l.opts.DataInFlight
	var taken int64
	defer func() { budget.give(taken) }()
	b, err := readAll(r, *buf, func(n int) bool {
		if !budget.take(int64(n)) {
			return false
		}
		taken += int64(n)
		return true
	})
	*buf = b
	if err == nil {
		return nil
	}
	if errors.Is(err, errOverBudget) {
		s.c.rec.note("refused: more than MAILSINK_MAX_DATA_IN_FLIGHT bytes of mail being received at once")
		return errBusy
	}
	var smtpErr *smtp.SMTPError
	switch {
	case errors.As(err, &smtpErr):
		return smtpErr // 552 for oversize, from go-smtp
	case errors.Is(err, smtp.ErrTooLongLine):
		return errLineTooLong
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errDataTimeout
	}
	s.l.log.Debug("reading message data", "err", err)
	return errDataBroken // internal text never reaches the client
}

var errOverBudget = errors.New("over the in-flight budget")

// readAll is io.ReadAll into b's spare room; grow is asked before the
// buffer takes more memory (the budget counts capacity: go-smtp's reader
// fills what it is given before it returns).
func readAll(r io.Reader, b []byte, grow func(int) bool) ([]byte, error) {
	if !grow(cap(b)) {
		return b, errOverBudget
	}
	for {
		if len(b) == cap(b) {
			old := cap(b)
			b = append(b, 0)[:len(b)]
			if !grow(cap(b) - old) {
				return b, errOverBudget
			}
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// Reset is called by go-smtp for RSET, and also after each message, at a
// repeated EHLO and at STARTTLS: the rset fault stage fires once for each
// RSET the client sent, before go-smtp answers it.
func (s *session) Reset() {
	s.mu.Lock()
	s.from, s.to, s.rcptBytes = "", nil, 0
	s.mu.Unlock()
	if s.c.rec.rsetDue() {
		s.fault(faults.Event{Stage: faults.Rset}) // delay or drop; a reply cannot be given here
	}
}

// Logout is called when the connection ends: the quit fault stage delays
// the close after go-smtp's 221.
func (s *session) Logout() error {
	if s.c.rec.quitAnswered() {
		s.fault(faults.Event{Stage: faults.Quit})
	}
	return nil
}
