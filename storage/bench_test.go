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

// typicalHeader is the header block of a transactional message as mailers
// send it: twenty-odd fields, which the capture scan reads one by one.
const typicalHeader = "Return-Path: <bounce@app.example.test>\r\nReceived: from app.example.test (app.example.test [192.0.2.10])\r\n\tby mx.example.test with ESMTPS id 4XyZ; Thu, 28 Mar 2024 10:00:00 +0000\r\n" +
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=app.example.test; s=s1; h=from:to:subject:date;\r\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\r\n" +
	"From: App <app@example.test>\r\nTo: user@example.test\r\nSubject: Your receipt\r\nDate: Thu, 28 Mar 2024 10:00:00 +0000\r\n" +
	"Message-ID: <20240328100000.1@app.example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n" +
	"List-Unsubscribe: <https://app.example.test/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-Mailer: app 1.0\r\nX-Campaign: receipts\r\n" +
	"Feedback-ID: 1:receipts:app\r\nAuto-Submitted: auto-generated\r\nPrecedence: bulk\r\nX-Entity-Ref-ID: 0001\r\n"

func benchmarkAdd(b *testing.B, header string) {
	s := New(Limits{MaxMessages: 100_000})
	raw := []byte(header + "\r\nThanks for your order.\r\n")
	env := Envelope{From: "bounce@app.example.test", To: []string{"user@example.test"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Add(raw, env, Delivery{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddTypical is capture of an untagged message with a real
// mailer's header: what tags must not make slower.
func BenchmarkAddTypical(b *testing.B) { benchmarkAdd(b, typicalHeader) }

// BenchmarkAddXTags is the same message with an X-Tags header.
func BenchmarkAddXTags(b *testing.B) { benchmarkAdd(b, typicalHeader+"X-Tags: receipts, Billing\r\n") }

// BenchmarkScanHeaderTypical is the capture path's header scan alone,
// which now looks for X-Tags too.
func BenchmarkScanHeaderTypical(b *testing.B) {
	raw := []byte(typicalHeader + "\r\nThanks for your order.\r\n")
	b.ReportAllocs()
	for b.Loop() {
		scanHeader(raw)
	}
}
