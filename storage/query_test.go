package storage

import (
	"strings"
	"testing"
	"time"
)

func TestParseQuery(t *testing.T) {
	s := New(Limits{})
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	mk := func(raw string, env Envelope, d Delivery) {
		if _, err := s.Add([]byte(raw), env, d); err != nil {
			t.Fatal(err)
		}
	}
	mk("From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nCc: carol@example.test\r\nSubject: Reset your password\r\nMessage-ID: <abc@example.test>\r\n\r\nClick https://app.test/reset?t=1\r\n",
		Envelope{From: "bounce@app.test", To: []string{"bob@example.test", "hidden+t42@example.test"}}, Delivery{Port: 587, AuthUser: "app", Received: now.Add(-2 * time.Hour)})
	mk("From: =?UTF-8?B?w4lsaXNl?= <elise@example.test>\r\nTo: dave@example.test\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= order\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0IHdvcmQ=\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=bill.pdf\r\n\r\n%PDF\r\n--b--\r\n",
		Envelope{From: "elise@example.test", To: []string{"dave@example.test"}}, Delivery{Port: 25, Received: now})

	tests := []struct {
		q    string
		want string // subjects, newest first
	}{
		{"", "Café order,Reset your password"},
		{"to:bob", "Reset your password"},
		{"to:hidden+t42@example.test", "Reset your password"}, // envelope-only (Bcc)
		{"bcc:hidden+t42", "Reset your password"},
		{"from:ÉLISE", "Café order"},
		{"from:bounce@app.test", "Reset your password"},
		{"cc:carol", "Reset your password"},
		{"subject:\"your password\"", "Reset your password"},
		{"subject:café", "Café order"},
		{"message-id:<abc@example.test>", "Reset your password"},
		{"has:attachment", "Café order"},
		{"-has:attachment", "Reset your password"},
		{"!has:attachment", "Reset your password"},
		{"reset?t=1", "Reset your password"},
		{"\"secret word\"", "Café order"}, // inside base64
		{"bill.pdf", "Café order"},
		{"port:587", "Reset your password"},
		{"auth:APP", "Reset your password"},
		{"after:1h", "Café order"},
		{"before:2026-01-10T11:00:00", "Reset your password"},
		{"after:2026-01-10", "Café order,Reset your password"},
		{"larger:1kb", ""},
		{"smaller:1kb", "Café order,Reset your password"},
		{"is:unread to:dave", "Café order"},
		{"is:read", ""},
		{"addressed:carol", "Reset your password"},
		{"nothing-matches-this", ""},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			f, err := ParseQuery(tt.q, now, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(s.List(f, 0, 0)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	for q, want := range map[string]string{
		`subject:"open`:  "unterminated quote",
		"is:sometimes":   "is:read, is:unread or is:tagged",
		"has:kids":       "has:attachment",
		"before:someday": "not a date",
		"larger:huge":    "not a size",
		"port:smtp":      "not a port",
		"from:":          "needs a value",
	} {
		_, err := ParseQuery(q, time.Now(), time.UTC)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", q, err, want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for _, tt := range []struct {
		hay, needle string
		want        bool
	}{
		{"Hello World", "world", true}, {"HELLO", "hello", true}, {"hel", "hello", false},
		{"xxWoRlDxx", "world", true}, {"", "a", false}, {"abc", "", true}, {"wwworld", "world", true},
	} {
		if got := containsFold([]byte(tt.hay), []byte(tt.needle)); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v", tt.hay, tt.needle, got)
		}
	}
}
