// Package faults owns fault injection: rules that make an SMTP stage
// answer with a chosen reply, a delay or a dropped connection, so a test
// can produce the failures its application must survive. The SMTP side
// asks a Set at each stage; the API edits the Set at run time.
//
// It imports nothing of mailsink.
package faults

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stage is the point in an SMTP session where a rule applies.
type Stage string

const (
	Connect  Stage = "connect"  // instead of the greeting
	Ehlo     Stage = "ehlo"     // EHLO or HELO
	StartTLS Stage = "starttls" // STARTTLS
	Auth     Stage = "auth"     // AUTH
	Mail     Stage = "mail"     // MAIL FROM
	Rcpt     Stage = "rcpt"     // RCPT TO
	Data     Stage = "data"     // the reply after the message (drop: in the middle of it)
	Rset     Stage = "rset"     // RSET
	Quit     Stage = "quit"     // QUIT
)

// Stages lists every stage in session order.
var Stages = []Stage{Connect, Ehlo, StartTLS, Auth, Mail, Rcpt, Data, Rset, Quit}

// Reply is an SMTP reply: code, enhanced status code and text.
type Reply struct {
	Code     int
	Enhanced [3]int // zero: none
	Text     string
}

func (r Reply) String() string {
	if r.Enhanced[0] == 0 {
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return fmt.Sprintf("%d %d.%d.%d %s", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Text)
}

// ParseReply reads "550 5.1.1 User unknown", "421 try later" or "452".
func ParseReply(s string) (Reply, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Reply{}, fmt.Errorf("reply %q: want e.g. \"550 5.1.1 User unknown\"", s)
	}
	code, err := strconv.Atoi(f[0])
	if err != nil || code < 400 || code > 599 {
		return Reply{}, fmt.Errorf("reply %q: code %q is not a 4xx or 5xx SMTP code", s, f[0])
	}
	r := Reply{Code: code}
	rest := f[1:]
	if len(rest) > 0 {
		if parts := strings.Split(rest[0], "."); len(parts) == 3 {
			ok := true
			for i, p := range parts {
				n, err := strconv.Atoi(p)
				if err != nil || n < 0 || n > 999 {
					ok = false
					break
				}
				r.Enhanced[i] = n
			}
			if ok {
				if r.Enhanced[0] != code/100 {
					return Reply{}, fmt.Errorf("reply %q: enhanced code %s does not match class %dxx", s, rest[0], code/100)
				}
				rest = rest[1:]
			} else {
				r.Enhanced = [3]int{}
			}
		}
	}
	r.Text = strings.Join(rest, " ")
	if r.Text == "" {
		r.Text = "Fault injected by mailsink"
	}
	return r, nil
}

// Rule is one fault. It fires at Stage when its conditions hold: on Port
// (0: any), for a sender or recipient matching a glob pattern (* and ?,
// case-insensitive), with Probability (0 or 1: always), and at most Times
// times (0: unlimited). When it fires it waits Delay, then answers Reply,
// or drops the connection if Drop, or else lets the session go on.
//
// A stateful rule decides by what it saw (state.go): Attempts refuses the
// first deliveries per Key and accepts the next (after RetryAfter, when
// set); Sequence answers successive matching events with its steps in
// turn; Throttle refuses past a rate. At most one of the three.
type Rule struct {
	ID          string
	Stage       Stage
	Reply       string   `json:",omitempty"` // e.g. "550 5.1.1 User unknown"
	Drop        bool     `json:",omitempty"`
	Delay       Duration `json:",omitempty"`
	Port        int      `json:",omitempty"`
	Sender      string   `json:",omitempty"`
	Recipient   string   `json:",omitempty"`
	Probability float64  `json:",omitempty"`
	Times       int      `json:",omitempty"`

	Attempts   int       `json:",omitempty"` // refuse the first Attempts per Key, then accept
	RetryAfter Duration  `json:",omitempty"` // with Attempts: refuse a retry sooner than this after the first attempt
	Sequence   []string  `json:",omitempty"` // successive events per Key get these: a reply, "drop" or "accept"; then all pass
	Key        string    `json:",omitempty"` // Attempts, Sequence: all, envelope (Attempts' default at mail, rcpt, data) or message
	Throttle   *Throttle `json:",omitempty"`

	Hits  int    // times fired so far
	State *State `json:",omitempty"` // a stateful rule's state, in answers; ignored when adding

	reply Reply
	steps []step     // Sequence, parsed
	st    *ruleState // owned by the Set, under its lock
	note  string     // where a stateful rule stood when it fired
}

// Duration is a time.Duration that reads and writes "2s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("%s: want a duration such as \"2s\" (Delay, RetryAfter, Throttle.Window)", b)
		}
		*d = Duration(time.Duration(n * float64(time.Second))) // plain numbers are seconds
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want one such as \"2s\" (Delay, RetryAfter, Throttle.Window)", s)
	}
	*d = Duration(v)
	return nil
}

// ParsedReply is the rule's reply; ok is false for delay-only or drop rules.
func (r Rule) ParsedReply() (Reply, bool) { return r.reply, r.Reply != "" }

// Describe is a short text for transcripts.
func (r Rule) Describe() string {
	var what []string
	if r.Delay > 0 {
		what = append(what, "delay "+time.Duration(r.Delay).String())
	}
	switch {
	case r.Drop:
		what = append(what, "drop connection")
	case r.Reply != "":
		what = append(what, r.reply.String())
	}
	if r.note != "" {
		what = append(what, "("+r.note+")")
	}
	return fmt.Sprintf("fault %s at %s: %s", r.ID, r.Stage, strings.Join(what, ", "))
}

// Validate checks the rule and prepares it for matching.
func (r *Rule) Validate() error {
	known := false
	r.Stage = Stage(strings.ToLower(string(r.Stage)))
	for _, s := range Stages {
		known = known || s == r.Stage
	}
	if !known {
		return fmt.Errorf("Stage %q: want one of connect, ehlo, starttls, auth, mail, rcpt, data, rset, quit", r.Stage)
	}
	if r.Reply == "" && !r.Drop && r.Delay <= 0 && len(r.Sequence) == 0 {
		return fmt.Errorf("rule at %s does nothing: give Reply, Drop, Delay or Sequence", r.Stage)
	}
	if r.Reply != "" && r.Drop {
		return fmt.Errorf("rule at %s: give Reply or Drop, not both", r.Stage)
	}
	if err := r.honoured(r.Reply != "", r.Drop); err != nil {
		return err
	}
	if err := r.validateState(); err != nil {
		return err
	}
	if r.Reply != "" {
		rep, err := ParseReply(r.Reply)
		if err != nil {
			return err
		}
		r.reply = rep
		r.Reply = rep.String()
	}
	if r.Delay < 0 || time.Duration(r.Delay) > 10*time.Minute {
		return fmt.Errorf("Delay %s: want 0 to 10m", time.Duration(r.Delay))
	}
	if r.Probability < 0 || r.Probability > 1 {
		return fmt.Errorf("Probability %v: want 0 to 1", r.Probability)
	}
	if r.Times < 0 || r.Port < 0 || r.Port > 65535 {
		return fmt.Errorf("Times and Port must not be negative")
	}
	if r.Sender != "" && r.Stage != Mail && r.Stage != Rcpt && r.Stage != Data {
		return fmt.Errorf("Sender applies at mail, rcpt or data, not %s", r.Stage)
	}
	if r.Recipient != "" && r.Stage != Rcpt && r.Stage != Data {
		return fmt.Errorf("Recipient applies at rcpt or data, not %s", r.Stage)
	}
	for _, p := range []string{r.Sender, r.Recipient} {
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return nil
}

// honoured reports whether go-smtp's hooks can give a reply or a drop at
// the rule's stage (README "Faults").
func (r *Rule) honoured(reply, drop bool) error {
	switch {
	case reply && (r.Stage == StartTLS || r.Stage == Rset || r.Stage == Quit):
		return fmt.Errorf("Reply at %s: go-smtp answers %s itself, so a rule there can only %s", r.Stage, strings.ToUpper(string(r.Stage)), map[Stage]string{StartTLS: "delay or drop", Rset: "delay or drop", Quit: "delay"}[r.Stage])
	case drop && r.Stage == Quit:
		return fmt.Errorf("Drop at quit: go-smtp closes the connection after its 221 anyway; a rule at quit can only delay")
	}
	return nil
}

// Event is what a stage knows when it asks for a fault.
type Event struct {
	Stage      Stage
	Port       int
	Sender     string   // MAIL FROM, once known
	Recipients []string // at rcpt: the one being added; at data: all
	Conn       string   // the connection (its session ID), for Throttle.Per connection
	User       string   // the AUTH user, once logged in

	// At data the stage asks twice: before reading the message (Content
	// false: only plain Drop rules, which hang up in the middle of it),
	// then after (Content true: every other rule, with Size and Raw).
	Content bool
	Size    int
	Raw     []byte // the message, for rules keyed by message (MessageKey)

	messageKey string // MessageKey(Raw), worked out by Fire when a rule needs it
}

// early reports whether the rule acts before a message's content is read:
// a plain drop at data.
func (r *Rule) early() bool { return r.Stage == Data && r.Drop && !r.stateful() }

func (r *Rule) matches(e Event) bool {
	if r.Stage != e.Stage || (r.Port != 0 && r.Port != e.Port) {
		return false
	}
	if e.Stage == Data && r.early() == e.Content {
		return false
	}
	if r.Sender != "" && !glob(r.Sender, e.Sender) {
		return false
	}
	if r.Recipient != "" {
		hit := false
		for _, rc := range e.Recipients {
			hit = hit || glob(r.Recipient, rc)
		}
		if !hit {
			return false
		}
	}
	return true
}

func glob(pattern, s string) bool {
	ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(s))
	return ok
}

// Set is the active rule list. It is safe for concurrent use.
type Set struct {
	mu    sync.Mutex
	rules []*Rule
	rand  func() float64
	now   func() time.Time
	// count mirrors len(rules), so that Fire, called for every SMTP
	// command, takes no lock while there are no rules (the usual case);
	// byMessage counts the rules keyed by message, whose key (a hash of the
	// content, perhaps) Fire works out before taking the lock.
	count     atomic.Int32
	byMessage atomic.Int32
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{rand: mrand.Float64, now: time.Now} }

// Add validates and appends rules, giving each an ID if it has none.
func (s *Set) Add(rules ...Rule) ([]Rule, error) {
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return nil, err
		}
		if rules[i].ID == "" {
			var b [4]byte
			_, _ = crand.Read(b[:])
			rules[i].ID = hex.EncodeToString(b[:])
		}
		rules[i].Hits, rules[i].State, rules[i].note = 0, nil, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, old := range s.rules {
		seen[old.ID] = true
	}
	for _, r := range rules {
		if seen[r.ID] {
			return nil, fmt.Errorf("rule ID %q is used twice", r.ID)
		}
		seen[r.ID] = true
	}
	for i := range rules {
		r := rules[i]
		r.st = &ruleState{}
		r.Sequence = append([]string(nil), r.Sequence...)
		if r.Throttle != nil {
			th := *r.Throttle
			r.Throttle = &th
		}
		s.rules = append(s.rules, &r)
		s.counted()
	}
	return rules, nil
}

// Rules returns a copy of the rule list.
func (s *Set) Rules() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Rule, len(s.rules))
	for i, r := range s.rules {
		out[i] = *r
		out[i].st = nil
		if r.stateful() {
			out[i].State = r.st.snapshot()
		}
	}
	return out
}

// Reset forgets what the rule with id has seen and its hits, as if it had
// just been added; it reports whether there was one.
func (s *Set) Reset(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if r.ID == id {
			r.Hits, r.st = 0, &ruleState{}
			return true
		}
	}
	return false
}

// Remove deletes the rule with id; it reports whether there was one.
func (s *Set) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.rules {
		if r.ID == id {
			s.rules = append(s.rules[:i], s.rules[i+1:]...)
			s.counted()
			return true
		}
	}
	return false
}

// RemoveIf deletes the rules f selects (nil: all).
func (s *Set) RemoveIf(f func(Rule) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.rules[:0]
	for _, r := range s.rules {
		if f != nil && !f(*r) {
			kept = append(kept, r)
		}
	}
	s.rules = kept
	s.counted()
}

// Fire returns the first rule that matches e and fires (after its
// probability and remaining times), counting the hit.
func (s *Set) Fire(e Event) (Rule, bool) {
	if s == nil || s.count.Load() == 0 {
		return Rule{}, false
	}
	if e.Raw != nil && s.byMessage.Load() > 0 {
		e.messageKey = MessageKey(e.Raw)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if !r.matches(e) || (r.Times > 0 && r.Hits >= r.Times) {
			continue
		}
		if r.stateful() {
			out, fire := r.decide(e, s.now())
			if !fire {
				continue
			}
			r.Hits++
			out.Hits, out.st, out.State = r.Hits, nil, nil
			return out, true
		}
		if r.Probability > 0 && r.Probability < 1 && s.rand() >= r.Probability {
			continue
		}
		r.Hits++
		out := *r
		out.st = nil
		return out, true
	}
	return Rule{}, false
}

// Wait sleeps for the rule's delay, or until done is closed.
func (r Rule) Wait(done <-chan struct{}) {
	if r.Delay <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(r.Delay))
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// counted refreshes the lock-free counts; s.mu is held.
func (s *Set) counted() {
	s.count.Store(int32(len(s.rules)))
	n := 0
	for _, r := range s.rules {
		if r.Key == KeyMessage {
			n++
		}
	}
	s.byMessage.Store(int32(n))
}
