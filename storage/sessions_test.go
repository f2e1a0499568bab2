package storage

import (
	"strings"
	"testing"
)

// The log's line text is bounded per transcript and over all of them:
// past the total, the oldest finished transcripts go first; open ones stay.
func TestSessionLogBytesAreBounded(t *testing.T) {
	s := New(Limits{})
	log := s.Sessions()
	log.SetSessionLimit(100000, 100000)
	open := log.Start(Transcript{Listener: "open"})
	open.Add("C", "still here")
	line := strings.Repeat("x", 1000)
	for range 2 * MaxSessionLogBytes / MaxTranscriptBytes {
		lt := log.Start(Transcript{})
		for range 2 * MaxTranscriptBytes / len(line) {
			lt.Add("C", line)
		}
		lt.End()
	}
	total, kept := 0, 0
	for _, tr := range log.List(nil) {
		n := 0
		for _, l := range tr.Lines {
			n += len(l.Text)
		}
		if n > MaxTranscriptBytes {
			t.Fatalf("a transcript keeps %d bytes, cap %d", n, MaxTranscriptBytes)
		}
		total += n
		kept++
	}
	if total > MaxSessionLogBytes {
		t.Fatalf("the log keeps %d bytes, cap %d", total, MaxSessionLogBytes)
	}
	if _, err := log.Get(open.ID()); err != nil {
		t.Fatal("an open transcript was forgotten")
	}
	if kept < MaxSessionLogBytes/MaxTranscriptBytes/2 {
		t.Fatalf("only %d transcripts kept", kept)
	}
}

// An open transcript is never forgotten to make room, so its bytes stay
// counted until it ends and goes the usual way.
func TestOpenTranscriptsAreNotEvicted(t *testing.T) {
	s := New(Limits{})
	log := s.Sessions()
	log.SetSessionLimit(2, 100)
	first := log.Start(Transcript{})
	for range 3 {
		log.Start(Transcript{}).End()
	}
	first.Add("C", "0123456789")
	if _, err := log.Get(first.ID()); err != nil {
		t.Fatal("an open transcript was evicted")
	}
	first.End()
	log.Clear()
	if log.total != 0 || len(log.sizes) != 0 || len(log.List(nil)) != 0 {
		t.Fatalf("after Clear: %d bytes in %d sizes, %d transcripts", log.total, len(log.sizes), len(log.List(nil)))
	}
}
