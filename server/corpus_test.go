package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/sinktest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// expectation is one entry of testdata/mail/expected.json, written by hand
// from the messages' sources.
type expectation struct {
	Subject      *string
	From         *apitypes.Address
	To, Cc       []apitypes.Address
	Attachments  *int
	Inline       *int
	TextContains string `json:"text_contains"`
	HTMLContains string `json:"html_contains"`
	Broken       bool
}

func TestCorpusRoundTrip(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/mail/*.eml")
	if err != nil || len(files) < 15 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	var expected map[string]expectation
	data, err := os.ReadFile("../testdata/mail/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &expected); err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t)
	ctx := context.Background()
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := expected[name]
			if !ok {
				t.Fatalf("no expectations for %s in expected.json", name)
			}
			rcpt := strings.TrimSuffix(name, ".eml") + "@corpus.test"
			c := dial(t, s.Addr(2525), tlsConfig(s), false)
			if err := c.Mail("sender@corpus.test", &smtp.MailOptions{UTF8: true, Body: smtp.Body8BitMIME}); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt(rcpt, nil); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			w.Write(raw)
			if err := w.Close(); err != nil {
				t.Fatalf("DATA: %v", err)
			}

			list, err := s.Client.Search(ctx, "to:"+rcpt, 0, 10)
			if err != nil || len(list.Messages) != 1 {
				t.Fatalf("search to:%s: %v, %+v", rcpt, err, list)
			}
			id := list.Messages[0].ID
			got, err := s.Client.Raw(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("raw differs from what was sent (%d vs %d bytes)", len(got), len(raw))
			}
			m, err := s.Client.Message(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if want.Subject != nil && m.Subject != *want.Subject {
				t.Errorf("Subject = %q, want %q", m.Subject, *want.Subject)
			}
			if want.From != nil && (m.From == nil || *m.From != *want.From) {
				t.Errorf("From = %+v, want %+v", m.From, *want.From)
			}
			if want.To != nil && !sameAddrs(m.To, want.To) {
				t.Errorf("To = %+v, want %+v", m.To, want.To)
			}
			if want.Cc != nil && !sameAddrs(m.Cc, want.Cc) {
				t.Errorf("Cc = %+v, want %+v", m.Cc, want.Cc)
			}
			if want.Attachments != nil && len(m.Attachments) != *want.Attachments {
				t.Errorf("%d attachments, want %d: %+v", len(m.Attachments), *want.Attachments, m.Attachments)
			}
			if want.Inline != nil && len(m.Inline) != *want.Inline {
				t.Errorf("%d inline parts, want %d: %+v", len(m.Inline), *want.Inline, m.Inline)
			}
			if !strings.Contains(m.Text, want.TextContains) {
				t.Errorf("Text lacks %q:\n%s", want.TextContains, m.Text)
			}
			if !strings.Contains(m.HTML, want.HTMLContains) {
				t.Errorf("HTML lacks %q:\n%s", want.HTMLContains, m.HTML)
			}
			for _, a := range append(m.Attachments, m.Inline...) {
				part, err := s.Client.Part(ctx, id, a.PartID)
				if err != nil || len(part) != a.Size {
					t.Errorf("part %s: %d bytes, %v; want %d", a.PartID, len(part), err, a.Size)
				}
			}
			golden(t, name, m)
		})
	}
}

func sameAddrs(a, b []apitypes.Address) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var volatile = regexp.MustCompile(`"(ID|Received|Date|ClientAddr|Port|Listener|SessionID|TLSVersion|TLSCipher)": "?[^",\n]*"?`)

// golden compares the API's JSON for a message with testdata/golden, with
// IDs, times and addresses normalised; -update rewrites it.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = volatile.ReplaceAll(got, []byte(`"$1": "…"`))
	path := filepath.Join("..", "testdata", "golden", strings.TrimSuffix(name, ".eml")+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./server -run Corpus -update): %v", err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(got)) {
		t.Errorf("API JSON differs from %s (rerun with -update if the change is intended):\n%s", path, got)
	}
}
