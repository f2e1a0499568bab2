package storage

import (
	"bufio"
	"io"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// HeaderSummary holds the header facts that lists and searches need. It is
// built at capture from the header block alone, which is cheap.
type HeaderSummary struct {
	MessageID string
	Subject   string
	From      *Address
	To        []Address
	Cc        []Address
	Bcc       []Address
	ReplyTo   []Address
}

// Details are the facts that need the whole MIME tree.
type Details struct {
	Attachments int    // parts with an attachment disposition
	Inline      int    // inline parts and other non-text parts with a name or Content-ID
	Snippet     string // start of the text body, whitespace collapsed, at most 250 runes
}

// Attachment describes one non-body part.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Disposition string
	Size        int
	Content     []byte `json:"-"`
}

// Parsed is the full view of a message, built by enmime. A message enmime
// cannot make sense of still yields a Parsed: the headers it could read, the
// body as text, and the parse errors.
type Parsed struct {
	Header      textproto.MIMEHeader // raw (undecoded) header values
	Date        time.Time            // the Date header; zero when absent or unparsable
	ReturnPath  string               // the Return-Path header, without <>
	Text        string
	HTML        string
	Attachments []Attachment
	Inline      []Attachment
	Errors      []string
}

// headerEnd returns the offset of the blank line ending the header block and
// the offset of the body, tolerating bare LF line endings.
func headerEnd(raw string) (int, int) {
	if i := strings.Index(raw, "\r\n\r\n"); i >= 0 {
		if j := strings.Index(raw[:i+1], "\n\n"); j >= 0 { // an earlier blank line with bare LFs
			return j + 1, j + 2
		}
		return i + 2, i + 4
	}
	if j := strings.Index(raw, "\n\n"); j >= 0 {
		return j + 1, j + 2
	}
	return len(raw), len(raw)
}

// ReadHeader parses the header block of raw (such as Message.Raw), keeping
// whatever it could read before a malformed line.
func ReadHeader(raw string) textproto.MIMEHeader {
	end, _ := headerEnd(raw)
	// The reader's buffer is sized to the header block: the default 4 KB
	// would be most of the garbage made per captured message.
	r := io.MultiReader(strings.NewReader(raw[:end]), strings.NewReader("\r\n"))
	h, err := textproto.NewReader(bufio.NewReaderSize(r, min(end+2, 64<<10))).ReadMIMEHeader()
	if h == nil {
		h = textproto.MIMEHeader{}
	}
	_ = err // a malformed line ends the header; what came before is kept
	return h
}

// summarize fills m.Header from m.raw, which must never change: what the
// parsers return is kept as the raw bytes it came from wherever they hold
// it verbatim, and one sender and one To address live inside m (pack.go).
// It returns the X-Tags header's value ("" for none), for the store to
// give m its tags under its lock.
func (m *Message) summarize() (xTags string) {
	h := scanHeader(m.raw)
	m.Header = HeaderSummary{
		MessageID: strings.Trim(strings.TrimSpace(h[fieldMessageID]), "<>"),
		Subject:   within(h[fieldSubject], decodeHeader(h[fieldSubject])),
		To:        addressList(m.inlineTo[:0:1], h[fieldTo]),
		Cc:        addressList(nil, h[fieldCc]),
		Bcc:       addressList(nil, h[fieldBcc]),
		ReplyTo:   addressList(nil, h[fieldReplyTo]),
	}
	if from := addressList(nil, h[fieldFrom]); len(from) > 0 {
		m.inlineFrom = from[0]
		m.Header.From = &m.inlineFrom
	}
	return h[fieldXTags]
}

// parseDate reads a Date header, keeping only what JSON can carry: a zone
// such as +2400 is moved to UTC, and a year outside 1–9999 is no date.
func parseDate(v string) time.Time {
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	if _, err := t.MarshalJSON(); err != nil {
		t = t.UTC()
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}
	}
	return t
}

// decodeHeader decodes RFC 2047 words and makes the result valid UTF-8, so
// 8-bit headers in an unknown charset cannot break JSON output.
func decodeHeader(v string) string {
	return strings.ToValidUTF8(enmime.DecodeRFC2047(strings.TrimSpace(v)), "\uFFFD")
}

// addressList parses an address header into out's room.
func addressList(out []Address, v string) []Address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if a, ok := simpleAddress(v); ok {
		return append(out, a)
	}
	return parseAddressList(out, v)
}

// parseAddressList is addressList with enmime's full parser.
func parseAddressList(out []Address, v string) []Address {
	list, err := enmime.ParseAddressList(v)
	if err != nil || len(list) == 0 {
		// Unparsable: keep the text so it is still visible and searchable.
		return append(out, Address{Address: within(v, decodeHeader(v))})
	}
	for _, a := range list {
		out = append(out, Address{
			Name:    within(v, strings.ToValidUTF8(a.Name, "\uFFFD")),
			Address: within(v, strings.ToValidUTF8(a.Address, "\uFFFD")),
		})
	}
	return out
}

var parser = enmime.NewParser(
	enmime.SkipMalformedParts(false),
	enmime.MultipartWOBoundaryAsSinglePart(true),
	enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
	// A declared charset is taken at its word, as mail clients do; guessing
	// is for parts that declare none. Guessing every part cost almost a
	// millisecond per message, on the path of every list and wait.
	enmime.DisableCharacterDetection(true),
)

// Parse builds the full view of a raw message (such as Message.Raw). It
// never fails: malformed MIME is reported in Errors and the rest is shown
// as well as it can be.
func Parse(raw string) *Parsed {
	p := &Parsed{Header: ReadHeader(raw)}
	p.ReturnPath = strings.Trim(strings.TrimSpace(p.Header.Get("Return-Path")), "<>")
	if d := p.Header.Get("Date"); d != "" {
		p.Date = parseDate(d)
	}
	if why := overBudget(raw); why != "" {
		_, body := headerEnd(raw)
		text := raw[body:]
		if len(text) > maxUnparsedText {
			text = text[:maxUnparsedText]
		}
		p.Text = strings.ToValidUTF8(text, "\uFFFD")
		p.Errors = append(p.Errors, "MIME structure not parsed: "+why+"; the body is shown as text and the raw source is intact")
		return p
	}
	env, err := parser.ReadEnvelope(strings.NewReader(raw))
	if err != nil {
		// enmime gave up: show the body as text so nothing is hidden.
		_, body := headerEnd(raw)
		p.Text = strings.ToValidUTF8(raw[body:], "\uFFFD")
		p.Errors = append(p.Errors, err.Error())
		return p
	}
	p.Text = strings.ToValidUTF8(env.Text, "\uFFFD")
	p.HTML = strings.ToValidUTF8(env.HTML, "\uFFFD")
	for _, e := range env.Errors {
		p.Errors = append(p.Errors, e.Error())
	}
	for _, part := range env.Attachments {
		p.Attachments = append(p.Attachments, attachmentOf(part))
	}
	for _, part := range env.Inlines {
		p.Inline = append(p.Inline, attachmentOf(part))
	}
	for _, part := range env.OtherParts {
		if part.FileName != "" || part.ContentID != "" {
			p.Inline = append(p.Inline, attachmentOf(part))
		}
	}
	return p
}

func attachmentOf(part *enmime.Part) Attachment {
	name := part.FileName
	if name == "" {
		name = part.ContentID
	}
	return Attachment{
		PartID:      part.PartID,
		FileName:    strings.ToValidUTF8(name, "\uFFFD"),
		ContentType: part.ContentType,
		ContentID:   part.ContentID,
		Disposition: part.Disposition,
		Size:        len(part.Content),
		Content:     part.Content,
	}
}

// Part returns the attachment or inline part with the given PartID.
func (p *Parsed) Part(id string) (Attachment, bool) {
	for _, list := range [][]Attachment{p.Attachments, p.Inline} {
		for _, a := range list {
			if a.PartID == id {
				return a, true
			}
		}
	}
	return Attachment{}, false
}

func detailsOf(p *Parsed) Details {
	text := p.Text
	if strings.TrimSpace(text) == "" && p.HTML != "" {
		text = stripTags(p.HTML)
	}
	return Details{
		Attachments: len(p.Attachments),
		Inline:      len(p.Inline),
		Snippet:     snippet(text, 250),
	}
}

func snippet(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max])
}

// stripTags is a rough HTML-to-text for snippets and search, not for display.
func stripTags(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func lower(s string) string { return strings.ToLower(s) }
