// Package compose owns building mail from structured input: a Message of
// addresses, subject, bodies, attachments and extra header fields becomes
// RFC 5322 bytes through go-message's writer, with encoded headers, a Date
// and a Message-ID. Text beside HTML is multipart/alternative, inline parts
// (those with a Content-ID, which the HTML names as cid:) sit with the
// bodies in multipart/related, and attachments around all of it in
// multipart/mixed. Complete gives a header read from elsewhere (sendmail's
// input) the fields a message must have.
//
// It is the one place mailsink composes MIME; the send API and sendmail mode
// share it. It imports no package of mailsink's.
package compose

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"net/http"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Address is one mailbox: a display name (any text; encoded when it is not
// ASCII) and the address itself.
type Address struct {
	Name, Email string
}

// Attachment is a file carried by the message. With a ContentID it is an
// inline part (Content-Disposition: inline, Content-ID: <ContentID>),
// placed beside the HTML that shows it.
type Attachment struct {
	Filename    string
	ContentType string // "": detected from Content
	ContentID   string // "": an ordinary attachment
	Content     []byte
}

// Field is one header field of the caller's, written as given (its value
// encoded when it is not ASCII).
type Field struct {
	Key, Value string
}

// Message is what Build turns into mail. Bcc recipients are not part of
// it: they belong in the envelope only.
type Message struct {
	From        Address
	To, Cc      []Address
	ReplyTo     []Address
	Subject     string
	Text, HTML  string
	Attachments []Attachment
	// Header holds further fields, written after the standard ones in this
	// order. A Message-Id among them replaces the generated one.
	Header []Field
}

// ErrCharset is returned for a part whose Content-Type names a charset
// other than UTF-8 or US-ASCII, which go-message's writer refuses.
var ErrCharset = errors.New("only the charsets utf-8 and us-ascii can be written")

// Build writes m as a message dated now, with a Message-ID at hostname
// (unless m.Header has one).
func Build(m Message, now time.Time, hostname string) ([]byte, error) {
	root, err := m.body()
	if err != nil {
		return nil, err
	}
	// go-message writes the field added last first: the fields are added
	// from the bottom up, so that they read From, To, ..., Content-Type.
	var h mail.Header
	for i := len(root.fields) - 1; i >= 0; i-- {
		h.Set(root.fields[i].Key, root.fields[i].Value)
	}
	h.Set("MIME-Version", "1.0")
	hasID := false
	for i := len(m.Header) - 1; i >= 0; i-- {
		f := m.Header[i]
		if strings.EqualFold(f.Key, "Message-Id") {
			hasID = true
		}
		if err := validKey(f.Key); err != nil {
			return nil, err
		}
		if strings.ContainsAny(f.Value, "\r\n") {
			return nil, fmt.Errorf("header field %s: a value cannot hold a line break", f.Key)
		}
		h.Add(f.Key, mime.QEncoding.Encode("utf-8", f.Value))
	}
	if !hasID {
		if err := h.GenerateMessageIDWithHostname(hostname); err != nil {
			return nil, fmt.Errorf("making a Message-ID: %w", err)
		}
	}
	h.SetDate(now)
	if m.Subject != "" {
		h.SetSubject(m.Subject)
	}
	for _, l := range []struct {
		key   string
		addrs []Address
	}{{"Reply-To", m.ReplyTo}, {"Cc", m.Cc}, {"To", m.To}, {"From", []Address{m.From}}} {
		h.SetAddressList(l.key, mailAddresses(l.addrs))
	}

	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, fmt.Errorf("writing the header: %w", err)
	}
	if err := root.write(w); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Complete adds to h the fields every message has and h lacks: a Date
// (now) and a Message-ID at hostname. Fields already there are kept as they
// are (go-message writes their lines with CRLF ends); the new ones go on top.
func Complete(h *mail.Header, now time.Time, hostname string) error {
	if !h.Has("Message-Id") {
		if err := h.GenerateMessageIDWithHostname(hostname); err != nil {
			return fmt.Errorf("making a Message-ID: %w", err)
		}
	}
	if !h.Has("Date") {
		h.SetDate(now)
	}
	return nil
}

func mailAddresses(list []Address) []*mail.Address {
	out := make([]*mail.Address, 0, len(list))
	for _, a := range list {
		if a.Email != "" {
			out = append(out, &netmail.Address{Name: a.Name, Address: a.Email})
		}
	}
	return out
}

// part is one MIME entity: its own header fields (Content-Type first) and
// either a body or parts.
type part struct {
	fields []Field
	body   []byte
	parts  []*part
}

// body arranges the bodies and attachments of m: mixed(related(alternative(
// text, html), inline...), attachment...), each level only where needed.
func (m Message) body() (*part, error) {
	text := leaf("text/plain; charset=utf-8", "quoted-printable", []byte(m.Text))
	var root *part
	switch {
	case m.HTML == "":
		root = text
	case m.Text == "":
		root = leaf("text/html; charset=utf-8", "quoted-printable", []byte(m.HTML))
	default:
		root = multipart("alternative", text, leaf("text/html; charset=utf-8", "quoted-printable", []byte(m.HTML)))
	}
	var inline, attached []*part
	for _, a := range m.Attachments {
		p, err := attachment(a)
		if err != nil {
			return nil, err
		}
		if a.ContentID != "" {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}
	if len(inline) > 0 {
		root = multipart("related", append([]*part{root}, inline...)...)
	}
	if len(attached) > 0 {
		root = multipart("mixed", append([]*part{root}, attached...)...)
	}
	return root, nil
}

func leaf(contentType, encoding string, body []byte) *part {
	return &part{fields: []Field{{"Content-Type", contentType}, {"Content-Transfer-Encoding", encoding}}, body: body}
}

func multipart(subtype string, parts ...*part) *part {
	// The boundary is chosen here so that Content-Type is complete when the
	// header is written (go-message would add it on top otherwise).
	ct := mime.FormatMediaType("multipart/"+subtype, map[string]string{"boundary": rand.Text()})
	return &part{fields: []Field{{"Content-Type", ct}}, parts: parts}
}

// ContentType returns the media type an attachment is sent with: its own,
// checked, or the one its content looks like.
func ContentType(a Attachment) (string, error) {
	ct := a.ContentType
	if ct == "" {
		ct = http.DetectContentType(a.Content)
	}
	t, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("content type %q: %w", ct, err)
	}
	switch cs := strings.ToLower(params["charset"]); cs {
	case "", "utf-8", "us-ascii":
	default:
		return "", fmt.Errorf("content type %q: %w", ct, ErrCharset)
	}
	if strings.HasPrefix(t, "multipart/") {
		return "", fmt.Errorf("content type %q: an attachment is sent base64-encoded, which a multipart entity cannot be", ct)
	}
	return mime.FormatMediaType(t, params), nil
}

func attachment(a Attachment) (*part, error) {
	ct, err := ContentType(a)
	if err != nil {
		return nil, err
	}
	disp := "attachment"
	if a.ContentID != "" {
		disp = "inline"
	}
	var h message.Header
	if a.Filename != "" {
		h.SetContentDisposition(disp, map[string]string{"filename": a.Filename}) // encodes a name that is not ASCII
	} else {
		h.SetContentDisposition(disp, nil)
	}
	fields := []Field{{"Content-Type", ct}, {"Content-Disposition", h.Get("Content-Disposition")}, {"Content-Transfer-Encoding", "base64"}}
	if a.ContentID != "" {
		fields = append(fields, Field{"Content-Id", "<" + strings.Trim(a.ContentID, "<>") + ">"})
	}
	return &part{fields: fields, body: a.Content}, nil
}

// write writes p's body or parts to w, whose header holds p's fields.
func (p *part) write(w *message.Writer) error {
	if p.parts == nil {
		if _, err := w.Write(p.body); err != nil {
			return fmt.Errorf("writing a part: %w", err)
		}
		return w.Close()
	}
	for _, c := range p.parts {
		var h message.Header
		for i := len(c.fields) - 1; i >= 0; i-- {
			h.Set(c.fields[i].Key, c.fields[i].Value)
		}
		cw, err := w.CreatePart(h)
		if err != nil {
			return fmt.Errorf("writing a part: %w", err)
		}
		if err := c.write(cw); err != nil {
			return err
		}
	}
	return w.Close()
}

// validKey checks a header field name: printable ASCII without a colon
// (RFC 5322 section 2.2).
func validKey(k string) error {
	if k == "" {
		return errors.New("a header field needs a name")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("header field name %q: only printable ASCII without a colon", k)
		}
	}
	return nil
}

// ValidKey reports whether k can name a header field.
func ValidKey(k string) bool { return validKey(k) == nil }
