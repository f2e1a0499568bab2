package smtpd

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// PauseMode is how a paused listener fails, as a real server that is down
// does: the three ways an application meets an outage.
type PauseMode string

const (
	PauseRefuse PauseMode = "refuse" // the port is closed: connecting is refused
	Pause421    PauseMode = "421"    // connections are answered 421 4.3.2 and closed
	PauseHang   PauseMode = "hang"   // connections are accepted and get no greeting until resumed
)

// ParsePauseMode reads a mode; "" is PauseRefuse.
func ParsePauseMode(s string) (PauseMode, error) {
	switch m := PauseMode(s); m {
	case "":
		return PauseRefuse, nil
	case PauseRefuse, Pause421, PauseHang:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want refuse, 421 or hang", s)
}

// pause is a listener's outage; resumed is closed when it ends.
type pause struct {
	mode    PauseMode
	since   time.Time
	resumed chan struct{}
}

// Paused reports the listener's outage: its mode and since when ("" when
// it is serving).
func (l *Listener) Paused() (PauseMode, time.Time) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.pause == nil {
		return "", time.Time{}
	}
	return l.pause.mode, l.pause.since
}

func (l *Listener) currentPause() *pause {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	return l.pause
}

// Pause starts an outage in mode. Sessions already open go on, and mail
// already accepted is not touched. Pausing a paused listener changes its
// mode.
func (l *Listener) Pause(mode PauseMode) error {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	select {
	case <-l.stopping:
		return errors.New("the listener is shutting down")
	default:
	}
	old := l.pause
	if old != nil && old.mode == mode {
		return nil
	}
	if old != nil && old.mode == PauseRefuse { // the port must be open again for the new mode
		if err := l.reopenLocked(); err != nil {
			return err
		}
	}
	p := &pause{mode: mode, since: time.Now(), resumed: make(chan struct{})}
	l.pause = p
	if old != nil { // whoever waits on the old mode looks again
		p.since = old.since
		close(old.resumed)
	}
	if mode == PauseRefuse {
		l.lnMu.Lock()
		l.ln.Close() // Serve sees the pause and waits for the port to reopen
		l.lnMu.Unlock()
	}
	l.log.Info("listener paused", "mode", mode)
	return nil
}

// Resume ends the outage: a closed port is bound again (an error if
// something else took it meanwhile), and held connections get their
// greeting.
func (l *Listener) Resume() error {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	p := l.pause
	if p == nil {
		return nil
	}
	if p.mode == PauseRefuse {
		if err := l.reopenLocked(); err != nil {
			return err
		}
	}
	l.pause = nil
	close(p.resumed)
	l.log.Info("listener resumed", "after", time.Since(p.since).Round(time.Millisecond))
	return nil
}

// reopenLocked binds the port again after PauseRefuse closed it.
func (l *Listener) reopenLocked() error {
	select {
	case <-l.stopping:
		return errors.New("the listener is shutting down")
	default:
	}
	l.lnMu.Lock()
	defer l.lnMu.Unlock()
	ln, err := net.Listen("tcp", l.boundAddr)
	if err != nil {
		return fmt.Errorf("binding %s again: %w", l.boundAddr, err)
	}
	l.ln = ln
	return nil
}

func (l *Listener) listener() net.Listener {
	l.lnMu.Lock()
	defer l.lnMu.Unlock()
	return l.ln
}

// whilePaused answers a connection accepted during an outage; it reports
// whether it took the connection.
func (l *Listener) whilePaused(c net.Conn) bool {
	p := l.currentPause()
	if p == nil {
		return false
	}
	switch p.mode {
	case Pause421:
		// Off the accept loop (an implicit-TLS handshake may take its
		// time), a bounded number at once, as past the connection limit.
		select {
		case l.refusing <- struct{}{}:
			go func() {
				defer func() { <-l.refusing }()
				l.answerAndClose(c, "421 4.3.2 Service not available, closing transmission channel", "listener paused (421)")
			}()
		default:
			c.Close()
		}
	case PauseHang:
		if !l.opts.Conns.acquire() {
			c.Close()
			return true
		}
		oc := l.track(c)
		if oc == nil {
			l.opts.Conns.release()
			c.Close()
			return true
		}
		go l.hold(oc, p.resumed)
	default: // refuse: accepted just before the port closed
		c.Close()
	}
	return true
}

// hold keeps a connection without a byte until the listener resumes (then
// it is served, greeting and all) or stops.
func (l *Listener) hold(oc *observedConn, resumed <-chan struct{}) {
	oc.rec.note("listener paused (hang): the connection is held without a greeting until the listener resumes")
	for {
		select {
		case <-resumed:
		case <-l.stopping:
			oc.Close()
			oc.rec.end()
			l.untrack(oc)
			return
		}
		switch p := l.currentPause(); {
		case p == nil:
			oc.rec.note("listener resumed")
			l.serveConn(oc)
			return
		case p.mode == PauseHang:
			resumed = p.resumed
		default:
			oc.rec.note(fmt.Sprintf("listener paused (%s): connection closed", p.mode))
			oc.Close()
			oc.rec.end()
			l.untrack(oc)
			return
		}
	}
}
