package storage

import (
	"sync"
	"testing"
	"time"
)

// Capture never checks signatures: the verifier runs on the first read of
// a message, once, and searches reuse the result.
func TestDKIMIsCheckedOnFirstReadOnly(t *testing.T) {
	s := New(Limits{})
	var mu sync.Mutex
	calls := 0
	s.SetDKIMVerifier(func(raw string) []DKIMResult {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return []DKIMResult{{Domain: "x.test", Result: "pass"}}
	})
	for range 3 {
		if _, err := s.Add([]byte("DKIM-Signature: v=1\r\nSubject: s\r\n\r\nbody\r\n"), Envelope{From: "a@x.test", To: []string{"b@y.test"}}, Delivery{Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 0 {
		t.Fatalf("%d checks while capturing, want none", calls)
	}
	f, err := ParseQuery("dkim:pass", time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(f); n != 3 || calls != 3 {
		t.Fatalf("dkim:pass matched %d with %d checks, want 3 and 3", n, calls)
	}
	m, _ := s.Latest(nil)
	if r := m.DKIM(); len(r) != 1 || r[0].Result != "pass" || calls != 3 {
		t.Errorf("read after the search: %+v, %d checks", r, calls)
	}
	if v := dkimVerdict(nil); v != "none" {
		t.Errorf("unsigned: %s", v)
	}
	if v := dkimVerdict([]DKIMResult{{Result: "fail"}, {Result: "temperror"}}); v != "fail" {
		t.Errorf("no pass: %s", v)
	}
}
