package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"
)

// bodyLine is the length of a body text line without its CRLF.
const bodyLine = 76

// factory builds the messages of one run. Message i is the same bytes every
// time it is built, so -check can rebuild what it sent; each has its own
// recipient and Message-ID, so it can be found again in any sink's API.
type factory struct {
	run    string // random per run: messages of earlier runs never match
	size   int
	date   string
	text   []byte // CRLF-terminated lines of words, enough for size
	attach []byte // base64 lines of the attachment, CRLF-terminated; nil: none
}

func newFactory(size, attach int) *factory {
	f := &factory{
		run:  fmt.Sprintf("%08x", rand.Uint32()),
		size: size,
		date: time.Now().Format(time.RFC1123Z),
	}
	// Words rather than random bytes: text compresses about as real mail
	// does, which matters for a sink that compresses what it stores (Mailpit).
	rng := rand.New(rand.NewPCG(1, 2))
	f.text = wordLines(rng, size/(bodyLine+2)+1)
	if attach > 0 {
		data := make([]byte, attach)
		rand.NewChaCha8([32]byte{1}).Read(data)
		f.attach = base64Lines(data)
	}
	return f
}

// rcpt is message i's envelope and To: address. Its local part is the
// mailbox name in Inbucket, so it has no '+' and no dots.
func (f *factory) rcpt(i int) string { return fmt.Sprintf("b%s-%d@bench.test", f.run, i) }

// messageID is message i's Message-ID without angle brackets.
func (f *factory) messageID(i int) string { return fmt.Sprintf("%d.%s@bench.test", i, f.run) }

const sender = "bench@bench.test"

// build returns message i with CRLF line endings, as it goes over the wire
// before dot-stuffing (which the SMTP client adds and the server removes).
func (f *factory) build(i int) []byte {
	var b bytes.Buffer
	b.Grow(f.size + len(f.attach) + 1024)
	fmt.Fprintf(&b, "From: mailsink-bench <%s>\r\nTo: <%s>\r\nSubject: mailsink-bench %s #%d\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n",
		sender, f.rcpt(i), f.run, i, f.date, f.messageID(i))
	if f.attach == nil {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
		b.Write(f.body(f.size - b.Len()))
		return b.Bytes()
	}
	boundary := "mailsink-bench-" + f.run
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary, boundary)
	b.Write(f.body(f.size - b.Len()))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/octet-stream; name=\"attachment.bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"attachment.bin\"\r\n\r\n", boundary)
	b.Write(f.attach)
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// body returns whole text lines, at least one, about want bytes in all.
func (f *factory) body(want int) []byte {
	n := max(want/(bodyLine+2), 1) * (bodyLine + 2)
	return f.text[:min(n, len(f.text))]
}

var words = []string{
	"the", "order", "invoice", "account", "password", "reset", "link", "please", "confirm",
	"your", "email", "address", "within", "hours", "thank", "you", "for", "signing", "up",
	"team", "support", "ticket", "updated", "status", "shipped", "delivery", "expected",
	"tomorrow", "receipt", "payment", "received", "amount", "total", "subscription",
	"renewal", "notice", "welcome", "aboard", "click", "here", "unsubscribe", "settings",
}

// wordLines returns n CRLF-terminated lines of bodyLine characters each.
func wordLines(rng *rand.Rand, n int) []byte {
	out := make([]byte, 0, n*(bodyLine+2))
	for range n {
		start := len(out)
		for len(out)-start < bodyLine {
			out = append(out, words[rng.IntN(len(words))]...)
			out = append(out, ' ')
		}
		out = out[:start+bodyLine]
		if out[len(out)-1] == ' ' { // some sinks trim trailing blanks
			out[len(out)-1] = '.'
		}
		out = append(out, '\r', '\n')
	}
	return out
}

// base64Lines encodes data as MIME wants it: lines of 76 characters.
func base64Lines(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	out := make([]byte, 0, len(enc)+len(enc)/76*2+2)
	for len(enc) > 76 {
		out = append(out, enc[:76]...)
		out = append(out, '\r', '\n')
		enc = enc[76:]
	}
	out = append(out, enc...)
	return append(out, '\r', '\n')
}
