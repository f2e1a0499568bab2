package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func msg(subject, to string) []byte {
	return []byte("From: A <a@example.test>\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\nbody of " + subject + "\r\n")
}

func add(t testing.TB, s *Store, subject, to string) *Message {
	t.Helper()
	m, err := s.Add(msg(subject, to), Envelope{From: "a@example.test", To: []string{to}}, Delivery{Port: 25})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func subjects(p Page) string {
	var out []string
	for _, m := range p.Messages {
		out = append(out, m.Header.Subject)
	}
	return strings.Join(out, ",")
}

func TestListPagesNewestFirst(t *testing.T) {
	s := New(Limits{})
	for i := range 5 {
		add(t, s, fmt.Sprint(i), "x@example.test")
	}
	tests := []struct {
		start, limit int
		want         string
	}{
		{0, 0, "4,3,2,1,0"}, {0, 2, "4,3"}, {2, 2, "2,1"}, {4, 10, "0"}, {5, 10, ""}, {99, 1, ""},
	}
	for _, tt := range tests {
		if got := subjects(s.List(nil, tt.start, tt.limit)); got != tt.want {
			t.Errorf("List(%d,%d) = %q, want %q", tt.start, tt.limit, got, tt.want)
		}
		odd := func(m *Message) bool { return true }
		if got := subjects(s.List(odd, tt.start, tt.limit)); got != tt.want {
			t.Errorf("filtered List(%d,%d) = %q, want %q", tt.start, tt.limit, got, tt.want)
		}
	}
}

func TestByteLimitEvictsOldestAndRefusesHuge(t *testing.T) {
	probe := New(Limits{})
	add(t, probe, "0", "x@example.test")
	one := probe.Stats().Bytes // what one such message costs, envelope and all
	s := New(Limits{MaxBytes: 3 * one})
	sub := s.Subscribe(16)
	defer sub.Close()
	for i := range 4 {
		add(t, s, fmt.Sprint(i), "x@example.test")
	}
	if got := subjects(s.List(nil, 0, 0)); got != "3,2,1" {
		t.Fatalf("kept %q", got)
	}
	if st := s.Stats(); st.Evicted != 1 || st.Bytes != 3*one || st.Total != 3 {
		t.Fatalf("stats %+v", st)
	}
	var types []EventType
	for range 5 {
		types = append(types, (<-sub.C).Type)
	}
	if fmt.Sprint(types) != "[new new new evict new]" {
		t.Fatalf("events %v", types)
	}
	if _, err := s.Add(make([]byte, 4*one), Envelope{}, Delivery{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge message: %v", err)
	}
}

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	s := New(Limits{})
	stuck := s.Subscribe(4) // never read
	live := s.Subscribe(1000)
	done := make(chan struct{})
	go func() {
		for range 100 {
			add(t, s, "x", "x@example.test")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Add blocked on a subscriber that does not read")
	}
	if !stuck.Dropped() {
		t.Fatal("stuck subscriber not dropped")
	}
	n := 0
	for range stuck.C { // drains the 4 buffered events, then sees the close
		n++
	}
	if n != 4 || live.Dropped() || len(live.C) != 100 {
		t.Fatalf("stuck got %d, live dropped=%v with %d", n, live.Dropped(), len(live.C))
	}
	live.Close()
	live.Close() // twice is fine
}

func TestDeleteAndReadFlags(t *testing.T) {
	s := New(Limits{})
	a := add(t, s, "a", "x@example.test")
	b := add(t, s, "b", "y@example.test")
	if got := s.SetRead(nil, true); len(got) != 2 || s.Stats().Unread != 0 {
		t.Fatalf("SetRead all: %v, unread %d", got, s.Stats().Unread)
	}
	if got := s.Delete(a.ID, "unknown"); len(got) != 1 || got[0] != a.ID {
		t.Fatalf("Delete = %v", got)
	}
	if _, err := s.Get(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted: %v", err)
	}
	if m, err := s.Latest(nil); err != nil || m != b {
		t.Fatalf("Latest = %v, %v", m, err)
	}
	s.DeleteMatching(nil)
	if st := s.Stats(); st.Total != 0 || st.Bytes != 0 || st.Deleted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConcurrentAddListDelete(t *testing.T) {
	s := New(Limits{MaxMessages: 50})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				m := add(t, s, fmt.Sprint(w, i), fmt.Sprintf("w%d@example.test", w))
				s.List(nil, 0, 10)
				if i%10 == 0 {
					s.Delete(m.ID)
					s.SetRead(nil, true)
				}
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Total > 50 || st.Accepted != 800 || int(st.Deleted+st.Evicted)+st.Total != 800 {
		t.Fatalf("stats %+v", st)
	}
}

// A connection that delivers without end must not grow its transcript
// without end: lines and message links stop at the line limit.
func TestTranscriptStaysBounded(t *testing.T) {
	s := New(Limits{})
	s.Sessions().SetSessionLimit(10, 3)
	lt := s.Sessions().Start(Transcript{Listener: "smtp-25"})
	for i := range 10 {
		lt.Add("C", fmt.Sprintf("MAIL FROM:<%d@example.test>", i))
		lt.Captured(fmt.Sprint(i))
	}
	if lt.Keeping() {
		t.Fatal("still keeping lines past the limit")
	}
	tr, err := s.Sessions().Get(lt.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Lines) != 4 || tr.Lines[3].Text != "(further lines not kept)" {
		t.Fatalf("lines %+v, want 3 and the note", tr.Lines)
	}
	if len(tr.MessageIDs) != 3 || tr.MessageIDs[2] != "2" {
		t.Fatalf("message IDs %v, want the first 3", tr.MessageIDs)
	}
}

// A Date header JSON cannot carry (zone +2400, year 0) must not make the
// message unreadable through the API: the date is moved to UTC or dropped.
func TestParseDateKeepsWhatJSONCanCarry(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Fri, 01 May 2026 10:00:00 +0200", "2026-05-01T10:00:00+02:00"},
		{"Fri, 01 May 2026 10:00:00 +2400", "2026-04-30T10:00:00Z"},
		{"Fri, 01 May 0000 00:00:00 +2400", "0001-01-01T00:00:00Z"}, // no date
		{"not a date", "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		got, err := parseDate(tt.in).MarshalJSON()
		if err != nil || string(got) != `"`+tt.want+`"` {
			t.Errorf("parseDate(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// A caller can reach the stored bytes only through Raw, whose result is a
// string: the compiler refuses any write through it, so what the header,
// envelope and search strings alias cannot change. What a caller can do is
// change its own copies, the slice given to Add and a []byte made from
// Raw's result; neither reaches the store.
func TestStoredBytesCannotBeChangedThroughTheAPI(t *testing.T) {
	s := New(Limits{})
	in := msg("original", "rcpt@example.test")
	want := string(in)
	m, err := s.Add(in, Envelope{From: "a@example.test", To: []string{"rcpt@example.test"}}, Delivery{})
	if err != nil {
		t.Fatal(err)
	}
	clear(in) // Add copied: the caller's slice is the caller's

	b := []byte(m.Raw())
	copy(b[bytes.Index(b, []byte("original")):], "tampered")
	if got := m.Raw(); got != want {
		t.Fatalf("Raw() = %q after the caller changed its copies, want %q", got, want)
	}
	if m.Size() != len(want) {
		t.Errorf("Size() = %d, want %d", m.Size(), len(want))
	}
	if m.Header.Subject != "original" || m.Header.To[0].Address != "rcpt@example.test" {
		t.Errorf("header summary changed: %+v", m.Header)
	}
	f, err := ParseQuery("to:rcpt@example.test subject:original body", time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.List(f, 0, 0).Matched; got != 1 {
		t.Errorf("search matched %d, want 1", got)
	}

	// Raw hands out the stored bytes themselves, as documented: no copy.
	if n := testing.AllocsPerRun(100, func() { _ = m.Raw() }); n != 0 {
		t.Errorf("Raw() allocates %v times, want 0", n)
	}
	if unsafe.StringData(m.Raw()) != &m.raw[0] {
		t.Error("Raw() is a copy, not the stored bytes")
	}
}

// The byte limit counts envelopes: many long recipients on a tiny message
// cannot grow the store past it.
func TestByteLimitCountsEnvelopes(t *testing.T) {
	s := New(Limits{MaxBytes: 1 << 20})
	var to []string
	for i := range 1000 {
		to = append(to, fmt.Sprintf("%0240d@example.test", i))
	}
	raw := []byte("Subject: tiny\r\n\r\nx\r\n")
	for range 100 {
		if _, err := s.Add(raw, Envelope{From: "a@example.test", To: to}, Delivery{}); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Bytes > 1<<20 || st.Total > 4 {
		t.Fatalf("%d messages, %d bytes kept under a 1 MiB limit", st.Total, st.Bytes)
	}
}
