package server

import (
	"fmt"
	"os"

	"github.com/mailsink/mailsink/server/api"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/dkimverify"
	"github.com/mailsink/mailsink/server/smtpd"
)

// listenerControl is api.Listeners over the server's SMTP listeners;
// changed tells the inbox after a pause or resume.
type listenerControl struct {
	ls      []*smtpd.Listener
	changed func()
}

func (c listenerControl) List() []apitypes.Listener {
	out := make([]apitypes.Listener, len(c.ls))
	for i, l := range c.ls {
		cfg := l.Config()
		mode, since := l.Paused()
		out[i] = apitypes.Listener{
			Name: cfg.Name(), Port: cfg.Port, Addr: l.Addr().String(),
			TLS: string(cfg.TLS), Auth: string(cfg.Auth),
			Paused: mode != "", PauseMode: string(mode), PausedSince: since,
		}
	}
	return out
}

func (c listenerControl) find(port int) (*smtpd.Listener, error) {
	for _, l := range c.ls {
		if l.Config().Port == port {
			return l, nil
		}
	}
	return nil, api.ErrNoListener
}

func (c listenerControl) Pause(port int, mode string) error {
	l, err := c.find(port)
	if err != nil {
		return err
	}
	m, err := smtpd.ParsePauseMode(mode)
	if err != nil {
		return err
	}
	defer c.changed()
	return l.Pause(m)
}

func (c listenerControl) Resume(port int) error {
	l, err := c.find(port)
	if err != nil {
		return err
	}
	defer c.changed()
	return l.Resume()
}

// setDKIM gives the store its signature checker: keys from MAILSINK_DKIM_KEYS,
// and from DNS only when MAILSINK_DKIM_DNS is on.
func (s *Server) setDKIM() error {
	var records dkimverify.Records
	if s.cfg.DKIMKeys != "" {
		f, err := os.Open(s.cfg.DKIMKeys)
		if err != nil {
			return fmt.Errorf("MAILSINK_DKIM_KEYS: %w", err)
		}
		defer f.Close()
		if records, err = dkimverify.ParseRecords(f); err != nil {
			return fmt.Errorf("MAILSINK_DKIM_KEYS %s: %w", s.cfg.DKIMKeys, err)
		}
	}
	s.store.SetDKIMVerifier(dkimverify.New(dkimverify.Options{Records: records, DNS: s.cfg.DKIMDNS}))
	return nil
}
