package storage

import (
	"os"
	"strings"
	"testing"
	"time"
)

// Messages whose MIME structure would take enmime seconds to minutes are
// not parsed: Parse returns at once, names the limit in Errors and shows
// the body as text; ordinary structures are parsed as before.
func TestParseBudget(t *testing.T) {
	tests := []struct {
		file      string
		overLimit bool
	}{
		{"11-unclosed-nesting-26-deep.eml", true},
		{"12-closed-nesting-5000-deep.eml", true},
		{"13-unclosed-quoted-30-deep.eml", true},
		{"03-ten-thousand-parts.eml", true},
		{"04-nested-500-deep.eml", true},
		{"08-empty-boundary.eml", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile("../testdata/hostile/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			p := Parse(string(raw))
			// Generous: these took 10 s to 35 s, and a few ms when refused.
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("Parse took %v", took)
			}
			refused := len(p.Errors) > 0 && strings.HasPrefix(p.Errors[0], "MIME structure not parsed: ")
			if refused != tt.overLimit {
				t.Fatalf("not parsed: %v, want %v (errors %q)", refused, tt.overLimit, p.Errors)
			}
			if refused && !strings.Contains(p.Text, "--") {
				t.Fatalf("the body is not shown as text: %.80q", p.Text)
			}
		})
	}
	// Real mail well inside the limits still gets the full parse.
	files, _ := os.ReadDir("../testdata/mail")
	for _, f := range files {
		raw, err := os.ReadFile("../testdata/mail/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if why := overBudget(string(raw)); why != "" {
			t.Errorf("%s is over the budget: %s", f.Name(), why)
		}
	}
}

func TestOverBudgetReadsBoundaries(t *testing.T) {
	tests := []struct {
		name, raw string
		over      bool
	}{
		{"none", "Subject: x\r\n\r\nbody\r\n", false},
		{"closed", "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n", false},
		{"four open", nested(4), false},
		{"five open", nested(5), true},
		{"quoted open", quoted(5), true},
		// Bounces quote the headers of the message they return, and replies
		// quote text: neither declares a multipart of this message.
		{"quoted headers", "Content-Type: text/plain\r\n\r\n" + strings.Repeat("> Content-Type: multipart/mixed; boundary=q\r\nboundary=3Dz\r\n", 8), false},
		{"returned headers", "Content-Type: multipart/report; boundary=r\r\n\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\n" +
			"Content-Type: multipart/mixed; boundary=a1\r\n\r\nContent-Type: multipart/mixed; boundary=a2\r\n\r\nContent-Type: multipart/mixed; boundary=a3\r\n\r\n" +
			"Content-Type: multipart/mixed; boundary=a4\r\n\r\nContent-Type: multipart/mixed; boundary=a5\r\n\r\n--r--\r\n", false},
	}
	for _, tt := range tests {
		if got := overBudget(tt.raw) != ""; got != tt.over {
			t.Errorf("%s: over %v, want %v (%s)", tt.name, got, tt.over, overBudget(tt.raw))
		}
	}
}

// nested is n unclosed multipart levels.
func nested(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\r\n\r\n--b" + string(rune('a'+i)) + "\r\n")
	}
	return b.String()
}

// quoted is n unclosed levels with quoted, upper-case boundary parameters.
func quoted(n int) string {
	var b strings.Builder
	for i := range n {
		v := "q " + string(rune('a'+i))
		b.WriteString("Content-Type: multipart/mixed;\r\n BOUNDARY=\"" + v + "\"\r\n\r\n--" + v + "\r\n")
	}
	return b.String()
}
