package smtpd

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/storage"
)

// recorder is go-smtp's Debug writer for one connection. go-smtp hands it
// the plaintext both ways, also inside STARTTLS (it re-applies Debug after
// the handshake) and implicit TLS; the observedConn beneath says which way
// each piece went. The recorder turns that into transcript lines: AUTH
// responses masked, message content elided, lines cut to a bounded length.
//
// It only observes. Its reading of the stream (which reply answers which
// command, where content ends) decides transcript lines and counters,
// never a reply: if it misreads, a transcript line is wrong, nothing else.
type recorder struct {
	mu          sync.Mutex
	tr          *storage.LiveTranscript
	c           *observedConn
	raw         io.Writer // the --smtp-debug log, or nil
	maxCommands int

	commands int // client commands since the last captured message

	srvLine []byte // an unfinished reply line
	cliLine []byte // an unfinished command line (at most maxRecorded bytes kept)
	cliLost int    // bytes of cliLine not kept

	mode    recMode
	content int64 // bytes of the message content so far
	dstate  uint8 // where the content's end marker scan is
	chunk   int64 // BDAT chunk bytes still to come

	// While an AUTH or STARTTLS awaits its reply, what the client sends is
	// held: it may be SASL responses (masked, one per 334) or plaintext
	// that STARTTLS throws away.
	gate       cmdKind
	held       []byte
	heldLost   int
	auth334    int                  // 334 challenges of the current AUTH
	authLines  int                  // responses to them seen
	authBlind  bool                 // an AUTH's hold overflowed: mask all until its reply
	maskNext   bool                 // the next command line is the end of a masked one
	pending    []pendingCmd         // commands awaiting their final reply, oldest first
	expectTLS  bool                 // STARTTLS was answered 220: a handshake follows
	lastAnswer cmdKind              // the command the latest final reply answered
	closeNext  bool                 // close the connection once the current write is recorded
	heard      bool                 // the client has sent something
	handshake  *tls.ConnectionState // a handshake near its end, not yet confirmed
	binary     bool                 // the client sent TLS where SMTP was expected
	ended      bool
}

type recMode uint8

const (
	recCommand recMode = iota
	recContent         // DATA content, until CRLF.CRLF
	recChunk           // a BDAT chunk
)

type cmdKind uint8

const (
	kindOther cmdKind = iota
	kindNone
	kindData
	kindContent // the content after 354: its reply ends the transaction
	kindBDAT
	kindAuth
	kindStartTLS
	kindRset
	kindQuit
)

type pendingCmd struct {
	kind      cmdKind
	overLimit bool // beyond the command limit: close before its reply
	masked    bool // the line was masked; its reply may repeat it
	faulted   bool // a rset fault already fired for it
}

// maxRecorded bounds one transcript line; longer lines are cut with a
// note of their length.
const maxRecorded = 1000

// maxHeld bounds what is held while AUTH or STARTTLS awaits its reply.
const maxHeld = 8 << 10

func newRecorder(tr *storage.LiveTranscript, c *observedConn, maxCommands int, raw io.Writer) *recorder {
	return &recorder{tr: tr, c: c, raw: raw, maxCommands: maxCommands, gate: kindNone, lastAnswer: kindNone}
}

// Write is go-smtp's Debug output: a reply it just wrote, or input it just
// read.
func (r *recorder) Write(p []byte) (int, error) {
	if r.raw != nil {
		r.raw.Write(p)
	}
	fromServer := r.c.wrote.Swap(false)
	r.mu.Lock()
	// A socket write just before does not make these bytes a reply: TLS
	// writes on its own inside a read (a KeyUpdate answer) and then hands up
	// buffered client input. go-smtp writes whole reply lines, each with a
	// code; client input that looks like one cannot hold a base64 secret.
	fromServer = fromServer && (len(r.srvLine) > 0 || replyShaped(p))
	if st := r.handshake; st != nil {
		// The first plaintext after a handshake confirms it; go-smtp's
		// "550 Handshake error" on the old connection does not.
		r.handshake = nil
		if !(fromServer && bytes.HasPrefix(p, []byte("550 "))) {
			r.established(*st)
		}
	}
	if fromServer {
		r.server(p)
	} else {
		r.client(p)
	}
	closeNow := r.closeNext
	r.closeNext = false
	r.mu.Unlock()
	if closeNow {
		r.c.Close()
	}
	return len(p), nil
}

func (r *recorder) add(dir, text string) {
	if r.tr.Keeping() {
		r.tr.Add(dir, text)
	}
}

// note records a line of mailsink's own.
func (r *recorder) note(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add("*", text)
}

// fault records a fired rule.
func (r *recorder) fault(rule faults.Rule) {
	desc := rule.Describe()
	r.mu.Lock()
	r.add("*", desc)
	r.mu.Unlock()
	r.tr.Update(func(t *storage.Transcript) { t.Faults = append(t.Faults, desc) })
	r.c.l.log.Info("fault injected", "rule", rule.ID, "stage", rule.Stage, "client", r.c.RemoteAddr().String())
}

// captured links a message and restarts the command count: a client that
// delivers may keep its connection for any number of messages.
func (r *recorder) captured(id string) {
	r.tr.Captured(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands = 0
	if r.tr.Keeping() {
		r.add("*", "captured as message "+id)
	}
}

// tlsVerified is called near the end of a TLS handshake (its
// VerifyConnection hook); the handshake counts once plaintext follows.
func (r *recorder) tlsVerified(st tls.ConnectionState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handshake = &st
}

// established records a completed handshake; r.mu is held.
func (r *recorder) established(st tls.ConnectionState) {
	v, cs := tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
	r.expectTLS = false
	r.add("*", fmt.Sprintf("TLS established: %s, %s", v, cs))
	r.tr.Update(func(t *storage.Transcript) { t.TLS, t.TLSVersion, t.TLSCipher = true, v, cs })
}

// rsetDue is whether the command go-smtp answers next (the oldest
// unanswered) is an RSET no rset fault has fired for yet; it marks it.
func (r *recorder) rsetDue() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 || r.pending[0].kind != kindRset || r.pending[0].faulted {
		return false
	}
	r.pending[0].faulted = true
	return true
}

// quitAnswered is whether the last reply answered QUIT.
func (r *recorder) quitAnswered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastAnswer == kindQuit
}

// inputEnded is told that a read failed (timeout, EOF, reset): go-smtp
// takes an unfinished command line as a whole one, so it is recorded and
// counted as one.
func (r *recorder) inputEnded() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gate != kindNone || r.mode != recCommand || (len(r.cliLine) == 0 && r.cliLost == 0) {
		return
	}
	line, lost := r.cliLine, r.cliLost
	r.cliLine, r.cliLost = r.cliLine[:0], 0
	r.command(line, lost)
	r.add("*", "(that line had no line end: the client stopped sending)")
}

func (r *recorder) end() {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	if len(r.cliLine) > 0 || r.cliLost > 0 {
		r.add("C", r.shown(r.cliLine, r.cliLost)+" [no line end before the connection closed]")
	}
	r.mu.Unlock()
	r.tr.End()
}

// server follows reply lines (go-smtp writes one line per call).
func (r *recorder) server(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(r.srvLine) < maxRecorded {
				r.srvLine = append(r.srvLine, p...)
			}
			return
		}
		line := p[:i]
		if len(r.srvLine) > 0 {
			line = append(r.srvLine, line...)
			r.srvLine = r.srvLine[:0]
		}
		p = p[i+1:]
		r.serverLine(bytes.TrimSuffix(line, []byte("\r")))
	}
}

func (r *recorder) serverLine(line []byte) {
	code, final := replyCode(line)
	var head *pendingCmd
	if len(r.pending) > 0 {
		head = &r.pending[0]
	}
	if head != nil && head.masked && len(line) >= 3 {
		r.add("S", string(line[:3])+" ****") // go-smtp repeats an unknown command in its reply
	} else {
		r.add("S", r.shown(line, 0))
	}
	if !final {
		return
	}
	r.c.l.counters.reply(code)
	if code == 421 {
		r.closeNext = true // a 421 closes the connection (RFC 5321 3.8)
	}
	if head == nil {
		if r.expectTLS && code == 550 {
			r.expectTLS = false
			r.add("*", "TLS handshake failed: the client may not trust mailsink's certificate (GET /api/v1/tls/certificate), or it did not speak TLS after STARTTLS")
		}
		return
	}
	if r.gate == kindAuth && code == 334 {
		r.auth334++ // whatever the queue says: failing closed, a challenge is the AUTH's
		r.drainAuth()
		return
	}
	if r.gate == kindAuth && r.auth334 > 0 {
		// After a challenge the next final reply is the AUTH's: entries
		// before it in the queue were misread.
		for len(r.pending) > 1 && r.pending[0].kind != kindAuth {
			r.pending = r.pending[1:]
		}
		head = &r.pending[0]
	}
	done := *head
	r.pending = r.pending[1:]
	r.lastAnswer = done.kind
	switch done.kind {
	case kindData:
		if code != 354 && r.mode == recContent && r.content == 0 && r.dstate == 0 {
			r.mode = recCommand // refused: no content follows
		}
	case kindAuth:
		r.gate = kindNone
		r.releaseMasked()
	case kindStartTLS:
		r.gate = kindNone
		if code == 220 {
			if n := len(r.held) + r.heldLost + len(r.cliLine) + r.cliLost; n > 0 {
				r.add("*", fmt.Sprintf("[%d bytes sent in plaintext after STARTTLS, discarded]", n))
			}
			r.held, r.heldLost, r.cliLine, r.cliLost = nil, 0, r.cliLine[:0], 0
			r.pending, r.mode, r.expectTLS = nil, recCommand, true
			return
		}
		r.release(false)
	}
	if len(r.pending) > 0 && r.pending[0].overLimit {
		r.overLimit()
	}
}

// overLimit closes the connection before go-smtp answers a command beyond
// the limit: the observer may hang up, never answer.
func (r *recorder) overLimit() {
	r.add("*", "closed: more than "+strconv.Itoa(r.maxCommands)+" commands without a message")
	r.closeNext = true
}

// drainAuth masks one held line per 334 challenge not yet answered. Once
// more was sent than is held, line ends are lost: the rest is masked whole
// (authBlind) until the AUTH's final reply.
func (r *recorder) drainAuth() {
	for r.authLines < r.auth334 && !r.authBlind {
		i := bytes.IndexByte(r.held, '\n')
		if i < 0 {
			if r.heldLost > 0 {
				r.authBlind = true
			}
			return
		}
		r.held = r.held[i+1:]
		r.add("C", "****")
		r.authLines++
	}
}

// releaseMasked ends an AUTH's hold. What the client sent before the
// AUTH's final reply and no challenge took may still be SASL responses
// (pipelined, or meant for challenges a refusal never sent): each line
// is counted as a command go-smtp will answer, and masked, never shown.
func (r *recorder) releaseMasked() {
	held, lost, blind := r.held, r.heldLost, r.authBlind
	r.held, r.heldLost, r.authBlind = nil, 0, false
	if blind || lost > 0 {
		r.add("C", fmt.Sprintf("**** [%d bytes in all]", len(held)+lost))
		return
	}
	for len(held) > 0 {
		i := bytes.IndexByte(held, '\n')
		if i < 0 {
			r.maskNext = true // the rest of that line is masked when it comes
			r.keepPartial(held)
			return
		}
		held = held[i+1:]
		r.add("C", "****")
		r.countCommand(pendingCmd{kind: kindOther, masked: true})
	}
}

// release parses what was held once a STARTTLS was refused.
func (r *recorder) release(bool) {
	held, lost := r.held, r.heldLost
	r.held, r.heldLost = nil, 0
	if lost > 0 {
		r.add("*", fmt.Sprintf("[%d bytes not recorded]", lost))
	}
	r.client(held)
}

// replyShaped is whether p starts like a reply line: three digits, then a
// space, a dash or the line end.
func replyShaped(p []byte) bool {
	if len(p) < 4 {
		return false
	}
	for _, c := range p[:3] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return p[3] == ' ' || p[3] == '-' || p[3] == '\r' || p[3] == '\n'
}

// client follows what the client sent.
func (r *recorder) client(p []byte) {
	if !r.heard && len(p) > 0 {
		r.heard = true
		if p[0] == 0x16 { // a TLS handshake record: the client expected implicit TLS
			r.add("*", "the client started a TLS handshake instead of SMTP: it probably meant an implicit-TLS port such as 465 (this port offers STARTTLS or no TLS)")
			r.binary = true
		}
	}
	if r.binary { // what go-smtp makes of a TLS handshake is noise: its replies tell enough
		for range bytes.Count(p, []byte("\n")) { // but each line is a command to the limit
			r.countCommand(pendingCmd{kind: kindOther})
		}
		return
	}
	for len(p) > 0 {
		if r.gate != kindNone {
			room := maxHeld - len(r.held)
			if room < len(p) {
				r.heldLost += len(p) - max(room, 0)
				p = p[:max(room, 0)]
			}
			r.held = append(r.held, p...)
			if r.gate == kindAuth {
				r.drainAuth()
			}
			return
		}
		switch r.mode {
		case recContent:
			n, end := r.scanContent(p)
			p = p[n:]
			if end {
				r.mode = recCommand
				r.add("C", fmt.Sprintf("[message content, %d bytes]", r.content-3)) // without ".\r\n"
				r.add("C", ".")
				r.pending = append(r.pending, pendingCmd{kind: kindContent})
			}
		case recChunk:
			n := min(int64(len(p)), r.chunk)
			r.chunk -= n
			p = p[n:]
			if r.chunk == 0 {
				r.mode = recCommand
			}
		default:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				r.keepPartial(p)
				return
			}
			line := p[:i]
			p = p[i+1:]
			if len(r.cliLine) > 0 || r.cliLost > 0 {
				r.keepPartial(line)
				line, lost := r.cliLine, r.cliLost
				r.cliLine, r.cliLost = r.cliLine[:0], 0
				r.command(bytes.TrimSuffix(line, []byte("\r")), lost)
				continue
			}
			r.command(bytes.TrimSuffix(line, []byte("\r")), 0)
		}
	}
}

func (r *recorder) keepPartial(p []byte) {
	room := maxRecorded - len(r.cliLine)
	if room >= len(p) {
		r.cliLine = append(r.cliLine, p...)
		return
	}
	r.cliLine = append(r.cliLine, p[:max(room, 0)]...)
	r.cliLost += len(p) - max(room, 0)
}

// scanContent looks for the end of DATA content (CRLF.CRLF, the first
// line counting as after a CRLF) and reports how many bytes of p belong to
// the content, end marker included.
func (r *recorder) scanContent(p []byte) (int, bool) {
	const (
		begin uint8 = iota
		dot
		dotCR
		cr
		data
	)
	for i := 0; i < len(p); i++ {
		if r.dstate == data {
			j := bytes.IndexByte(p[i:], '\r')
			if j < 0 {
				r.content += int64(len(p) - i)
				return len(p), false
			}
			r.content += int64(j)
			i += j
		}
		c := p[i]
		r.content++
		switch r.dstate {
		case begin:
			switch c {
			case '.':
				r.dstate = dot
			case '\r':
				r.dstate = cr
			default:
				r.dstate = data
			}
		case dot:
			if c == '\r' {
				r.dstate = dotCR
			} else {
				r.dstate = data
			}
		case dotCR:
			if c == '\n' {
				r.dstate = begin
				return i + 1, true
			}
			r.dstate = data
		case cr:
			if c == '\n' {
				r.dstate = begin
			} else {
				r.dstate = data
			}
		case data:
			r.dstate = cr // c is '\r'
		}
	}
	return len(p), false
}

// parseCmd splits a command line exactly as go-smtp's parser does, so the
// recorder takes a line for the command go-smtp will run: STARTTLS by
// prefix, four-letter verbs, a space before any argument.
func parseCmd(line string) (verb, arg string) {
	switch l := len(line); {
	case strings.HasPrefix(strings.ToUpper(line), "STARTTLS"):
		return "STARTTLS", ""
	case l == 4:
		return strings.ToUpper(line), ""
	case l < 6 || line[4] != ' ':
		return "", "" // go-smtp answers 500 or 501
	}
	return strings.ToUpper(line[:4]), strings.TrimSpace(line[5:])
}

// command records one command line and what it implies for the bytes after
// it.
func (r *recorder) command(line []byte, lost int) {
	verb, arg := parseCmd(string(line))
	p := pendingCmd{kind: kindOther}
	text := ""
	switch {
	case r.maskNext: // the end of a line begun while an AUTH held it
		r.maskNext = false
		text, p.masked = "****", true
	case verb == "AUTH":
		// go-smtp splits AUTH's argument on any white space.
		if f := strings.Fields(arg); len(f) > 0 {
			text = "AUTH " + f[0]
			if len(f) > 1 {
				text += " ****"
			}
		} else {
			text = "AUTH"
		}
		p.kind, r.gate, r.auth334, r.authLines, r.authBlind = kindAuth, kindAuth, 0, 0, false
	case verb == "STARTTLS":
		p.kind, r.gate = kindStartTLS, kindStartTLS
	case verb == "DATA":
		p.kind = kindData
		if arg == "" { // go-smtp refuses DATA with arguments; anything else is followed by content
			r.mode, r.content, r.dstate = recContent, 0, 0
		}
	case verb == "BDAT":
		p.kind = kindBDAT
		if n, ok := bdatSize(arg); ok { // go-smtp reads the chunk even when it refuses the command
			defer func() {
				r.add("C", fmt.Sprintf("[chunk, %d bytes]", n))
				if n > 0 {
					r.mode, r.chunk = recChunk, n
				}
			}()
		}
	case verb == "EHLO" || verb == "HELO":
		r.tr.Update(func(t *storage.Transcript) { t.Helo = arg })
	case verb == "RSET":
		p.kind = kindRset
	case verb == "QUIT":
		p.kind = kindQuit
	}
	if text == "" {
		text = r.shown(line, lost)
	}
	r.add("C", text)
	r.countCommand(p)
}

// countCommand queues a command for its reply and applies the command
// limit.
func (r *recorder) countCommand(p pendingCmd) {
	r.commands++
	p.overLimit = r.maxCommands > 0 && r.commands > r.maxCommands
	if p.overLimit && len(r.pending) == 0 && !r.closeNext {
		r.overLimit() // nothing before it awaits a reply
	}
	r.pending = append(r.pending, p)
}

// shown is a line as a transcript keeps it: at most maxRecorded bytes,
// control bytes and invalid UTF-8 as "?" (JSON would spell each as six).
func (r *recorder) shown(line []byte, lost int) string {
	if len(line) > maxRecorded {
		lost += len(line) - maxRecorded
		line = line[:maxRecorded]
	}
	text := printable(line)
	if lost > 0 {
		return fmt.Sprintf("%s… [%d bytes in all]", text, len(line)+lost)
	}
	return text
}

func printable(b []byte) string {
	clean := utf8.Valid(b)
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
}

// bdatSize reads BDAT's arguments as go-smtp does; if go-smtp refuses them
// it reads no chunk.
func bdatSize(arg string) (int64, bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return int64(n), err == nil
}

// replyCode parses "250-..." / "250 ..." lines; final is false for
// continuation lines.
func replyCode(line []byte) (code int, final bool) {
	if len(line) < 3 {
		return 0, true
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, true
		}
		code = code*10 + int(c-'0')
	}
	return code, len(line) == 3 || line[3] != '-'
}
