package storage

import (
	"fmt"
	"testing"
	"time"
)

// fill adds n ~1 KB messages with distinct recipients.
func fill(b *testing.B, n int) *Store {
	b.Helper()
	s := New(Limits{})
	for i := range n {
		to := fmt.Sprintf("user%d@example.test", i)
		raw := []byte("From: App <app@example.test>\r\nTo: " + to + "\r\nSubject: Message " + fmt.Sprint(i) +
			"\r\nMessage-ID: <" + fmt.Sprint(i) + "@example.test>\r\nDate: Thu, 28 Mar 2024 10:00:00 +0000\r\n\r\n" +
			"Hello, this is the body of a typical transactional message. Click https://app.test/x\r\n")
		if _, err := s.Add(raw, Envelope{From: "app@example.test", To: []string{to}}, Delivery{Port: 25}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkAdd(b *testing.B) {
	s := New(Limits{MaxMessages: 100_000})
	raw := []byte("From: App <app@example.test>\r\nTo: user@example.test\r\nSubject: Hello\r\n\r\nbody\r\n")
	env := Envelope{From: "app@example.test", To: []string{"user@example.test"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Add(raw, env, Delivery{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListNewest50Of100k(b *testing.B) {
	s := fill(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if p := s.List(nil, 0, 50); len(p.Messages) != 50 {
			b.Fatal(len(p.Messages))
		}
	}
}

func BenchmarkSearchToOf100k(b *testing.B) {
	s := fill(b, 100_000)
	f, err := ParseQuery("to:user99999@example.test", time.Now(), time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if p := s.List(f, 0, 50); p.Matched != 1 {
			b.Fatal(p.Matched)
		}
	}
}

func BenchmarkSearchFreeTextOf100k(b *testing.B) {
	s := fill(b, 100_000)
	f, err := ParseQuery("nothing-matches-this", time.Now(), time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		s.List(f, 0, 50)
	}
}

// BenchmarkFanOut100 publishes to 100 subscribers that keep up.
func BenchmarkFanOut100(b *testing.B) {
	s := New(Limits{MaxMessages: 1000})
	done := make(chan struct{})
	for range 100 {
		sub := s.Subscribe(4096)
		go func() {
			for range sub.C {
			}
			done <- struct{}{}
		}()
	}
	raw := []byte("Subject: x\r\n\r\nbody\r\n")
	b.ResetTimer()
	for b.Loop() {
		s.Add(raw, Envelope{}, Delivery{})
	}
	b.StopTimer()
	s.hub.mu.Lock()
	for sub := range s.hub.subs {
		s.hub.removeLocked(sub)
	}
	s.hub.mu.Unlock()
	for range 100 {
		<-done
	}
}
