package smtpd

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
)

type backend struct{ l *Listener }

// NewSession is called at EHLO/HELO.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	w, _ := c.Conn().(*wireConn)
	return &session{l: b.l, conn: c, wire: w}, nil
}

// session is one SMTP transaction context between EHLO and QUIT.
type session struct {
	l    *Listener
	conn *smtp.Conn
	wire *wireConn // nil only if go-smtp is handed a bare conn

	authMech, authUser string
	from               string
	to                 []string
	clientAddr         string // cached: every message of the session shares it
}

var _ smtp.AuthSession = (*session)(nil)

// tlsState is the TLS in effect, implicit or after STARTTLS: the wire runs
// both, below go-smtp.
func (s *session) tlsState() (tls.ConnectionState, bool) {
	if s.wire != nil {
		return s.wire.tlsState()
	}
	return s.conn.TLSConnectionState()
}

// fault asks the rule set about a stage and applies a delay or a drop; it
// returns the SMTP error to answer with, if any.
func (s *session) fault(e faults.Event) error {
	e.Port = s.l.cfg.Port
	r, ok := s.l.opts.Faults.Fire(e)
	if !ok {
		return nil
	}
	return s.apply(r)
}

// apply records a fired rule, waits its delay, and returns its reply as an
// SMTP error (nil for a delay-only rule); a drop closes the connection.
func (s *session) apply(r faults.Rule) error {
	if s.wire != nil {
		s.wire.fault(r)
		r.Wait(s.wire.done)
	}
	if rep, ok := r.ParsedReply(); ok {
		if rep.Code == 421 && s.wire != nil {
			s.wire.closeAfter.Store(true)
		}
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
	if s.wire != nil {
		s.wire.tr.Add("*", "connection dropped")
		s.wire.Close()
		return
	}
	s.conn.Conn().Close()
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
		err := s.checkCredentials(user, pass)
		if err != nil {
			return err
		}
		s.authMech, s.authUser = mech, user
		if s.wire != nil {
			s.wire.tr.Update(func(t *storage.Transcript) { t.AuthUser = user })
		}
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

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
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
	s.from = from
	s.to = s.to[:0]
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.fault(faults.Event{Stage: faults.Rcpt, Sender: s.from, Recipients: []string{to}}); err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	ev := faults.Event{Stage: faults.Data, Port: s.l.cfg.Port, Sender: s.from, Recipients: s.to}
	rule, fire := s.l.opts.Faults.Fire(ev)
	if fire && rule.Drop { // in the middle of DATA: take some, then hang up
		if _, bdat := r.(*io.PipeReader); !bdat && s.wire != nil {
			s.wire.passContent() // go-smtp reads a byte, not the wire the whole message
		}
		io.CopyN(io.Discard, r, 1)
		if s.wire != nil {
			s.wire.fault(rule)
		}
		s.drop()
		return errDropped
	}
	if s.clientAddr == "" {
		s.clientAddr = s.conn.Conn().RemoteAddr().String()
	}
	buf, err := s.content(r)
	defer s.l.putBuffer(buf)
	if err != nil {
		return err
	}
	if fire { // the reply after the message: nothing is stored
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
		Received:      time.Now(),
	}
	if s.wire != nil {
		d.SessionID = s.wire.tr.ID()
	}
	if st, ok := s.tlsState(); ok {
		d.TLS = true
		d.TLSVersion = tls.VersionName(st.Version)
		d.TLSCipher = tls.CipherSuiteName(st.CipherSuite)
	}
	env := storage.Envelope{From: s.from, To: s.to} // the store copies it
	m, err := s.l.store.Add(raw, env, d)
	if errors.Is(err, storage.ErrTooLarge) {
		return errStoreFull
	}
	if err != nil {
		s.l.log.Error("storing message", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not store the message, try again"}
	}
	if s.wire != nil {
		// The command limit is per transaction: a client that delivers may
		// keep its connection open for any number of messages.
		s.wire.commands.Store(0)
		s.wire.tr.Captured(m.ID)
		if s.wire.tr.Keeping() {
			s.wire.tr.Add("*", "captured as message "+m.ID)
		}
	}
	if s.l.log.Enabled(context.Background(), slog.LevelDebug) { // the arguments alone allocate
		s.l.log.Debug("captured", "id", m.ID, "from", s.from, "to", s.to, "size", len(raw))
	}
	return nil
}

// content reads the message content into a pooled buffer. Usually the wire
// has read it already and r holds only the end marker.
func (s *session) content(r io.Reader) (*[]byte, error) {
	// BDAT chunks come through a pipe, read on a goroutine of their own: the
	// wire's DATA state is not theirs to look at.
	if _, bdat := r.(*io.PipeReader); !bdat && s.wire != nil && s.wire.fast {
		_, err := io.Copy(io.Discard, r) // the end marker: the wire reads the content first
		if buf, tooBig, ok := s.wire.takeContent(); ok {
			if tooBig {
				return buf, smtp.ErrDataTooLarge
			}
			return buf, nil
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			if s.wire.scanner.bigFirst { // over the size first: go-smtp answers 552, then closes
				return nil, smtp.ErrDataTooLarge
			}
			return nil, errLineTooLong
		}
		return nil, fmt.Errorf("reading message data: %w", cmp.Or(err, io.ErrUnexpectedEOF))
	}
	buf := s.l.getBuffer()
	b, err := readAll(r, *buf)
	*buf = b
	if err != nil {
		var smtpErr *smtp.SMTPError
		switch {
		case errors.As(err, &smtpErr):
			return buf, smtpErr // 552 for oversize, from go-smtp
		case errors.Is(err, smtp.ErrTooLongLine):
			return buf, errLineTooLong
		}
		return buf, fmt.Errorf("reading message data: %w", err)
	}
	return buf, nil
}

// readAll is io.ReadAll into b's spare room.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
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

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }
