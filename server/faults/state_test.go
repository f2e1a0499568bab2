package faults

import (
	"strings"
	"testing"
	"time"
)

// clock is a Set's time, moved by the test.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func stateSet(t *testing.T, r Rule) (*Set, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	s := NewSet()
	s.now = c.now
	if _, err := s.Add(r); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// outcome is what Fire decided: "pass", "drop" or the reply.
func outcome(s *Set, e Event) string {
	r, ok := s.Fire(e)
	switch {
	case !ok:
		return "pass"
	case r.Drop:
		return "drop"
	}
	rep, _ := r.ParsedReply()
	return rep.String()
}

func TestStatefulRules(t *testing.T) {
	rcpt := func(from, to string) Event { return Event{Stage: Rcpt, Sender: from, Recipients: []string{to}} }
	type step struct {
		advance time.Duration
		e       Event
		want    string
	}
	tests := []struct {
		name  string
		rule  Rule
		steps []step
	}{
		{"greylisting per pair, retry after 1m", Rule{Stage: Rcpt, Reply: "451 4.7.1 Greylisted", Attempts: 1, RetryAfter: Duration(time.Minute)}, []step{
			{0, rcpt("a@x", "b@y"), "451 4.7.1 Greylisted"},
			{30 * time.Second, rcpt("a@x", "b@y"), "451 4.7.1 Greylisted"}, // too soon
			{0, rcpt("a@x", "c@y"), "451 4.7.1 Greylisted"},                // another pair
			{31 * time.Second, rcpt("A@X", "B@Y"), "pass"},                 // case-insensitive, after 61 s
			{0, rcpt("a@x", "b@y"), "pass"},                                // remembered
			{0, rcpt("a@x", "c@y"), "451 4.7.1 Greylisted"},                // its first was 31 s ago
			{29 * time.Second, rcpt("a@x", "c@y"), "pass"},
		}},
		{"first two attempts, no wait", Rule{Stage: Mail, Reply: "421 4.3.2 Down", Attempts: 2}, []step{
			{0, Event{Stage: Mail, Sender: "a@x"}, "421 4.3.2 Down"},
			{0, Event{Stage: Mail, Sender: "a@x"}, "421 4.3.2 Down"},
			{0, Event{Stage: Mail, Sender: "a@x"}, "pass"},
		}},
		{"sequence for all", Rule{Stage: Rcpt, Sequence: []string{"550 5.1.1 No", "accept", "451 4.3.0 Later", "drop"}}, []step{
			{0, rcpt("a@x", "b@y"), "550 5.1.1 No"},
			{0, rcpt("c@x", "d@y"), "pass"},
			{0, rcpt("a@x", "b@y"), "451 4.3.0 Later"},
			{0, rcpt("a@x", "b@y"), "drop"},
			{0, rcpt("a@x", "b@y"), "pass"},
		}},
		{"sequence by message, after the content", Rule{Stage: Data, Key: KeyMessage, Sequence: []string{"452 4.3.1 Full"}}, []step{
			{0, Event{Stage: Data}, "pass"}, // before the content: not this rule's turn
			{0, Event{Stage: Data, Content: true, Raw: []byte("Message-ID: <1@x>\r\n\r\n")}, "452 4.3.1 Full"},
			{0, Event{Stage: Data, Content: true, Raw: []byte("Message-ID: <2@x>\r\n\r\n")}, "452 4.3.1 Full"},
			{0, Event{Stage: Data, Content: true, Raw: []byte("Message-ID: <1@x>\r\n\r\n")}, "pass"},
		}},
		{"throttle 2 a minute per listener", Rule{Stage: Mail, Reply: "454 4.7.0 Throttling failure", Throttle: &Throttle{Count: 2, Window: Duration(time.Minute), Per: "listener"}}, []step{
			{0, Event{Stage: Mail, Port: 25}, "pass"},
			{10 * time.Second, Event{Stage: Mail, Port: 25}, "pass"},
			{10 * time.Second, Event{Stage: Mail, Port: 25}, "454 4.7.0 Throttling failure"},
			{0, Event{Stage: Mail, Port: 587}, "pass"},
			{39 * time.Second, Event{Stage: Mail, Port: 25}, "454 4.7.0 Throttling failure"}, // 59 s in
			{time.Second, Event{Stage: Mail, Port: 25}, "pass"},                              // a new window
		}},
		{"throttle bytes per user", Rule{Stage: Data, Reply: "452 4.2.2 Over quota", Throttle: &Throttle{Bytes: 1000, Window: Duration(time.Hour), Per: "user"}}, []step{
			{0, Event{Stage: Data, Content: true, User: "u", Size: 600}, "pass"},
			{0, Event{Stage: Data, Content: true, User: "u", Size: 600}, "452 4.2.2 Over quota"},
			{0, Event{Stage: Data, Content: true, User: "u", Size: 400}, "pass"},
			{0, Event{Stage: Data, Content: true, User: "v", Size: 900}, "pass"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := stateSet(t, tc.rule)
			for i, st := range tc.steps {
				c.t = c.t.Add(st.advance)
				if got := outcome(s, st.e); got != st.want {
					t.Errorf("step %d: %s, want %s", i, got, st.want)
				}
			}
			if r := s.Rules()[0]; r.State == nil || len(r.State.Entries) == 0 {
				t.Errorf("no state shown: %+v", r)
			}
		})
	}
}

func TestStatefulRuleErrors(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{Stage: Rcpt, Attempts: 1}, "does nothing"},
		{Rule{Stage: Rcpt, Delay: Duration(time.Second), Attempts: 1}, "need the Reply"},
		{Rule{Stage: Rcpt, Reply: "451", Attempts: 1, Throttle: &Throttle{Count: 1, Window: Duration(time.Second)}}, "one of Attempts, Sequence and Throttle"},
		{Rule{Stage: Rcpt, Reply: "451", RetryAfter: Duration(time.Second)}, "RetryAfter applies with Attempts"},
		{Rule{Stage: Rcpt, Reply: "451", Attempts: 1, Probability: 0.5}, "Probability does not combine"},
		{Rule{Stage: Rcpt, Reply: "451", Attempts: 1, Key: KeyMessage}, "Key message applies at data"},
		{Rule{Stage: Ehlo, Reply: "451", Attempts: 1, Key: KeyEnvelope}, "Key envelope applies at mail"},
		{Rule{Stage: Rcpt, Reply: "451", Key: KeyAll}, "Key applies with Attempts or Sequence"},
		{Rule{Stage: Rcpt, Sequence: []string{"250 ok"}}, "Sequence[0]"},
		{Rule{Stage: Rcpt, Reply: "451", Sequence: []string{"accept"}}, "leave Reply and Drop out"},
		{Rule{Stage: Quit, Sequence: []string{"drop"}}, "Drop at quit"},
		{Rule{Stage: Rset, Sequence: []string{"451 no"}}, "Reply at rset"},
		{Rule{Stage: Mail, Reply: "454", Throttle: &Throttle{Window: Duration(time.Second)}}, "give Count or Bytes"},
		{Rule{Stage: Mail, Reply: "454", Throttle: &Throttle{Bytes: 5, Window: Duration(time.Second)}}, "Bytes applies at data"},
		{Rule{Stage: Mail, Reply: "454", Throttle: &Throttle{Count: 5}}, "Throttle.Window"},
		{Rule{Stage: Mail, Reply: "454", Throttle: &Throttle{Count: 5, Window: Duration(time.Second), Per: "moon"}}, "Throttle.Per"},
		{Rule{Stage: Auth, Reply: "454", Throttle: &Throttle{Count: 5, Window: Duration(time.Second), Per: "sender"}}, "Per sender applies"},
	} {
		err := tc.rule.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.rule, err, tc.want)
		}
	}
}

func TestParseStatefulRules(t *testing.T) {
	rules, err := ParseRules("rcpt,reply=451 4.7.1 Greylisted,attempts=1,retry-after=30s;mail,reply=454 4.7.0 Throttling failure,throttle=10/1m,per=connection;data,key=message,sequence=550 5.1.1 No|451 4.3.0 Later|accept;data,reply=452,throttle=5/1h,throttle-bytes=1000/1h")
	if err != nil {
		t.Fatal(err)
	}
	if r := rules[0]; r.Attempts != 1 || time.Duration(r.RetryAfter) != 30*time.Second {
		t.Errorf("greylisting: %+v", r)
	}
	if th := rules[1].Throttle; th == nil || th.Count != 10 || time.Duration(th.Window) != time.Minute || th.Per != "connection" {
		t.Errorf("throttle: %+v", th)
	}
	if r := rules[2]; r.Key != KeyMessage || strings.Join(r.Sequence, "|") != "550 5.1.1 No|451 4.3.0 Later|accept" {
		t.Errorf("sequence: %+v", r)
	}
	if th := rules[3].Throttle; th.Count != 5 || th.Bytes != 1000 {
		t.Errorf("both limits: %+v", th)
	}
	for _, bad := range []string{"mail,reply=454,throttle=10", "data,reply=452,throttle=5/1h,throttle-bytes=9/1m", "rcpt,reply=451,attempts=x"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
