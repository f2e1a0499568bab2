package faults

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Stateful rules remember what they saw, per key, so that a test can
// exercise what a real server does over time: refuse the first attempts
// of a delivery and accept the retry (greylisting), answer successive
// events from a script, or refuse past a rate (throttling). The state
// belongs to the rule: it is shown with it and goes when it is removed or
// reset.

// What Attempts and Sequence count per (Rule.Key).
const (
	KeyAll      = "all"      // every matching event together
	KeyEnvelope = "envelope" // the sender and the recipient (at rcpt), the recipients (at data)
	KeyMessage  = "message"  // the message: its Message-ID, or a hash of its content (data only)
)

// Throttle limits matching events per window; past the limit the rule
// answers until the window moves on. Windows are fixed: the first event
// counted starts one, which lasts Window; the first event after it starts
// the next. Events the rule refuses are not counted.
type Throttle struct {
	Count  int      `json:",omitempty"` // at most this many events per window
	Bytes  int64    `json:",omitempty"` // at most this many message bytes per window (data only)
	Window Duration // e.g. "1m"
	// Per says what has its own window: "all" (default), "connection",
	// "user" (the AUTH user; "" for none), "sender" or "listener".
	Per string `json:",omitempty"`
}

// State is what a stateful rule remembers, as GET /api/v1/faults shows it.
type State struct {
	Keys    int          // keys tracked (at most maxKeys; the least recently seen go first)
	Entries []StateEntry // the most recently seen, at most maxShown
}

// StateEntry is one key's state.
type StateEntry struct {
	Key     string // "" for KeyAll and Per "all"
	Seen    int    // events matched: attempts, sequence steps, events counted in the window
	Refused int    // of which the rule answered
	First   time.Time
	Last    time.Time
	// Passed: Attempts were used up and a delivery got through; later ones
	// pass too, as a greylisting server remembers a sender.
	Passed     bool      `json:",omitempty"`
	WindowEnds time.Time `json:",omitzero"`  // Throttle
	Bytes      int64     `json:",omitempty"` // Throttle: bytes counted in the window
}

const (
	maxKeys     = 10000
	maxShown    = 100
	maxSequence = 100
	maxWindow   = 24 * time.Hour
)

type ruleState struct {
	keys map[string]*StateEntry
}

func (st *ruleState) entry(k string, now time.Time) *StateEntry {
	if e, ok := st.keys[k]; ok {
		e.Last = now
		return e
	}
	if st.keys == nil {
		st.keys = map[string]*StateEntry{}
	}
	if len(st.keys) >= maxKeys { // forget the least recently seen
		var oldest string
		var at time.Time
		for k, e := range st.keys {
			if oldest == "" || e.Last.Before(at) {
				oldest, at = k, e.Last
			}
		}
		delete(st.keys, oldest)
	}
	e := &StateEntry{Key: k, First: now, Last: now}
	st.keys[k] = e
	return e
}

func (st *ruleState) snapshot() *State {
	out := &State{Keys: len(st.keys), Entries: make([]StateEntry, 0, min(len(st.keys), maxShown))}
	for _, e := range st.keys {
		out.Entries = append(out.Entries, *e)
	}
	sort.Slice(out.Entries, func(i, j int) bool {
		a, b := out.Entries[i], out.Entries[j]
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		return a.Key < b.Key
	})
	if len(out.Entries) > maxShown {
		out.Entries = out.Entries[:maxShown]
	}
	return out
}

// stateful reports whether the rule keeps state.
func (r *Rule) stateful() bool { return r.Attempts > 0 || len(r.Sequence) > 0 || r.Throttle != nil }

// step is one entry of a Sequence: a reply, a drop, or acceptance.
type step struct {
	reply  Reply
	drop   bool
	accept bool
}

func parseStep(s string) (step, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "accept", "ok", "pass":
		return step{accept: true}, nil
	case "drop":
		return step{drop: true}, nil
	}
	rep, err := ParseReply(s)
	return step{reply: rep}, err
}

// validateState checks the stateful fields; Validate calls it.
func (r *Rule) validateState() error {
	kinds := 0
	for _, b := range []bool{r.Attempts > 0, len(r.Sequence) > 0, r.Throttle != nil} {
		if b {
			kinds++
		}
	}
	if kinds > 1 {
		return fmt.Errorf("rule at %s: give one of Attempts, Sequence and Throttle", r.Stage)
	}
	if r.Attempts < 0 {
		return fmt.Errorf("Attempts %d: must not be negative", r.Attempts)
	}
	if r.RetryAfter != 0 && r.Attempts == 0 {
		return fmt.Errorf("RetryAfter applies with Attempts")
	}
	if r.RetryAfter < 0 || time.Duration(r.RetryAfter) > maxWindow {
		return fmt.Errorf("RetryAfter %s: want 0 to 24h", time.Duration(r.RetryAfter))
	}
	if kinds == 0 {
		if r.Key != "" {
			return fmt.Errorf("Key applies with Attempts or Sequence")
		}
		return nil
	}
	if r.Probability != 0 {
		return fmt.Errorf("Probability does not combine with Attempts, Sequence or Throttle, which decide by what they saw")
	}
	switch r.Key {
	case "", KeyAll:
	case KeyEnvelope:
		if r.Stage != Mail && r.Stage != Rcpt && r.Stage != Data {
			return fmt.Errorf("Key envelope applies at mail, rcpt or data, not %s", r.Stage)
		}
	case KeyMessage:
		if r.Stage != Data {
			return fmt.Errorf("Key message applies at data, not %s", r.Stage)
		}
	default:
		return fmt.Errorf("Key %q: want all, envelope or message", r.Key)
	}
	switch {
	case len(r.Sequence) > 0:
		if r.Reply != "" || r.Drop {
			return fmt.Errorf("Sequence gives the replies: leave Reply and Drop out")
		}
		if len(r.Sequence) > maxSequence {
			return fmt.Errorf("Sequence has %d steps: at most %d", len(r.Sequence), maxSequence)
		}
		r.steps = make([]step, len(r.Sequence))
		for i, s := range r.Sequence {
			st, err := parseStep(s)
			if err != nil {
				return fmt.Errorf("Sequence[%d]: %w (or \"accept\", \"drop\")", i, err)
			}
			if err := r.honoured(st.reply.Code != 0, st.drop); err != nil {
				return fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			if st.reply.Code != 0 {
				r.Sequence[i] = st.reply.String()
			} else {
				r.Sequence[i] = map[bool]string{true: "drop", false: "accept"}[st.drop]
			}
			r.steps[i] = st
		}
	case r.Reply == "" && !r.Drop:
		return fmt.Errorf("rule at %s: Attempts and Throttle need the Reply (or Drop) to refuse with", r.Stage)
	}
	if th := r.Throttle; th != nil {
		if r.Key != "" {
			return fmt.Errorf("Throttle counts per Throttle.Per, not Key")
		}
		if th.Count < 0 || th.Bytes < 0 || (th.Count == 0 && th.Bytes == 0) {
			return fmt.Errorf("Throttle: give Count or Bytes, above 0")
		}
		if th.Bytes > 0 && r.Stage != Data {
			return fmt.Errorf("Throttle.Bytes applies at data, not %s", r.Stage)
		}
		if th.Window <= 0 || time.Duration(th.Window) > maxWindow {
			return fmt.Errorf("Throttle.Window %s: want above 0, at most 24h", time.Duration(th.Window))
		}
		switch th.Per {
		case "", KeyAll, "connection", "user", "sender", "listener":
		default:
			return fmt.Errorf("Throttle.Per %q: want all, connection, user, sender or listener", th.Per)
		}
		if th.Per == "sender" && r.Stage != Mail && r.Stage != Rcpt && r.Stage != Data {
			return fmt.Errorf("Throttle.Per sender applies at mail, rcpt or data, not %s", r.Stage)
		}
	}
	return nil
}

// key is what the rule counts e under.
func (r *Rule) key(e Event) string {
	if th := r.Throttle; th != nil {
		switch th.Per {
		case "connection":
			return e.Conn
		case "user":
			return e.User
		case "sender":
			return strings.ToLower(e.Sender)
		case "listener":
			return strconv.Itoa(e.Port)
		}
		return ""
	}
	k := r.Key
	if k == "" && r.Attempts > 0 && (r.Stage == Mail || r.Stage == Rcpt || r.Stage == Data) {
		k = KeyEnvelope // greylisting: per sender and recipient
	}
	switch k {
	case KeyEnvelope:
		return strings.ToLower(e.Sender + " " + strings.Join(e.Recipients, ","))
	case KeyMessage:
		return e.messageKey
	}
	return ""
}

// decide updates the rule's state for e and reports whether it fires; a
// Sequence step it fires with is set on the copy it returns, with a note
// of where the rule stood for the transcript.
func (r *Rule) decide(e Event, now time.Time) (Rule, bool) {
	k := r.key(e)
	en := r.st.entry(k, now)
	who := ""
	if k != "" {
		who = " for " + k
	}
	out := *r
	switch {
	case r.Attempts > 0:
		if en.Passed {
			en.Seen++
			return Rule{}, false
		}
		en.Seen++
		switch {
		case en.Seen <= r.Attempts:
			out.note = fmt.Sprintf("attempt %d of %d refused%s", en.Seen, r.Attempts, who)
		case r.RetryAfter > 0 && now.Sub(en.First) < time.Duration(r.RetryAfter):
			out.note = fmt.Sprintf("attempt %d refused%s: %s after the first, retry after %s", en.Seen, who, now.Sub(en.First).Round(time.Millisecond), time.Duration(r.RetryAfter))
		default:
			en.Passed = true
			return Rule{}, false
		}
	case len(r.steps) > 0:
		en.Seen++
		if en.Seen > len(r.steps) {
			return Rule{}, false
		}
		st := r.steps[en.Seen-1]
		if st.accept {
			return Rule{}, false
		}
		out.Drop, out.reply, out.Reply = st.drop, st.reply, ""
		if !st.drop {
			out.Reply = st.reply.String()
		}
		out.note = fmt.Sprintf("step %d of %d%s", en.Seen, len(r.steps), who)
	case r.Throttle != nil:
		th := r.Throttle
		if en.WindowEnds.IsZero() || !now.Before(en.WindowEnds) {
			en.First, en.WindowEnds, en.Seen, en.Bytes = now, now.Add(time.Duration(th.Window)), 0, 0
		}
		over := (th.Count > 0 && en.Seen >= th.Count) || (th.Bytes > 0 && en.Bytes+int64(e.Size) > th.Bytes)
		if !over {
			en.Seen++
			en.Bytes += int64(e.Size)
			return Rule{}, false
		}
		limit := ""
		if th.Count > 0 {
			limit = fmt.Sprintf("%d", th.Count)
		}
		if th.Bytes > 0 {
			limit = strings.TrimPrefix(limit+fmt.Sprintf(" and %d bytes", th.Bytes), " and ")
		}
		out.note = fmt.Sprintf("throttled%s: over %s per %s, window ends in %s", who, limit, time.Duration(th.Window), en.WindowEnds.Sub(now).Round(time.Millisecond))
	}
	en.Refused++
	return out, true
}
