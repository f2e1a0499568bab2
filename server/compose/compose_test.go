package compose

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/jhillyerd/enmime/v2"
)

var when = time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))

// png is a 1x1 image's first bytes: enough for content sniffing.
var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

// TestBuildParsesBack builds messages of each shape and reads them back
// with enmime, an independent MIME parser: what went in comes out, in the
// structure the shape calls for.
func TestBuildParsesBack(t *testing.T) {
	base := Message{
		From: Address{"Zoë Sender", "zoe@example.test"},
		To:   []Address{{"", "to@example.test"}, {"Ünïcode Name", "u@example.test"}},
	}
	tests := []struct {
		name       string
		m          func(Message) Message
		wantType   string // top-level media type
		wantParts  []string
		text, html string
	}{
		{"text only", func(m Message) Message { m.Text = "hello\nworld"; return m }, "text/plain", nil, "hello\r\nworld", ""},
		{"html only", func(m Message) Message { m.HTML = "<p>hi</p>"; return m }, "text/html", nil, "hi", "<p>hi</p>"}, // enmime makes text from HTML
		{"neither", func(m Message) Message { return m }, "text/plain", nil, "", ""},
		{"alternative", func(m Message) Message { m.Text, m.HTML = "plain", "<b>rich</b>"; return m },
			"multipart/alternative", []string{"text/plain", "text/html"}, "plain", "<b>rich</b>"},
		{"related inline image", func(m Message) Message {
			m.Text, m.HTML = "plain", `<img src="cid:logo">`
			m.Attachments = []Attachment{{Filename: "logo.png", ContentID: "logo", Content: png}}
			return m
		}, "multipart/related", []string{"multipart/alternative", "image/png"}, "plain", `<img src="cid:logo">`},
		{"mixed with both", func(m Message) Message {
			m.HTML = `<img src="cid:logo">`
			m.Attachments = []Attachment{
				{Filename: "résumé.txt", ContentType: "text/plain", Content: []byte("cv")},
				{Filename: "logo.png", ContentID: "<logo>", Content: png},
			}
			return m
		}, "multipart/mixed", []string{"multipart/related", "text/plain"}, "", `<img src="cid:logo">`}, // enmime: no text from an image
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m(base)
			m.Subject = "Grüße, " + tt.name
			raw, err := Build(m, when, "test.example")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsFunc(raw[:bytes.Index(raw, []byte("\r\n\r\n"))], func(r rune) bool { return r > 127 }) {
				t.Errorf("header is not ASCII:\n%s", raw)
			}
			env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range env.Errors {
				if e.Severe {
					t.Errorf("enmime found an error: %v\n%s", e, raw)
				}
			}
			if got := env.GetHeader("Subject"); got != m.Subject {
				t.Errorf("Subject %q, want %q", got, m.Subject)
			}
			from, _ := env.AddressList("From")
			if len(from) != 1 || from[0].Name != "Zoë Sender" || from[0].Address != "zoe@example.test" {
				t.Errorf("From %v", from)
			}
			to, _ := env.AddressList("To")
			if len(to) != 2 || to[1].Name != "Ünïcode Name" {
				t.Errorf("To %v", to)
			}
			if d, err := env.Date(); err != nil || !d.Equal(when) {
				t.Errorf("Date %v %v", d, err)
			}
			if id := env.GetHeader("Message-Id"); !strings.HasSuffix(id, "@test.example>") {
				t.Errorf("Message-Id %q", id)
			}
			if env.Root.ContentType != tt.wantType {
				t.Errorf("top-level type %q, want %q\n%s", env.Root.ContentType, tt.wantType, raw)
			}
			var parts []string
			for c := env.Root.FirstChild; c != nil; c = c.NextSibling {
				parts = append(parts, c.ContentType)
			}
			if strings.Join(parts, ",") != strings.Join(tt.wantParts, ",") {
				t.Errorf("parts %v, want %v\n%s", parts, tt.wantParts, raw)
			}
			if env.Text != tt.text || env.HTML != tt.html {
				t.Errorf("text %q html %q, want %q %q", env.Text, env.HTML, tt.text, tt.html)
			}
			for _, a := range m.Attachments {
				var found *enmime.Part
				for _, p := range append(append([]*enmime.Part{}, env.Attachments...), env.Inlines...) {
					if p.FileName == a.Filename {
						found = p
					}
				}
				switch {
				case found == nil:
					t.Errorf("attachment %q not found\n%s", a.Filename, raw)
				case !bytes.Equal(found.Content, a.Content):
					t.Errorf("attachment %q content %q", a.Filename, found.Content)
				case a.ContentID != "" && (found.ContentID != strings.Trim(a.ContentID, "<>") || found.Disposition != "inline"):
					t.Errorf("inline %q: Content-ID %q, disposition %q", a.Filename, found.ContentID, found.Disposition)
				}
			}
		})
	}
}

func TestBuildHeaderFields(t *testing.T) {
	m := Message{
		From:    Address{Email: "a@example.test"},
		To:      []Address{{Email: "b@example.test"}},
		ReplyTo: []Address{{Name: "Help", Email: "help@example.test"}},
		Text:    "x",
		Header:  []Field{{"X-Tags", "one, two"}, {"Message-ID", "<given@example.test>"}, {"X-Note", "naïve"}},
	}
	raw, err := Build(m, when, "test.example")
	if err != nil {
		t.Fatal(err)
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for f := h.Fields(); f.Next(); {
		keys = append(keys, f.Key())
	}
	want := "From,To,Reply-To,Date,X-Tags,Message-Id,X-Note,Mime-Version,Content-Type,Content-Transfer-Encoding"
	if strings.Join(keys, ",") != want {
		t.Errorf("fields %v, want %s", keys, want)
	}
	if got := h.Get("Message-Id"); got != "<given@example.test>" {
		t.Errorf("Message-Id %q: the given one must win", got)
	}
	if got := h.Get("X-Note"); got != "=?utf-8?q?na=C3=AFve?=" {
		t.Errorf("X-Note %q", got)
	}
	if h.Has("Bcc") || h.Has("Subject") {
		t.Error("Bcc or an empty Subject written")
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"field name with colon", Message{Header: []Field{{"X:Y", "v"}}}, "printable ASCII"},
		{"field value with line break", Message{Header: []Field{{"X-Y", "v\r\nBcc: x@y"}}}, "line break"},
		{"latin-1 attachment", Message{Attachments: []Attachment{{ContentType: "text/csv; charset=iso-8859-1"}}}, ErrCharset.Error()},
		{"multipart attachment", Message{Attachments: []Attachment{{ContentType: "multipart/mixed"}}}, "multipart"},
		{"bad content type", Message{Attachments: []Attachment{{ContentType: "text/"}}}, "content type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.m, when, "x")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
	_, err := Build(Message{Attachments: []Attachment{{ContentType: "text/csv; charset=latin1"}}}, when, "x")
	if !errors.Is(err, ErrCharset) {
		t.Errorf("err %v, want ErrCharset", err)
	}
}

// TestCompleteKeepsFields adds Date and Message-ID to a header that lacks
// them and leaves the rest byte for byte.
func TestCompleteKeepsFields(t *testing.T) {
	in := "Subject:  odd   spacing\nTo: a@example.test\n\nbody\n"
	for _, tt := range []struct {
		name, in string
		added    []string
	}{
		{"lacks both", in, []string{"Date", "Message-Id"}},
		{"has both", "Date: Tue, 1 Jan 2030 00:00:00 +0000\nMessage-ID: <x@y>\n" + in, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			th, err := textproto.ReadHeader(br)
			if err != nil {
				t.Fatal(err)
			}
			h := mail.Header{}
			h.Header.Header = th
			if err := Complete(&h, when, "host.test"); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := textproto.WriteHeader(&out, h.Header.Header); err != nil {
				t.Fatal(err)
			}
			rest, _ := br.ReadString(0)
			got := out.String() + rest
			// The input's own fields are there unchanged (lines end in CRLF,
			// as SMTP wants), after the new ones; the body is not touched.
			head, body, _ := strings.Cut(tt.in, "\n\n")
			orig := strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n" + body
			if !strings.HasSuffix(got, orig) {
				t.Errorf("got\n%q\nwant it to end with\n%q", got, orig)
			}
			added := strings.TrimSuffix(got, orig)
			var keys []string
			for _, l := range strings.Split(strings.TrimSuffix(added, "\r\n"), "\r\n") {
				if k, _, ok := strings.Cut(l, ":"); ok {
					keys = append(keys, k)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tt.added, ",") {
				t.Errorf("added %q, want fields %v", added, tt.added)
			}
		})
	}
}
