package faults

import (
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 User unknown": "550 5.1.1 User unknown",
		"421 try again later":    "421 try again later",
		"452":                    "452 Fault injected by mailsink",
		"451 4.3.0":              "451 4.3.0 Fault injected by mailsink",
		"550 1.2 odd text":       "550 1.2 odd text",
	} {
		r, err := ParseReply(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseReply(%q) = %q, %v; want %q", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "250 ok", "abc", "550 4.1.1 wrong class"} {
		if _, err := ParseReply(bad); err == nil {
			t.Errorf("ParseReply(%q) accepted", bad)
		}
	}
}

func TestFire(t *testing.T) {
	s := NewSet()
	_, err := s.Add(
		Rule{ID: "bounce", Stage: Rcpt, Recipient: "*@bounce.test", Reply: "550 5.1.1 User unknown"},
		Rule{ID: "once", Stage: Mail, Reply: "451 4.3.0 later", Times: 1, Port: 587},
		Rule{ID: "slow", Stage: Connect, Delay: Duration(1)},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Stage: Rcpt, Recipients: []string{"a@BOUNCE.test"}}, "bounce"},
		{Event{Stage: Rcpt, Recipients: []string{"a@ok.test"}}, ""},
		{Event{Stage: Mail, Port: 25}, ""},
		{Event{Stage: Mail, Port: 587}, "once"},
		{Event{Stage: Mail, Port: 587}, ""}, // Times exhausted
		{Event{Stage: Connect, Port: 25}, "slow"},
	}
	for i, tt := range tests {
		r, ok := s.Fire(tt.e)
		if (ok && r.ID != tt.want) || (!ok && tt.want != "") {
			t.Errorf("%d: fired %q (%v), want %q", i, r.ID, ok, tt.want)
		}
	}
	s.rand = func() float64 { return 0.7 }
	s.RemoveIf(nil)
	s.Add(Rule{Stage: Rcpt, Reply: "550 x", Probability: 0.5})
	if _, ok := s.Fire(Event{Stage: Rcpt}); ok {
		t.Error("fired above its probability")
	}
	s.rand = func() float64 { return 0.2 }
	if _, ok := s.Fire(Event{Stage: Rcpt}); !ok {
		t.Error("did not fire below its probability")
	}
}

func TestParseRules(t *testing.T) {
	rules, err := ParseRules("rcpt,recipient=*@bounce.test,reply=550 5.1.1 User unknown; connect,delay=2s,port=587 ;data,drop")
	if err != nil || len(rules) != 3 || rules[0].Reply != "550 5.1.1 User unknown" || rules[1].Port != 587 || !rules[2].Drop {
		t.Fatalf("compact: %+v, %v", rules, err)
	}
	rules, err = ParseRules(`[{"Stage":"auth","Reply":"535 5.7.8 no","Probability":0.5,"Delay":"1s"}]`)
	if err != nil || len(rules) != 1 || rules[0].Probability != 0.5 {
		t.Fatalf("JSON: %+v, %v", rules, err)
	}
	for spec, want := range map[string]string{
		"helo,reply=550":                    "Stage",
		"rcpt":                              "does nothing",
		"mail,reply=550 x,drop":             "not both",
		"ehlo,recipient=x,reply=550":        "Recipient applies",
		"rcpt,reply=550,probability=2":      "Probability",
		"rcpt,reply=550,color=red":          "unknown key",
		"rcpt,recipient=[,reply=550":        "pattern",
		`[{"Stage":"rcpt","Delay":"soon"}]`: "duration",
	} {
		if _, err := ParseRules(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", spec, err, want)
		}
	}
}
