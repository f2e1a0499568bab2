package smtpd

import "bytes"

// go-smtp reads DATA content one byte at a time through a state machine:
// for a 5 KB message that was over a third of mailsink's CPU time, and it
// capped attachment throughput. The wire layer, which sees the plaintext
// anyway, therefore reads the content itself in large reads, undoes the
// dot-stuffing with go-smtp's exact rules, and hands go-smtp only the end
// marker; the session takes the content from the wire. go-smtp still runs
// the conversation: commands, replies and their order.

// contentScanner undoes dot-stuffing in place and finds the end of the
// content, byte-for-byte as go-smtp's dataReader does, and applies go-smtp's
// line length limit (counted as its lineLimitReader counts) and a size
// limit.
type contentScanner struct {
	state     uint8
	lineLen   int   // as lineLimitReader's curLineLength
	lineLimit int   // 0: none
	maxSize   int64 // 0: none
	size      int64 // content bytes so far, after unstuffing
	raw       int64 // bytes read so far, end marker included
	tooBig    bool
	tooLong   bool
	bigFirst  bool // the size limit was passed before the too-long line
	// observe: only find the end (and count): go-smtp reads these bytes,
	// so they must not change.
	observe bool
}

// The states of go-smtp's dataReader.
const (
	stBeginLine uint8 = iota // the initial state
	stDot
	stDotCR
	stCR
	stData
)

func newContentScanner(lineLimit int, maxSize int64) contentScanner {
	// The DATA line's LF counts toward the first content line, as in
	// lineLimitReader.
	return contentScanner{lineLen: 1, lineLimit: lineLimit, maxSize: maxSize}
}

// scan reads buf[from:to], writes the unstuffed content back into buf from
// out (out <= from, so the writes never overtake the reads) and returns the
// new write position, how many bytes of buf[from:to] belong to the content
// (the end marker included) and whether the end marker was among them.
// Once the message is too big, content is no longer kept: out stays put.
func (s *contentScanner) scan(buf []byte, out, from, to int) (newOut, used int, end bool) {
	start, start0 := out, from
	over := s.lineOver(buf[from:to]) // before the writes below change them
	i := from
	for i < to {
		c := buf[i]
		if s.state == stData && c != '\r' {
			// Mid-line only a CR changes the state: copy up to it in one go.
			j := i + indexCR(buf[i:to])
			if !s.observe {
				out += copy(buf[out:], buf[i:j])
			}
			i = j
			continue
		}
		i++
		switch s.state {
		case stBeginLine:
			switch c {
			case '.':
				s.state = stDot
				continue // the stuffed dot is dropped
			case '\r':
				s.state = stCR
			default:
				s.state = stData
			}
		case stDot:
			if c == '\r' {
				s.state = stDotCR
				continue // held back: it may be the end marker's
			}
			s.state = stData
		case stDotCR:
			if c == '\n' {
				end = true
			}
			s.state = stData
		case stCR:
			if c == '\n' {
				s.state = stBeginLine
			} else {
				s.state = stData
			}
		case stData:
			s.state = stCR // c is '\r'
		}
		if end {
			break
		}
		if !s.observe {
			buf[out] = c
			out++
		}
	}
	used = i - start0
	s.raw += int64(used)
	if over >= 0 && over < used { // a long line after the end is go-smtp's to see
		s.tooLong = true
		// About as go-smtp decides which error it meets first.
		s.bigFirst = s.maxSize > 0 && s.size+int64(over) > s.maxSize
	}
	s.size += int64(out - start)
	if s.maxSize > 0 && s.size > s.maxSize {
		s.tooBig = true
	}
	if s.tooBig {
		out = start // keep scanning for the end, keep nothing
	}
	return out, used, end
}

// lineOver follows go-smtp's lineLimitReader over raw bytes (an LF starts a
// new line that it counts as its first byte) and returns the offset in b of
// the first byte over the limit, or -1.
func (s *contentScanner) lineOver(b []byte) int {
	if s.lineLimit <= 0 || s.tooLong {
		return -1
	}
	over := -1
	for pos := 0; pos < len(b); {
		j := indexLF(b[pos:])
		if j < 0 {
			j = len(b) - pos
		}
		if over < 0 && s.lineLen+j > s.lineLimit {
			over = pos + s.lineLimit - s.lineLen
		}
		s.lineLen += j
		pos += j
		if pos < len(b) { // at an LF
			s.lineLen = 1
			pos++
		}
	}
	return over
}

// indexCR is the offset of the first CR in b, or len(b).
func indexCR(b []byte) int {
	if j := bytes.IndexByte(b, '\r'); j >= 0 {
		return j
	}
	return len(b)
}

func indexLF(b []byte) int { return bytes.IndexByte(b, '\n') }
