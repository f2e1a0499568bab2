package smtpd

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/storage"
)

var (
	errTLSRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errAuthNeeded  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errAuthInvalid = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	errStoreFull   = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big for the store"}
)

type backend struct{ l *Listener }

// NewSession is called at EHLO/HELO, and again after STARTTLS.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{l: b.l, conn: c}, nil
}

// session is one SMTP transaction context between EHLO and QUIT.
type session struct {
	l    *Listener
	conn *smtp.Conn

	authMech, authUser string
	from               string
	to                 []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) tlsState() (tls.ConnectionState, bool) { return s.conn.TLSConnectionState() }

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
	check := func(user, pass string) error {
		if err := s.checkCredentials(user, pass); err != nil {
			return err
		}
		s.authMech, s.authUser = mech, user
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
	s.from = from
	s.to = s.to[:0]
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			return smtpErr // 552 for oversize, from go-smtp
		}
		return fmt.Errorf("reading message data: %w", err)
	}
	raw := buf.Bytes()
	if cap(raw)-len(raw) > len(raw)/4 { // don't keep a mostly empty buffer alive
		raw = bytes.Clone(raw)
	}
	d := storage.Delivery{
		Listener:      s.l.cfg.Name(),
		Port:          s.l.cfg.Port,
		ClientAddr:    s.conn.Conn().RemoteAddr().String(),
		Helo:          s.conn.Hostname(),
		AuthMechanism: s.authMech,
		AuthUser:      s.authUser,
		Received:      time.Now(),
	}
	if st, ok := s.tlsState(); ok {
		d.TLS = true
		d.TLSVersion = tls.VersionName(st.Version)
		d.TLSCipher = tls.CipherSuiteName(st.CipherSuite)
	}
	env := storage.Envelope{From: s.from, To: append([]string(nil), s.to...)}
	m, err := s.l.store.Add(raw, env, d)
	if errors.Is(err, storage.ErrTooLarge) {
		return errStoreFull
	}
	if err != nil {
		s.l.log.Error("storing message", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not store the message, try again"}
	}
	s.l.log.Debug("captured", "id", m.ID, "from", s.from, "to", s.to, "size", len(raw))
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }
