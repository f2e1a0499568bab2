package server

import (
	"github.com/mailsink/mailsink/server/api"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/smtpd"
)

// listenerControl is api.Listeners over the server's SMTP listeners.
type listenerControl struct{ ls []*smtpd.Listener }

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
	return l.Pause(m)
}

func (c listenerControl) Resume(port int) error {
	l, err := c.find(port)
	if err != nil {
		return err
	}
	return l.Resume()
}
