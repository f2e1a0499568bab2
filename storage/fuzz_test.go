package storage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// addCorpus seeds f with every message in testdata: the corpus and the
// hostile ones.
func addCorpus(f *testing.F) {
	files, _ := filepath.Glob("../testdata/mail/*.eml")
	hostile, _ := filepath.Glob("../testdata/hostile/*.eml")
	for _, file := range append(files, hostile...) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
}

// FuzzMessage feeds arbitrary bytes through everything the store does with
// a captured message: header summary, full parse, details, summary JSON.
// Nothing may panic, and the raw bytes must come back unchanged.
func FuzzMessage(f *testing.F) {
	addCorpus(f)
	f.Add([]byte(""))
	f.Add([]byte("Subject: =?x?Q?\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := New(Limits{MaxMessages: 2})
		keep := append([]byte(nil), raw...)
		m, err := s.Add(keep, Envelope{From: "a@example.test", To: []string{"b@example.test"}}, Delivery{})
		if err != nil {
			t.Fatal(err)
		}
		sum := m.Summary()
		if _, err := json.Marshal(sum); err != nil {
			t.Fatalf("summary does not encode: %v", err)
		}
		p := m.Parse()
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("parsed view does not encode: %v", err)
		}
		if m.Raw() != string(raw) {
			t.Fatal("raw bytes changed")
		}
	})
}

// FuzzParseQuery: any query string either compiles or is a QueryError,
// and a compiled filter runs on a real message without panicking.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"", "to:a", `subject:"x y" -is:read`, "before:2026-01-01 larger:2kb", "!has:attachment port:25", `"`, "from:", "after:10m auth:x"} {
		f.Add(q)
	}
	s := New(Limits{})
	m, _ := s.Add([]byte("From: a@b.test\r\nSubject: hi\r\n\r\nbody\r\n"), Envelope{To: []string{"c@d.test"}}, Delivery{Port: 25})
	f.Fuzz(func(t *testing.T, q string) {
		filter, err := ParseQuery(q, time.Now(), time.UTC)
		if err != nil {
			if _, ok := err.(*QueryError); !ok {
				t.Fatalf("error %T %v is not a QueryError", err, err)
			}
			return
		}
		if filter != nil {
			filter(m)
		}
	})
}

// FuzzScanHeader: the capture path's header scan finds the same first value
// of every summary field as net/textproto's full header read.
func FuzzScanHeader(f *testing.F) {
	addCorpus(f)
	for _, s := range []string{
		"", " Subject: folded first\r\n\r\n", "Subject: a\r\n\tb\r\n \r\n c\r\nTo: x@y\r\n\r\n",
		"subject :x\r\nSubject: y\r\n\r\n", ": empty name\r\nTo: t@u\r\n\r\n", "To: a\x00b\r\nFrom: c\r\n\r\n",
		"Subject: no blank line\r", "Foo\r\n :bar\r\nSubject: hi\r\n\r\n", "Subject: x\nCc: bare@lf\n\nbody", "SUBJECT: upper\r\nsubject: lower\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := scanHeader(raw)
		h := ReadHeader(string(raw))
		for i, name := range summaryFields {
			if want := h.Get(name); got[i] != want {
				t.Fatalf("%s: scan %q, textproto %q", name, got[i], want)
			}
		}
	})
}

// FuzzSimpleAddress: where the capture path's simple address reader
// answers, it answers what enmime's full parser does.
func FuzzSimpleAddress(f *testing.F) {
	for _, s := range []string{
		"a@b.test", "<a@b.test>", "Name <a@b.test>", "  Two Words   <x.y@z.test> ", "A  B <a@b>", "a.@b", "Name<a@b.c>",
		"\"Q\" <a@b>", "a@b, c@d", "=?utf-8?q?x?= <a@b>", "x <a@b> <c@d>", "Dr. X <a@b>", "a@[1.2.3.4]", "<a@b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := simpleAddress(v)
		if !ok {
			return
		}
		want := parseAddressList(nil, v)
		if len(want) != 1 || want[0] != got {
			t.Fatalf("%q: simple %+v, full parser %+v", v, got, want)
		}
	})
}
