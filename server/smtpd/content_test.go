package smtpd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/storage"
)

// referenceUnstuff is go-smtp's dataReader rules written out one byte at a
// time, the way go-smtp applies them, with lineLimitReader's count: the
// oracle for contentScanner.
func referenceUnstuff(raw []byte, lineLimit int) (out []byte, used int, end, tooLong bool) {
	state, line := stBeginLine, 1
	for i, c := range raw {
		if lineLimit > 0 {
			if c == '\n' {
				line = 0
			}
			line++
			if line > lineLimit {
				tooLong = true
			}
		}
		keep := true
		switch state {
		case stBeginLine:
			switch c {
			case '.':
				state, keep = stDot, false
			case '\r':
				state = stCR
			default:
				state = stData
			}
		case stDot:
			if c == '\r' {
				state, keep = stDotCR, false
			} else {
				state = stData
			}
		case stDotCR:
			if c == '\n' {
				return out, i + 1, true, tooLong
			}
			state = stData
		case stCR:
			if c == '\n' {
				state = stBeginLine
			} else {
				state = stData
			}
		case stData:
			if c == '\r' {
				state = stCR
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	return out, len(raw), false, tooLong
}

// scanInChunks feeds raw to a contentScanner in reads of the given sizes
// (cycled), as capture does.
func scanInChunks(raw []byte, chunks []int, lineLimit int, maxSize int64) (out []byte, used int, end bool, s contentScanner) {
	s = newContentScanner(lineLimit, maxSize)
	buf := make([]byte, len(raw))
	w, r := 0, 0
	for k := 0; r < len(raw) && !end; k++ {
		n := min(max(chunks[k%len(chunks)], 1), len(raw)-r)
		copy(buf[w:], raw[r:r+n]) // the socket read lands at the write position
		var u int
		w, u, end = s.scan(buf, w, w, w+n)
		used += u
		r += n
	}
	return buf[:w], used, end, s
}

func TestContentScannerMatchesGoSMTPRules(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"plain", "Subject: x\r\n\r\nbody\r\n.\r\n"},
		{"stuffed dots", "a\r\n..leading\r\n...two\r\n.\r\nafter"},
		{"dot line not at end", "a\r\n.x\r\n.\r\n"},
		{"dot CR without LF", "a\r\n.\rX\r\n.\r\n"},
		{"dot CR CR", "a\r\n.\r\r\n.\r\n"},
		{"bare LF does not start a line", "a\n.\r\nb\r\n.\r\n"},
		{"CR CR LF", "a\r\r\n.\r\nb\r\n.\r\n"},
		{"empty message", ".\r\n"},
		{"first line stuffed", "..x\r\n.\r\n"},
		{"no end", "a\r\nb\r\n"},
		{"8-bit and NUL", "\xff\x00\xfe\r\n\x00.\r\n.\r\n"},
		{"pipelined after end", "m\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"},
	}
	chunkings := [][]int{{1 << 20}, {1}, {2}, {3, 1}, {5, 7, 11}}
	for _, tt := range tests {
		for _, ch := range chunkings {
			t.Run(fmt.Sprintf("%s/%v", tt.name, ch), func(t *testing.T) {
				wantOut, wantUsed, wantEnd, _ := referenceUnstuff([]byte(tt.raw), 0)
				out, used, end, _ := scanInChunks([]byte(tt.raw), ch, 0, 0)
				if !bytes.Equal(out, wantOut) || used != wantUsed || end != wantEnd {
					t.Fatalf("got %q used %d end %v; want %q used %d end %v", out, used, end, wantOut, wantUsed, wantEnd)
				}
				// Observing (go-smtp reads the bytes) finds the same end and
				// changes nothing.
				obs := contentScanner{observe: true}
				buf := []byte(tt.raw)
				_, oUsed, oEnd := obs.scan(buf, 0, 0, len(buf))
				if oUsed != wantUsed || oEnd != wantEnd || string(buf) != tt.raw {
					t.Fatalf("observing: used %d end %v, buffer %q", oUsed, oEnd, buf)
				}
			})
		}
	}
}

func TestContentScannerLimits(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		lineLimit   int
		maxSize     int64
		wantTooLong bool
		wantTooBig  bool
	}{
		{"line at limit", strings.Repeat("x", 8) + "\r\n.\r\n", 10, 0, false, false},
		{"line over limit", strings.Repeat("x", 9) + "\r\n.\r\n", 10, 0, true, false},
		{"long line without CR", strings.Repeat("x", 50), 10, 0, true, false},
		{"size at limit", "12345678\r\n.\r\n", 0, 10, false, false},
		{"size over limit", "123456789\r\n.\r\n", 0, 10, false, true},
		{"stuffing does not count", "..345678\r\n.\r\n", 0, 9, false, false},
	}
	for _, tt := range tests {
		for _, ch := range [][]int{{1 << 20}, {1}, {4}} {
			t.Run(fmt.Sprintf("%s/%v", tt.name, ch), func(t *testing.T) {
				_, _, _, refTooLong := referenceUnstuff([]byte(tt.raw), tt.lineLimit)
				if refTooLong != tt.wantTooLong {
					t.Fatalf("reference says tooLong=%v: the case is wrong", refTooLong)
				}
				out, _, _, s := scanInChunks([]byte(tt.raw), ch, tt.lineLimit, tt.maxSize)
				if s.tooLong != tt.wantTooLong || s.tooBig != tt.wantTooBig {
					t.Fatalf("tooLong %v tooBig %v, want %v %v", s.tooLong, s.tooBig, tt.wantTooLong, tt.wantTooBig)
				}
				if s.tooBig && len(out) > len(tt.raw) {
					t.Fatalf("kept %d bytes of an oversize message", len(out))
				}
			})
		}
	}
}

func FuzzContentScanner(f *testing.F) {
	f.Add([]byte("a\r\n..b\r\n.\rc\r\n.\r\nrest"), uint8(3), uint8(7))
	f.Add([]byte(".\r\n"), uint8(1), uint8(0))
	f.Add([]byte("x\n.\n\r\n.\r\r\n.\r\n"), uint8(2), uint8(5))
	f.Fuzz(func(t *testing.T, raw []byte, c1, c2 uint8) {
		const lineLimit = 16
		wantOut, wantUsed, wantEnd, wantLong := referenceUnstuff(raw, lineLimit)
		out, used, end, s := scanInChunks(raw, []int{int(c1), int(c2)}, lineLimit, 0)
		if s.tooLong != wantLong {
			// The reference counts to the end of raw; the scanner stops at
			// the end marker, so only a long line before it must be seen.
			_, _, _, beforeEnd := referenceUnstuff(raw[:wantUsed], lineLimit)
			if s.tooLong != beforeEnd {
				t.Fatalf("tooLong %v, want %v", s.tooLong, beforeEnd)
			}
		}
		if !bytes.Equal(out, wantOut) || used != wantUsed || end != wantEnd {
			t.Fatalf("got %q used %d end %v; want %q used %d end %v", out, used, end, wantOut, wantUsed, wantEnd)
		}
	})
}

// TestWireContentMatchesGoSMTP sends the same conversations to a listener
// whose wire reads DATA content and to one where go-smtp reads it (a debug
// log turns the wire's reading off), over real sockets, and compares the
// replies and what was stored: go-smtp is the oracle.
func TestWireContentMatchesGoSMTP(t *testing.T) {
	const maxSize, maxLine = 4096, 1000
	start := func(debug io.Writer) (*Listener, *storage.Store) {
		st := storage.New(storage.Limits{})
		opts := Options{Hostname: "diff.test", MaxMessageSize: maxSize, MaxLineLength: maxLine, Timeout: 10 * time.Second, Debug: debug}
		l, err := Listen("127.0.0.1:0", ListenerConfig{TLS: TLSNone, Auth: AuthOff}, opts, st)
		if err != nil {
			t.Fatal(err)
		}
		go l.Serve()
		t.Cleanup(func() { l.Close() })
		return l, st
	}
	wire, wireStore := start(nil)
	goSMTP, goStore := start(io.Discard)

	big := strings.Repeat(strings.Repeat("b", 70)+"\r\n", 80) // 5760 bytes: over maxSize
	tests := []struct{ name, content string }{
		{"plain", "Subject: a\r\n\r\nhello\r\n.\r\n"},
		{"stuffed", "Subject: b\r\n\r\n..dot\r\n...dots\r\n.\rodd\r\n.\r\n"},
		{"bare LF", "Subject: c\r\n\r\nline\n.\nnot the end\r\n.\r\n"},
		{"empty", ".\r\n"},
		{"binary", "Subject: d\r\n\r\n\x00\xff\xfe\r\n.\r\n"},
		{"oversize", big + ".\r\n"},
		{"line too long", "Subject: e\r\n\r\n" + strings.Repeat("x", 3*maxLine) + "\r\n.\r\n"},
		{"oversize, then a line too long", big + strings.Repeat("y", 3*maxLine) + "\r\n.\r\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcpt := fmt.Sprintf("r%d@diff.test", i)
			var replies [2]string
			for k, l := range []*Listener{wire, goSMTP} {
				replies[k] = converse(t, l.Addr().String(), rcpt, tt.content)
			}
			if replies[0] != replies[1] {
				t.Fatalf("replies differ:\nwire:   %q\ngo-smtp: %q", replies[0], replies[1])
			}
			a, b := storedFor(wireStore, rcpt), storedFor(goStore, rcpt)
			if a != b {
				t.Fatalf("stored differ:\nwire:    %q\ngo-smtp: %q", a, b)
			}
		})
	}
}

// converse delivers content (end marker included) in one write, pipelines
// a NOOP behind it, and returns the final reply lines.
func converse(t *testing.T, addr, rcpt, content string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	var got []string
	reply := func() string {
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				got = append(got, "EOF")
				return "EOF"
			}
			last = strings.TrimRight(line, "\r\n")
			if len(last) < 4 || last[3] != '-' {
				got = append(got, last)
				return last
			}
		}
	}
	send := func(s string) { io.WriteString(c, s) }
	reply()
	for _, cmd := range []string{"EHLO diff.test", "MAIL FROM:<s@diff.test>", "RCPT TO:<" + rcpt + ">", "DATA"} {
		send(cmd + "\r\n")
		reply()
	}
	send(content + "NOOP\r\n")
	reply() // DATA's
	reply() // NOOP's, or go-smtp's 500 before it closes
	return strings.Join(got, "\n")
}

func storedFor(st *storage.Store, rcpt string) string {
	for _, m := range st.List(nil, 0, 1000).Messages {
		if len(m.Envelope.To) == 1 && m.Envelope.To[0] == rcpt {
			return m.Raw()
		}
	}
	return "(none)"
}

// SIZE advertises the largest message accepted (RFC 1870), so a message of
// exactly that size is stored. (go-smtp's own reader refuses it by one.)
func TestMessageOfExactlyMaxSizeIsAccepted(t *testing.T) {
	const maxSize = 1000
	st := storage.New(storage.Limits{})
	l, err := Listen("127.0.0.1:0", ListenerConfig{TLS: TLSNone, Auth: AuthOff}, Options{MaxMessageSize: maxSize, Timeout: 10 * time.Second}, st)
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	defer l.Close()
	body := "Subject: s\r\n\r\n" + strings.Repeat("z", maxSize-len("Subject: s\r\n\r\n")-2) + "\r\n"
	for _, tt := range []struct {
		content string
		want    string
	}{{body, "250 "}, {"z" + body, "552 "}} {
		rcpt := fmt.Sprintf("size%d@diff.test", len(tt.content))
		got := converse(t, l.Addr().String(), rcpt, tt.content+".\r\n")
		lines := strings.Split(got, "\n")
		if dataReply := lines[len(lines)-2]; !strings.HasPrefix(dataReply, tt.want) {
			t.Fatalf("%d bytes: DATA reply %q, want %q", len(tt.content), dataReply, tt.want)
		}
		if stored := storedFor(st, rcpt); tt.want == "250 " && stored != tt.content {
			t.Fatalf("stored %d bytes, want %d", len(stored), len(tt.content))
		}
	}
}

// The socket's deadline is never earlier than the one asked for, and at
// most a tenth of the timeout later; it is reprogrammed only when it must be.
func TestLazyDeadline(t *testing.T) {
	const timeout = 10 * time.Second
	w := &wireConn{l: &Listener{opts: Options{Timeout: timeout}}}
	base := time.Unix(1_000_000, 0)
	var set []time.Time
	record := func(t time.Time) error { set = append(set, t); return nil }
	var cur time.Time
	for _, step := range []struct {
		ask    time.Duration // after base; -1: no deadline
		wantOK bool          // whether the socket was reprogrammed
	}{
		{0, true},           // first: exactly as asked
		{time.Second, true}, // later: moved, with slack
		{1500 * time.Millisecond, false},
		{2 * time.Second, false},
		{2500 * time.Millisecond, true}, // past the slack
		{-1, true},                      // cleared
	} {
		n := len(set)
		ask := time.Time{}
		if step.ask >= 0 {
			ask = base.Add(step.ask)
		}
		w.lazyDeadline(&cur, ask, record)
		if changed := len(set) > n; changed != step.wantOK {
			t.Fatalf("ask %v: reprogrammed %v, want %v", step.ask, changed, step.wantOK)
		}
		if !ask.IsZero() && (cur.Before(ask) || cur.After(ask.Add(timeout/10))) {
			t.Fatalf("ask %v: deadline %v is outside [asked, asked+slack]", step.ask, cur.Sub(base))
		}
	}
}
