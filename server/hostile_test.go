package server_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/sinktest"
)

// TestHostileCorpus sends every message of testdata/hostile: each is either
// captured (and then readable through every endpoint, byte-exact) or
// refused with an SMTP reply; the sink neither crashes nor balloons.
func TestHostileCorpus(t *testing.T) {
	// Not parallel: each case measures the heap of the whole test process,
	// which other tests' allocations would move. Serial tests run before any
	// parallel test is released, so nothing else runs meanwhile.
	files, err := filepath.Glob("../testdata/hostile/*.eml")
	if err != nil || len(files) < 8 {
		t.Fatalf("hostile corpus: %d files, %v", len(files), err)
	}
	s := sinktest.Start(t)
	ctx := context.Background()
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rcpt := name + "@hostile.test"
			c := dial(t, s.Addr(2525), nil, false)
			err = send(c, "a@example.test", []string{rcpt}, string(raw))
			var se *smtp.SMTPError
			if errors.As(err, &se) {
				t.Logf("refused with %d %v %s", se.Code, se.EnhancedCode, se.Message)
				if se.Code < 500 || se.Code > 554 {
					t.Fatalf("refused with %d: want a permanent 5xx reply", se.Code)
				}
				return
			}
			if err != nil {
				t.Fatalf("the sink did not answer: %v", err)
			}

			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			list, err := s.Client.Search(ctx, "to:"+rcpt, 0, 1)
			if err != nil || len(list.Messages) != 1 {
				t.Fatalf("search: %v %+v", err, list)
			}
			id := list.Messages[0].ID
			got, err := s.Client.Raw(ctx, id)
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("raw not byte-exact (%d vs %d bytes): %v", len(got), len(raw), err)
			}
			m, err := s.Client.Message(ctx, id)
			if err != nil {
				t.Fatalf("message view: %v", err)
			}
			if _, err := s.Client.Headers(ctx, id); err != nil {
				t.Fatalf("headers: %v", err)
			}
			for i, a := range append(m.Attachments, m.Inline...) {
				if i >= 20 {
					break
				}
				if _, err := s.Client.Part(ctx, id, a.PartID); err != nil {
					t.Fatalf("part %s: %v", a.PartID, err)
				}
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// Reading a message may allocate, but must not hold on to more
			// than a small multiple of its size (no zip-bomb inflation).
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
				t.Fatalf("heap grew %d MB reading a %d KB message", grown>>20, len(raw)>>10)
			}
		})
	}
	if _, err := s.Client.List(ctx, 0, 50); err != nil {
		t.Fatalf("listing after the hostile corpus: %v", err)
	}
}

// A small message whose MIME structure would cost enmime minutes neither
// slows the API nor holds up delivery: it is listed at once, searchable,
// downloadable byte-exact, and its view names the limit.
func TestCostlyMIMEStructureIsBounded(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../testdata/hostile/11-unclosed-nesting-26-deep.eml")
	if err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t)
	ctx := context.Background()
	deliver(t, s, "a@example.test", []string{"deep@hostile.test"}, string(raw))
	start := time.Now()
	if _, err := s.Client.List(ctx, 0, 50); err != nil {
		t.Fatal(err)
	}
	found, err := s.Client.Search(ctx, "leaf", 0, 10) // a body-text search parses
	if err != nil || len(found.Messages) != 1 {
		t.Fatalf("search: %+v %v", found, err)
	}
	deliver(t, s, "a@example.test", []string{"after@example.test"}, testMsg)
	m, err := s.Client.Message(ctx, found.Messages[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: the same calls took 35 s each before the budget.
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("list, search, delivery and view took %v", took)
	}
	if !strings.Contains(strings.Join(m.Errors, " "), "never closed") {
		t.Fatalf("view errors %q do not name the limit", m.Errors)
	}
	got, err := s.Client.Raw(ctx, m.ID)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("raw not byte-exact: %v", err)
	}
}
