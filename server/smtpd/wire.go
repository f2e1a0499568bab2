package smtpd

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/storage"
)

// acceptor sits between the bound socket and go-smtp. For every connection
// it enforces the connection limit, terminates implicit TLS, opens a
// transcript, and hands go-smtp a wireConn.
type acceptor struct {
	net.Listener
	l *Listener
}

func (a *acceptor) Accept() (net.Conn, error) {
	for {
		c, err := a.Listener.Accept()
		if err != nil {
			return nil, err
		}
		limit := a.l.opts.Conns
		if limit != nil && limit.max > 0 && limit.open.Add(1) > limit.max {
			limit.open.Add(-1)
			go a.refuse(c)
			continue
		}
		return a.l.newWire(c), nil
	}
}

// refuse answers a connection past the limit with 421 and closes it.
func (a *acceptor) refuse(c net.Conn) {
	defer c.Close()
	tr := a.l.transcripts.Start(storage.Transcript{Listener: a.l.cfg.Name(), Port: a.l.cfg.Port, ClientAddr: c.RemoteAddr().String()})
	defer tr.End()
	var conn net.Conn = c
	deadline := time.Now().Add(5 * time.Second)
	c.SetDeadline(deadline)
	if a.l.cfg.TLS == TLSImplicit {
		tc := tls.Server(c, a.l.opts.TLSConfig)
		if err := tc.Handshake(); err != nil {
			tr.Add("*", "refused: too many connections (TLS handshake failed: "+err.Error()+")")
			return
		}
		conn = tc
	}
	const reply = "421 4.7.0 Too many connections, try again later"
	tr.Add("S", reply)
	io.WriteString(conn, reply+"\r\n")
}

type wireMode int

const (
	modeCommand   wireMode = iota
	modeAwaitData          // DATA sent; waiting for 354 or an error
	modeData               // message content until CRLF.CRLF
	modeBDAT               // BDAT chunk bytes
)

// maxCommandLine bounds how much we buffer looking for a command's end;
// longer lines go to go-smtp, which refuses them.
const maxCommandLine = 4096

// wireConn sits between the socket and go-smtp. It runs TLS (implicit, and
// STARTTLS, which go-smtp never learns of), so it always sees plaintext;
// records the conversation into the session transcript; counts commands;
// reads DATA content itself (content.go); and answers, when a fault rule
// says so, the stages go-smtp handles itself (greeting, EHLO, RSET, QUIT).
// An intercepted command is held until go-smtp has read, and so answered,
// everything before it, which keeps pipelined replies in order.
//
// Read and Write are called by the connection's one go-smtp goroutine;
// Close may come from anywhere.
type wireConn struct {
	net.Conn
	l        *Listener
	tr       *storage.LiveTranscript
	connMu   sync.Mutex // guards Conn and tlsConn against Close and tlsState from elsewhere while STARTTLS swaps them
	tlsConn  *tls.Conn  // TLS underneath (implicit, or after STARTTLS), or nil
	needHelo bool       // after STARTTLS, until EHLO or HELO
	authed   bool       // an AUTH succeeded (235)
	lastOut  byte       // the last byte handed to go-smtp ('\n' between commands)
	bdatNext int64      // the chunk size of the BDAT command being parsed
	midReply bool       // the server's last line was a continuation
	done     chan struct{}
	closed   atomic.Bool
	closeOne sync.Once

	connectFault *faults.Rule
	greeted      bool
	closeAfter   atomic.Bool // close once the next write is out (after a 421)

	in, out   []byte
	rbuf      []byte // read buffer for command mode
	hold      *heldCommand
	mode      wireMode
	dataBytes int64
	bdatLeft  int64
	authSASL  bool // client lines are SASL responses (after a 334, until the final reply)
	// pending lists the commands handed to go-smtp that await their final
	// reply, oldest first: with PIPELINING, replies must be matched to
	// commands in order to know which one a 354 or 220 answers.
	pending  []cmdKind
	commands atomic.Int64 // since the last accepted message; BDAT's Data runs on another goroutine
	partial  []byte       // server bytes of an unfinished reply line

	// DATA content the wire reads itself (content.go), from 354 until the
	// session takes it.
	fast    bool           // reading the current content
	leaked  bool           // bytes went to go-smtp unparsed before 354: go-smtp reads this content
	scanner contentScanner // state over the current content
	capBuf  *[]byte        // the content so far, unstuffed; from the listener's pool
	capOut  int            // content length in capBuf
	content *[]byte        // finished content for the session, or nil
	tooBig  bool           // the finished content was over the size limit (and not kept)
	sticky  error          // returned by every Read: the connection is broken (a too-long line)

	dlMu            sync.Mutex
	readDL, writeDL time.Time // as set on the socket
}

type cmdKind uint8

const (
	kindOther   cmdKind = iota
	kindData            // DATA: 354 starts the content
	kindContent         // the content after 354: its final reply ends the transaction
	kindEhlo            // EHLO: its reply advertises STARTTLS where the wire offers it
	kindAuth            // AUTH: 334 replies continue the exchange
	kindBDAT            // BDAT: an error before the chunk is read means there is none
)

type heldCommand struct {
	line string
	rule faults.Rule
	// tooMany marks the command over the session's command limit.
	tooMany bool
	// reply, if set, is the wire's answer (a command out of order).
	reply string
	// startTLS: the wire runs STARTTLS, after the rule's delay if any.
	startTLS bool
}

func (l *Listener) newWire(c net.Conn) *wireConn {
	w := &wireConn{Conn: c, l: l, done: make(chan struct{}), lastOut: '\n'}
	if l.cfg.TLS == TLSImplicit {
		w.tlsConn = tls.Server(c, l.opts.TLSConfig)
		w.Conn = w.tlsConn
	}
	w.tr = l.transcripts.Start(storage.Transcript{Listener: l.cfg.Name(), Port: l.cfg.Port, ClientAddr: c.RemoteAddr().String()})
	if r, ok := l.opts.Faults.Fire(faults.Event{Stage: faults.Connect, Port: l.cfg.Port}); ok {
		w.connectFault = &r
	}
	return w
}

// tlsState is the state of TLS underneath, implicit or after STARTTLS.
func (w *wireConn) tlsState() (tls.ConnectionState, bool) {
	w.connMu.Lock()
	tc := w.tlsConn
	w.connMu.Unlock()
	if tc == nil {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

// offersStartTLS is whether EHLO advertises STARTTLS now.
func (w *wireConn) offersStartTLS() bool {
	t := w.l.cfg.TLS
	return (t == TLSStartTLS || t == TLSStartTLSRequired) && w.l.opts.TLSConfig != nil && w.tlsConn == nil
}

func (w *wireConn) Close() error {
	w.connMu.Lock()
	c := w.Conn
	w.connMu.Unlock()
	err := c.Close()
	w.closeOne.Do(func() {
		w.closed.Store(true)
		close(w.done)
		if lim := w.l.opts.Conns; lim != nil && lim.max > 0 {
			lim.open.Add(-1)
		}
		w.tr.End()
	})
	return err
}

// go-smtp pushes the read deadline forward before every command and the
// write deadline before every reply; each push reprograms a runtime timer,
// a few percent of capture CPU. The wire moves a deadline only when asked
// for a later one than it set, and then a tenth of the timeout further, so
// a deadline is never earlier than asked and at most 10% later.

func (w *wireConn) SetReadDeadline(t time.Time) error {
	return w.lazyDeadline(&w.readDL, t, w.Conn.SetReadDeadline)
}

func (w *wireConn) SetWriteDeadline(t time.Time) error {
	return w.lazyDeadline(&w.writeDL, t, w.Conn.SetWriteDeadline)
}

func (w *wireConn) SetDeadline(t time.Time) error {
	if err := w.SetReadDeadline(t); err != nil {
		return err
	}
	return w.SetWriteDeadline(t)
}

func (w *wireConn) lazyDeadline(cur *time.Time, t time.Time, set func(time.Time) error) error {
	w.dlMu.Lock()
	defer w.dlMu.Unlock()
	slack := w.l.opts.Timeout / 10
	if !t.IsZero() && !cur.IsZero() && !t.After(*cur) && !t.Before(cur.Add(-slack)) {
		return nil // what is set is later than asked, by at most slack
	}
	if !t.IsZero() && t.After(*cur) && !cur.IsZero() {
		t = t.Add(slack)
	}
	*cur = t
	return set(t)
}

// fault records a rule firing in the transcript.
func (w *wireConn) fault(r faults.Rule) {
	desc := r.Describe()
	w.tr.Add("*", desc)
	w.tr.Update(func(t *storage.Transcript) { t.Faults = append(t.Faults, desc) })
	w.l.log.Info("fault injected", "rule", r.ID, "stage", r.Stage, "client", w.RemoteAddr().String())
}

func (w *wireConn) Write(p []byte) (int, error) {
	if !w.greeted {
		w.greeted = true
		if err := w.greet(); err != nil {
			return 0, err
		}
	}
	out := w.observeServer(p)
	if _, err := w.Conn.Write(out); err != nil {
		return 0, err
	}
	if w.closeAfter.Load() {
		w.Close()
	}
	return len(p), nil
}

// greet runs before go-smtp's greeting: the implicit TLS handshake, with a
// deadline, and a connect-stage fault.
func (w *wireConn) greet() error {
	if w.tlsConn != nil {
		if err := w.handshake(w.tlsConn); err != nil {
			w.Close()
			return fmt.Errorf("implicit TLS handshake: %w", err)
		}
	}
	r := w.connectFault
	if r == nil {
		return nil
	}
	w.fault(*r)
	r.Wait(w.done)
	if rep, ok := r.ParsedReply(); ok {
		w.tr.Add("S", rep.String())
		io.WriteString(w.Conn, rep.String()+"\r\n")
		w.Close()
		return net.ErrClosed
	}
	if r.Drop {
		w.Close()
		return net.ErrClosed
	}
	return nil
}

// handshake runs a server TLS handshake, with a deadline, and records it.
func (w *wireConn) handshake(tc *tls.Conn) error {
	tc.SetDeadline(time.Now().Add(w.l.handshakeTimeout()))
	err := tc.Handshake()
	// The handshake's time is not the client's idle time: the next command
	// gets a whole timeout. Writes get back what go-smtp asked for.
	w.dlMu.Lock()
	if t := w.l.opts.Timeout; t > 0 {
		w.readDL = time.Now().Add(t)
	}
	tc.SetReadDeadline(w.readDL)
	tc.SetWriteDeadline(w.writeDL)
	w.dlMu.Unlock()
	if err != nil {
		w.tr.Add("*", "TLS handshake failed: "+err.Error())
		return err
	}
	st := tc.ConnectionState()
	v, cs := tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
	w.tr.Add("*", fmt.Sprintf("TLS established: %s, %s", v, cs))
	w.tr.Update(func(t *storage.Transcript) { t.TLS, t.TLSVersion, t.TLSCipher = true, v, cs })
	return nil
}

// startTLS answers STARTTLS and runs the handshake under go-smtp, which
// never learns of it: the conversation stays plaintext to the wire, so
// transcripts, limits, faults and the DATA fast path work inside TLS too.
// Like go-smtp's own STARTTLS, the client must say EHLO again.
func (w *wireConn) startTLS() error {
	if w.tlsConn != nil {
		return w.answer("502 5.5.1 Already running in TLS")
	}
	if len(w.pending) > 0 || w.lastOut != '\n' {
		// go-smtp is inside an exchange (an AUTH awaiting its SASL line) or
		// holds part of a line: what it has would carry into TLS.
		return w.answer("503 5.5.1 STARTTLS must follow a completed command")
	}
	const ready = "220 2.0.0 Ready to start TLS"
	w.tr.Add("S", ready)
	if _, err := io.WriteString(w.Conn, ready+"\r\n"); err != nil {
		return err
	}
	// RFC 3207: what the client sent after STARTTLS in plaintext is not to
	// be trusted, so it is dropped.
	w.in = w.in[:0]
	tc := tls.Server(w.Conn, w.l.opts.TLSConfig)
	if err := w.handshake(tc); err != nil {
		w.Close()
		return net.ErrClosed
	}
	w.connMu.Lock()
	w.Conn, w.tlsConn = tc, tc
	w.connMu.Unlock()
	w.needHelo = true
	return nil
}

// answer writes a reply of the wire's own.
func (w *wireConn) answer(reply string) error {
	w.tr.Add("S", reply)
	_, err := io.WriteString(w.Conn, reply+"\r\n")
	return err
}

// observeServer records reply lines and follows the state they imply. It
// returns what goes on the wire: p, or p with STARTTLS added to an EHLO
// reply (go-smtp does not know the wire runs TLS).
func (w *wireConn) observeServer(p []byte) []byte {
	out := p
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.partial = append(w.partial, rest...)
			break
		}
		line := rest[:i]
		if len(w.partial) > 0 {
			w.partial = append(w.partial, line...)
			line = w.partial
		}
		if w.serverLine(bytes.TrimRight(line, "\r")) {
			// After the EHLO greeting line (go-smtp always lists more).
			const starttls = "250-STARTTLS"
			w.tr.Add("S", starttls)
			at := len(p) - len(rest) + i + 1
			out = append(append(append([]byte(nil), p[:at]...), starttls+"\r\n"...), p[at:]...)
		}
		w.partial = w.partial[:0]
		rest = rest[i+1:]
	}
	if len(w.partial) > maxCommandLine {
		w.partial = w.partial[:0]
	}
	return out
}

// serverLine follows one reply line; it reports whether STARTTLS is to be
// advertised after it.
func (w *wireConn) serverLine(line []byte) (advertise bool) {
	if w.tr.Keeping() {
		w.tr.Add("S", string(line))
	}
	code, final := replyCode(line)
	first := !w.midReply
	w.midReply = !final
	if !final {
		return first && code == 250 && len(w.pending) > 0 && w.pending[0] == kindEhlo && w.offersStartTLS()
	}
	w.reply(code)
	if code == 421 {
		w.closeAfter.Store(true)
	}
	return false
}

// reply matches a final reply to the oldest pending command and follows
// the state it implies. Replies with nothing pending (the greeting, our own
// fault replies) change nothing.
func (w *wireConn) reply(code int) {
	if len(w.pending) == 0 {
		return
	}
	kind := w.pending[0]
	if kind == kindAuth && code == 334 {
		w.authSASL = true // the client's next line is a SASL response
		return
	}
	if kind == kindData && code == 354 {
		// The content comes next; its final reply ends the transaction.
		w.mode, w.dataBytes = modeData, 0
		w.pending[0] = kindContent
		// The raw protocol log wants go-smtp to see the content, and bytes
		// already passed to go-smtp must be read by it.
		if !w.leaked && len(w.in) == 0 && len(w.out) == 0 && w.l.opts.Debug == nil {
			w.fast = true
			w.scanner = newContentScanner(w.l.opts.MaxLineLength, w.l.opts.MaxMessageSize)
			w.capBuf, w.capOut = w.l.getBuffer(), 0
		} else {
			w.scanner = contentScanner{observe: true} // go-smtp reads, and limits
		}
		w.leaked = false
		return
	}
	w.pending = w.pending[1:]
	switch kind {
	case kindAuth:
		w.authSASL = false
		w.authed = w.authed || code == 235
	case kindEhlo:
		if code == 250 { // go-smtp took the greeting: commands may follow
			w.needHelo = false
		}
	case kindData:
		if w.mode == modeAwaitData {
			w.mode = modeCommand
		}
	case kindBDAT:
		if w.mode == modeBDAT && w.bdatLeft > 0 {
			// Answered before its chunk was read: go-smtp refused the
			// command, and what follows is commands again.
			w.mode, w.bdatLeft = modeCommand, 0
		}
	}
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

func (w *wireConn) Read(p []byte) (int, error) {
	if w.sticky != nil {
		return 0, w.sticky
	}
	for len(w.out) == 0 {
		if w.fast {
			if err := w.capture(); err != nil {
				return 0, err
			}
			continue
		}
		if w.hold != nil {
			if err := w.runHeld(); err != nil {
				return 0, err
			}
			continue
		}
		if len(w.in) > 0 && w.parse() {
			continue
		}
		if len(w.in) == 0 && (w.mode == modeData || w.mode == modeBDAT) {
			return w.readContent(p) // message bytes: no copies
		}
		if w.rbuf == nil {
			w.rbuf = make([]byte, 4096)
		}
		n, err := w.Conn.Read(w.rbuf)
		w.in = append(w.in, w.rbuf[:n]...)
		if n == 0 && err != nil {
			if len(w.in) > 0 { // an unterminated last line: hand it over as is
				w.out, w.in = w.in, nil
				break
			}
			return 0, err
		}
	}
	n := copy(p, w.out)
	w.out = w.out[n:]
	if len(w.out) == 0 {
		w.out = w.out[:0:0] // let the next append start afresh instead of growing a drained slice
	}
	return n, nil
}

// readContent reads message content straight into go-smtp's buffer,
// keeping for parse only what follows the end of the message or chunk.
func (w *wireConn) readContent(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n == 0 {
		return 0, err
	}
	var k int
	data := w.mode == modeData
	if data {
		k = w.scanData(p[:n])
		if w.mode != modeData {
			w.endData()
		}
	} else {
		k = int(min(int64(n), w.bdatLeft))
		w.bdatLeft -= int64(k)
		if w.bdatLeft == 0 {
			w.mode = modeCommand
		}
	}
	if k < n {
		w.in = append(w.in, p[k:n]...) // commands pipelined after the content
	}
	if k > 0 && data { // BDAT chunks do not touch go-smtp's lines
		w.lastOut = p[k-1]
	}
	return k, nil
}

// minContentRead is the least room capture reads into: loopback delivers
// up to 64 KB at once.
const minContentRead = 64 << 10

// capture reads message content from the socket into capBuf, unstuffing it
// in place. At the end marker it leaves the content for the session, gives
// go-smtp the end marker alone, and keeps what follows for parse.
func (w *wireConn) capture() error {
	buf := *w.capBuf
	if cap(buf)-w.capOut < minContentRead {
		grown := make([]byte, max(2*cap(buf), w.capOut+minContentRead))
		copy(grown, buf[:w.capOut])
		buf = grown
		*w.capBuf = grown
	}
	buf = buf[:cap(buf)]
	from := w.capOut
	n, err := w.Conn.Read(buf[from:])
	if n == 0 {
		return err // a read error after bytes comes again on the next Read
	}
	out, used, end := w.scanner.scan(buf, from, from, from+n)
	w.capOut = out
	if w.scanner.tooLong {
		// What go-smtp does on a too-long line: the DATA reply, then a 500
		// and the connection closes, since the stream is out of step.
		w.fast, w.capBuf, w.sticky = false, nil, smtp.ErrTooLongLine
		w.tr.Add("C", fmt.Sprintf("[message content, %d bytes, then a line over %d bytes]", w.scanner.raw, w.scanner.lineLimit))
		return w.sticky
	}
	if !end {
		return nil
	}
	if used < n {
		w.in = append(w.in, buf[from+used:from+n]...) // commands pipelined after the content
	}
	*w.capBuf = buf[:out]
	w.content, w.tooBig = w.capBuf, w.scanner.tooBig
	w.fast, w.capBuf = false, nil
	w.mode, w.dataBytes = modeCommand, w.scanner.raw
	w.endData()
	w.give([]byte(".\r\n")) // for go-smtp: an empty message
	return nil
}

// passContent lets go-smtp read the current content itself, raw: a fault
// rule hangs up in the middle of it.
func (w *wireConn) passContent() {
	w.fast, w.capBuf = false, nil
	w.scanner = contentScanner{observe: true}
}

// takeContent hands the session the content capture read, if it did; the
// session returns the buffer to the listener's pool.
func (w *wireConn) takeContent() (content *[]byte, tooBig, ok bool) {
	content, tooBig = w.content, w.tooBig
	w.content, w.tooBig = nil, false
	return content, tooBig, content != nil
}

func (w *wireConn) endData() {
	if w.tr.Keeping() {
		w.tr.Add("C", fmt.Sprintf("[message content, %d bytes]", w.dataBytes-3)) // without ".\r\n"
		w.tr.Add("C", ".")
	}
}

// parse moves what it can from in to out and reports whether it made
// progress. It stops at a held command, and while waiting for the reply to
// DATA or STARTTLS.
func (w *wireConn) parse() bool {
	progress := false
	for len(w.in) > 0 && w.hold == nil {
		switch w.mode {
		case modeData:
			n := w.scanData(w.in)
			w.give(w.in[:n])
			w.in = w.in[n:]
			progress = progress || n > 0
			if w.mode == modeData {
				return progress
			}
			w.endData()
		case modeBDAT:
			n := int(min(int64(len(w.in)), w.bdatLeft))
			w.out = append(w.out, w.in[:n]...)
			w.in = w.in[n:]
			w.bdatLeft -= int64(n)
			progress = true
			if w.bdatLeft == 0 {
				w.mode = modeCommand
			}
		case modeAwaitData:
			// The client must wait for the reply; if it does not, the bytes
			// are its business: pass them unparsed.
			w.leaked = true
			w.give(w.in)
			w.in = nil
			return true
		default:
			i := bytes.IndexByte(w.in, '\n')
			if i < 0 {
				if len(w.in) > maxCommandLine { // go-smtp will refuse the line
					w.give(w.in)
					w.in = nil
					return true
				}
				return progress
			}
			line := w.in[:i+1]
			w.in = w.in[i+1:]
			progress = true
			if h := w.command(strings.TrimRight(string(line), "\r\n")); h != nil {
				w.hold = h
				return progress
			}
			w.give(line)
		}
	}
	return progress
}

// give hands b to go-smtp, noting whether it ends a line: STARTTLS must not
// leave part of a line in go-smtp's buffer to be joined to one sent in TLS.
// (BDAT chunks go straight to out: go-smtp reads them by length.)
func (w *wireConn) give(b []byte) {
	w.out = append(w.out, b...)
	if len(b) > 0 {
		w.lastOut = b[len(b)-1]
	}
}

// scanData follows go-smtp's end-of-data rules over b, which go-smtp reads
// itself, and returns how many bytes belong to the message (including the
// end marker).
func (w *wireConn) scanData(b []byte) int {
	_, used, end := w.scanner.scan(b, 0, 0, len(b))
	w.dataBytes = w.scanner.raw
	if end {
		w.mode = modeCommand
	}
	return used
}

// command records one client command line and decides whether mailsink
// answers it instead of go-smtp.
func (w *wireConn) command(line string) *heldCommand {
	if w.authSASL {
		w.tr.Add("C", "****")
		return nil
	}
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	switch verb {
	case "AUTH":
		mech, ir, _ := strings.Cut(arg, " ")
		shown := "AUTH " + mech
		if ir != "" {
			shown += " ****"
		}
		w.tr.Add("C", shown)
	case "BDAT":
		w.tr.Add("C", line)
		if n, ok := bdatSize(arg); ok {
			w.tr.Add("C", fmt.Sprintf("[chunk, %d bytes]", n))
			w.bdatNext = n // the chunk follows if go-smtp gets the command
		}
	default:
		w.tr.Add("C", line)
	}
	if max := w.l.opts.MaxCommands; max > 0 && w.commands.Add(1) > int64(max) {
		return &heldCommand{line: line, tooMany: true}
	}
	if w.needHelo { // go-smtp's answer after its own STARTTLS
		switch verb {
		case "EHLO", "HELO", "NOOP", "RSET", "QUIT":
		default:
			return &heldCommand{line: line, reply: "502 5.5.1 Please introduce yourself first."}
		}
	}
	tlsHere := verb == "STARTTLS" && w.l.opts.TLSConfig != nil && (w.l.cfg.TLS == TLSStartTLS || w.l.cfg.TLS == TLSStartTLSRequired)
	if tlsHere && w.authed && w.tlsConn == nil {
		// go-smtp would keep the cleartext login across the handshake
		// (RFC 3207 wants it forgotten), and refuse a new one inside TLS.
		return &heldCommand{line: line, reply: "503 5.5.1 STARTTLS after AUTH is not supported; start TLS first"}
	}
	var stage faults.Stage
	switch verb {
	case "EHLO", "HELO":
		stage = faults.Ehlo
		w.tr.Update(func(t *storage.Transcript) { t.Helo = strings.TrimSpace(arg) })
	case "STARTTLS":
		stage = faults.StartTLS
	case "RSET":
		stage = faults.Rset
	case "QUIT":
		stage = faults.Quit
	}
	if stage != "" {
		if r, ok := w.l.opts.Faults.Fire(faults.Event{Stage: stage, Port: w.l.cfg.Port}); ok {
			return &heldCommand{line: line, rule: r, startTLS: tlsHere}
		}
	}
	if tlsHere {
		return &heldCommand{line: line, startTLS: true}
	}
	w.passed(verb)
	return nil
}

// passed notes a command handed to go-smtp, whose reply is now pending.
func (w *wireConn) passed(verb string) {
	kind := kindOther
	switch verb {
	case "DATA":
		kind = kindData
		w.mode = modeAwaitData // the client must wait for 354 before the content
	case "EHLO", "HELO":
		kind = kindEhlo
	case "AUTH":
		kind = kindAuth
	case "BDAT":
		kind = kindBDAT
		if w.bdatNext > 0 {
			w.mode, w.bdatLeft = modeBDAT, w.bdatNext
		}
	}
	w.bdatNext = 0
	w.pending = append(w.pending, kind)
}

// bdatSize reads BDAT's arguments exactly as go-smtp does; if go-smtp
// refuses them it reads no chunk, so neither do we.
func bdatSize(arg string) (int64, bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return int64(n), err == nil
}

// runHeld answers a held command once go-smtp has caught up.
func (w *wireConn) runHeld() error {
	h := w.hold
	w.hold = nil
	if h.tooMany {
		const reply = "421 4.7.0 Too many commands in one session, closing"
		w.tr.Add("S", reply)
		io.WriteString(w.Conn, reply+"\r\n")
		w.Close()
		return net.ErrClosed
	}
	if h.reply != "" {
		return w.answer(h.reply)
	}
	if h.startTLS && h.rule.ID == "" { // no fault rule fired
		return w.startTLS()
	}
	w.fault(h.rule)
	h.rule.Wait(w.done)
	if w.closed.Load() {
		return net.ErrClosed
	}
	if rep, ok := h.rule.ParsedReply(); ok {
		w.tr.Add("S", rep.String())
		if _, err := io.WriteString(w.Conn, rep.String()+"\r\n"); err != nil {
			return err
		}
		if rep.Code == 421 || strings.EqualFold(strings.Fields(h.line)[0], "QUIT") {
			w.Close()
			return net.ErrClosed
		}
		return nil
	}
	if h.rule.Drop {
		w.tr.Add("*", "connection dropped")
		w.Close()
		return net.ErrClosed
	}
	// Delay only: now run the command.
	if h.startTLS {
		return w.startTLS()
	}
	w.passed(strings.ToUpper(strings.Fields(h.line)[0]))
	w.give([]byte(h.line + "\r\n"))
	return nil
}
