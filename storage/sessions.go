package storage

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Transcript is the record of one SMTP connection, also one that delivered
// nothing: who connected where, what was said, and which messages it left.
// AUTH secrets are masked and message content is elided by the recorder.
type Transcript struct {
	ID         string
	Started    time.Time
	Ended      time.Time // zero while the connection is open
	Active     bool
	Listener   string
	Port       int
	ClientAddr string
	Helo       string
	TLS        bool
	TLSVersion string
	TLSCipher  string
	AuthUser   string
	MessageIDs []string // messages accepted in this session (the first as many as lines are kept)
	Faults     []string // fault rules that fired, e.g. "rcpt: 550 5.1.1 User unknown"
	Lines      []TranscriptLine
}

// TranscriptLine is one command, reply or note.
type TranscriptLine struct {
	At   time.Time
	Dir  string // "C" client, "S" server, "*" note from mailsink
	Text string
}

// LiveTranscript is a transcript being recorded. Its methods are safe for
// concurrent use.
type LiveTranscript struct {
	log   *SessionLog
	t     *Transcript // guarded by log.mu
	bytes int         // of line text kept; guarded by log.mu
	// cut is set once lines are no longer kept: recorders check it on
	// every line of every session, so it takes no lock.
	cut atomic.Bool
}

// SessionLog keeps the most recent transcripts in a bounded ring. What it
// holds is bounded three ways: transcripts (max), lines per transcript
// (maxLines) and bytes of line text, per transcript and over all of them.
type SessionLog struct {
	max      int
	hub      *hub
	now      func() time.Time
	mu       sync.Mutex
	ring     []*Transcript // oldest first
	sizes    map[*Transcript]int
	total    int // bytes of line text over the ring
	maxLines int
}

// Line text a transcript keeps at most, and all transcripts together;
// beyond the first a transcript stops keeping lines, beyond the second the
// oldest finished transcripts are forgotten.
const (
	MaxTranscriptBytes = 64 << 10
	MaxSessionLogBytes = 32 << 20
)

// SessionEvent tells subscribers a session started or ended.
const (
	EventSessionStart EventType = "session-start"
	EventSessionEnd   EventType = "session-end"
)

// Sessions returns the store's transcript log.
func (s *Store) Sessions() *SessionLog { return &s.sessions }

// SetSessionLimit sets how many transcripts are kept (default 1000) and how
// many lines each keeps (default 500; later lines are counted, not kept).
func (l *SessionLog) SetSessionLimit(sessions, lines int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max, l.maxLines = sessions, lines
}

// Start begins a transcript.
func (l *SessionLog) Start(t Transcript) *LiveTranscript {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max == 0 {
		l.max, l.maxLines = 1000, 500
	}
	t.ID = newID()
	t.Started = l.now()
	t.Active = true
	tp := &t
	// The oldest finished transcript makes room; open ones are never
	// forgotten (their connections still record into them), so the ring may
	// pass max by the connections open, which their own limit bounds.
	if len(l.ring) >= l.max {
		for i, old := range l.ring {
			if !old.Active {
				l.forget(i)
				break
			}
		}
	}
	l.ring = append(l.ring, tp)
	l.hub.publish(Event{Type: EventSessionStart, Transcript: snapshot(tp)})
	return &LiveTranscript{log: l, t: tp}
}

// forget drops the transcript at ring index i; l.mu is held.
func (l *SessionLog) forget(i int) {
	t := l.ring[i]
	l.total -= l.sizes[t]
	delete(l.sizes, t)
	l.ring = slices.Delete(l.ring, i, i+1)
}

// account adds n bytes of t's line text, forgetting the oldest finished
// transcripts while the whole log is over its byte cap; l.mu is held.
func (l *SessionLog) account(t *Transcript, n int) {
	if l.sizes == nil {
		l.sizes = map[*Transcript]int{}
	}
	l.sizes[t] += n
	l.total += n
	for i := 0; l.total > MaxSessionLogBytes && i < len(l.ring); {
		if l.ring[i].Active {
			i++
			continue
		}
		l.forget(i)
	}
}

// ID is the transcript's ID.
func (lt *LiveTranscript) ID() string { return lt.t.ID } // immutable after Start

// Add records a line.
func (lt *LiveTranscript) Add(dir, text string) {
	if lt.cut.Load() {
		return
	}
	lt.log.mu.Lock()
	defer lt.log.mu.Unlock()
	if len(lt.t.Lines) == lt.log.maxLines || lt.bytes+len(text) > MaxTranscriptBytes {
		lt.t.Lines = append(lt.t.Lines, TranscriptLine{At: lt.log.now(), Dir: "*", Text: "(further lines not kept)"})
		lt.cut.Store(true)
		return
	}
	lt.t.Lines = append(lt.t.Lines, TranscriptLine{At: lt.log.now(), Dir: dir, Text: text})
	lt.bytes += len(text)
	lt.log.account(lt.t, len(text))
}

// Keeping reports whether the transcript still keeps lines, so a recorder
// can skip formatting lines that would be dropped.
func (lt *LiveTranscript) Keeping() bool { return !lt.cut.Load() }

// Captured links a message accepted in the session. A session that
// delivers without end keeps as many IDs as it keeps lines, so a transcript
// stays bounded; each message still names its session.
func (lt *LiveTranscript) Captured(id string) {
	lt.log.mu.Lock()
	defer lt.log.mu.Unlock()
	if len(lt.t.MessageIDs) < lt.log.maxLines {
		lt.t.MessageIDs = append(lt.t.MessageIDs, id)
	}
}

// Update changes the transcript's facts under the lock.
func (lt *LiveTranscript) Update(f func(t *Transcript)) {
	lt.log.mu.Lock()
	defer lt.log.mu.Unlock()
	f(lt.t)
}

// End closes the transcript.
func (lt *LiveTranscript) End() {
	lt.log.mu.Lock()
	defer lt.log.mu.Unlock()
	if !lt.t.Active {
		return
	}
	lt.t.Active = false
	lt.t.Ended = lt.log.now()
	lt.log.hub.publish(Event{Type: EventSessionEnd, Transcript: snapshot(lt.t)})
}

func snapshot(t *Transcript) *Transcript {
	c := *t
	// Empty lists stay lists ([] in JSON, never null).
	c.Lines = append([]TranscriptLine{}, t.Lines...)
	c.MessageIDs = append([]string{}, t.MessageIDs...)
	c.Faults = append([]string{}, t.Faults...)
	return &c
}

// List returns copies of the transcripts f selects (nil: all), newest first.
func (l *SessionLog) List(f func(*Transcript) bool) []*Transcript {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Transcript
	for i := len(l.ring) - 1; i >= 0; i-- {
		if f == nil || f(l.ring[i]) {
			out = append(out, snapshot(l.ring[i]))
		}
	}
	return out
}

// Get returns a copy of one transcript.
func (l *SessionLog) Get(id string) (*Transcript, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.ring {
		if t.ID == id {
			return snapshot(t), nil
		}
	}
	return nil, ErrNotFound
}

// Clear forgets every finished transcript.
func (l *SessionLog) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(l.ring); {
		if l.ring[i].Active {
			i++
			continue
		}
		l.forget(i)
	}
}
