package smtpd

import "sync/atomic"

// Stats are a listener's counters since it was bound. They are kept with
// one atomic add per connection and per reply, and read only when asked
// (GET /metrics), so the SMTP path pays nothing measurable for them.
type Stats struct {
	Listener string         // the listener's name, e.g. "smtp-587"
	Port     int            // the port it is bound to
	Sessions uint64         // connections that got a transcript: served, or refused past the connection limit
	Open     int            // connections being served now
	Replies  map[int]uint64 // final reply lines sent to clients, by code; only codes sent are present
}

// counters are a listener's Stats as they are kept.
type counters struct {
	sessions atomic.Uint64
	replies  [600]atomic.Uint64 // by reply code, 100 to 599
}

func (c *counters) reply(code int) {
	if code >= 100 && code < len(c.replies) {
		c.replies[code].Add(1)
	}
}

// Stats returns the listener's counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	open := len(l.conns)
	l.mu.Unlock()
	st := Stats{Listener: l.name, Port: l.cfg.Port, Sessions: l.counters.sessions.Load(), Open: open, Replies: map[int]uint64{}}
	for code := range l.counters.replies {
		if n := l.counters.replies[code].Load(); n > 0 {
			st.Replies[code] = n
		}
	}
	return st
}
