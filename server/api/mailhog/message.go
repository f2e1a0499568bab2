package mailhog

import (
	"mime"
	"strings"
	"time"

	"github.com/mailsink/mailsink/storage"
)

// Message is MailHog's data.Message. The field names are the JSON keys:
// MailHog's structs have no json tags.
type Message struct {
	ID      string
	From    Path
	To      []Path
	Content Content
	Created time.Time
	MIME    *MIMEBody // nil (null) unless the message is multipart
	Raw     SMTPMessage
}

// Path is an SMTP reverse- or forward-path split at the last "@".
type Path struct {
	Relays  []string // always null: mailsink keeps no source routes
	Mailbox string
	Domain  string
	Params  string
}

// Content is a message or MIME part: its headers, its body exactly as sent
// (still transfer-encoded) and its size with headers.
type Content struct {
	Headers map[string][]string
	Body    string
	Size    int
	MIME    *MIMEBody // set on multipart parts; null on the message's own Content, as in MailHog
}

// MIMEBody lists the parts of a multipart body.
type MIMEBody struct {
	Parts []Content
}

// SMTPMessage is what the SMTP client sent.
type SMTPMessage struct {
	From string
	To   []string
	Data string
	Helo string
}

// maxDepth bounds the recursion into nested multiparts; deeper parts are
// listed with their bodies unsplit. In MailHog's shape every level repeats
// its parent's body, so the depth bounds a response to about maxDepth+2
// times the message; real mail rarely nests more than four levels.
const maxDepth = 8

// bigMessage is the size past which only two levels are split, so the
// view of a message stays within about four times its size.
const bigMessage = 1 << 20

// messageOf builds MailHog's view of m. Unlike MailHog it changes nothing:
// no Received, Return-Path or Message-ID is added, and every value of a
// repeated header is kept.
func messageOf(m *storage.Message) Message {
	to := make([]Path, 0, len(m.Envelope.To))
	for _, r := range m.Envelope.To {
		to = append(to, pathOf(r))
	}
	depth := maxDepth
	if m.Size() > bigMessage {
		depth = 2 // each level repeats the bodies below it
	}
	content := contentOf(m.Raw(), depth)
	// MailHog parses the top level into Message.MIME, not Content.MIME.
	mimeBody := content.MIME
	content.MIME = nil
	rcpts := m.Envelope.To
	if rcpts == nil {
		rcpts = []string{}
	}
	return Message{
		ID:      m.ID,
		From:    pathOf(m.Envelope.From),
		To:      to,
		Content: content,
		Created: m.Received(),
		MIME:    mimeBody,
		Raw:     SMTPMessage{From: m.Envelope.From, To: rcpts, Data: m.Raw(), Helo: m.Delivery().Helo},
	}
}

func pathOf(addr string) Path {
	p := Path{Mailbox: addr}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		p.Mailbox, p.Domain = addr[:i], addr[i+1:]
	}
	return p
}

// contentOf builds the Content of a message or part from its raw text,
// splitting multipart bodies into parts down to depth levels.
func contentOf(raw string, depth int) Content {
	h := storage.ReadHeader(raw)
	c := Content{Headers: h, Body: raw[bodyOffset(raw):], Size: len(raw)}
	if depth > 0 {
		if boundary, ok := multipartBoundary(h.Get("Content-Type")); ok {
			c.MIME = &MIMEBody{Parts: []Content{}}
			for _, part := range splitParts(raw[bodyOffset(raw):], boundary) {
				c.MIME.Parts = append(c.MIME.Parts, contentOf(part, depth-1))
			}
		}
	}
	return c
}

// multipartBoundary reports whether contentType is multipart/*, and its
// boundary ("" when the parameter is missing: the body then has no parts,
// as in MailHog).
func multipartBoundary(contentType string) (string, bool) {
	ct := strings.TrimSpace(contentType)
	if len(ct) < len("multipart/") || !strings.EqualFold(ct[:len("multipart/")], "multipart/") {
		return "", false
	}
	if _, params, err := mime.ParseMediaType(ct); err == nil && params["boundary"] != "" {
		return params["boundary"], true
	}
	return looseBoundary(ct), true
}

// looseBoundary finds boundary=value in a Content-Type that
// mime.ParseMediaType refuses, the way MailHog's regular expression does.
func looseBoundary(ct string) string {
	i := strings.Index(strings.ToLower(ct), "boundary=")
	if i < 0 {
		return ""
	}
	v := ct[i+len("boundary="):]
	if strings.HasPrefix(v, `"`) {
		v = v[1:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
	}
	if j := strings.IndexAny(v, "; \t\r\n\""); j >= 0 {
		v = v[:j]
	}
	return v
}

// bodyOffset returns where the body of raw starts: after the first empty
// line, which may be the very first line of a part without headers. Bare LF
// line endings are accepted.
func bodyOffset(raw string) int {
	for i := 0; i < len(raw); {
		j := strings.IndexByte(raw[i:], '\n')
		if j < 0 {
			return len(raw)
		}
		line := raw[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return i
		}
	}
	return len(raw)
}

// splitParts returns the raw parts of a multipart body: the text between
// delimiter lines, without the line break that belongs to the next
// delimiter. The preamble and epilogue are dropped. When the close
// delimiter is missing, the last part runs to the end of the body.
func splitParts(body, boundary string) []string {
	if boundary == "" {
		return nil
	}
	delim := "--" + boundary
	var parts []string
	start := -1 // offset of the current part; -1 in the preamble
	for pos := 0; pos < len(body); {
		next := len(body)
		if j := strings.IndexByte(body[pos:], '\n'); j >= 0 {
			next = pos + j + 1
		}
		if line := body[pos:next]; strings.HasPrefix(line, delim) {
			rest := strings.TrimRight(line[len(delim):], " \t\r\n")
			closing := rest == "--"
			if len(rest) == 0 || closing {
				if start >= 0 {
					parts = append(parts, trimLineBreak(body[start:pos]))
				}
				if closing {
					return parts
				}
				start = next
			}
		}
		pos = next
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts
}

func trimLineBreak(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}
