package server_test

// POST /api/v1/send over real HTTP against an in-process sink: what a
// Mailpit client sends is composed, stored like SMTP mail, read back
// through the API and parsed again by enmime.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sinktest"
)

// postSend posts body to /api/v1/send and returns the status and answer.
func postSend(t *testing.T, s *sinktest.Sink, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(s.URL+"/api/v1/send", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q for %s", ct, data)
	}
	return resp.StatusCode, data
}

// pngBytes is a 1x1 transparent PNG.
var pngBytes, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

func TestSendAPIRequests(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.MaxMessageSize = 64 << 10
		c.MaxRecipients = 4
	}))
	big := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 64<<10))
	const to = `"To":[{"Email":"to@example.test"}]`
	tests := []struct {
		name   string
		body   string
		status int
		want   string // in the error, or "" for a 200
		rcpts  []string
	}{
		{"minimal", `{"From":{"Email":"app@example.test"},` + to + `}`, 200, "", []string{"to@example.test"}},
		{"every field", `{"From":{"Email":"app@example.test","Name":"App"},"To":[{"Email":"a@example.test","Name":"A"}],
			"Cc":[{"Email":"c@example.test"}],"Bcc":["b@example.test",{"Email":"b2@example.test"}],"ReplyTo":[{"Email":"r@example.test"}],
			"Subject":"s","Text":"t","HTML":"<p>h</p>","Attachments":[{"Content":"aGk=","Filename":"hi.txt"}],
			"Headers":{"X-Custom":"1"},"Tags":["one","two"]}`, 200, "", []string{"a@example.test", "c@example.test", "b@example.test", "b2@example.test"}},
		{"Bcc only", `{"From":{"Email":"app@example.test"},"Bcc":["hidden@example.test"]}`, 200, "", []string{"hidden@example.test"}},
		{"name in Email", `{"From":{"Email":"App <app@example.test>"},` + to + `}`, 200, "", []string{"to@example.test"}},
		{"data URL content", `{"From":{"Email":"app@example.test"},` + to + `,"Attachments":[{"Content":"data:text/plain;base64,aGk=","Filename":"a.txt"}]}`, 200, "", []string{"to@example.test"}},
		{"field names in lower case", `{"from":{"email":"app@example.test"},"to":[{"email":"to@example.test"}]}`, 200, "", []string{"to@example.test"}},

		{"no body", ``, 400, "request body: want JSON", nil},
		{"not JSON", `{"From":`, 400, "request body", nil},
		{"missing From", `{` + to + `}`, 400, "From.Email: required", nil},
		{"bad From", `{"From":{"Email":"nobody"},` + to + `}`, 400, `From.Email "nobody": not an email address`, nil},
		{"no recipients", `{"From":{"Email":"app@example.test"}}`, 400, "at least one recipient", nil},
		{"bad To", `{"From":{"Email":"app@example.test"},"To":[{"Email":"to@example.test"},{"Email":"x@"}]}`, 400, `To[1].Email "x@"`, nil},
		{"bad Cc", `{"From":{"Email":"app@example.test"},"Cc":[{"Name":"no address"}]}`, 400, "Cc[0].Email: required", nil},
		{"bad Bcc", `{"From":{"Email":"app@example.test"},"Bcc":["a@b@c"]}`, 400, `Bcc[0].Email "a@b@c"`, nil},
		{"Bcc object with unknown field", `{"From":{"Email":"app@example.test"},"Bcc":[{"Mail":"x@example.test"}]}`, 400, `unknown field "Mail"`, nil},
		{"bad ReplyTo", `{"From":{"Email":"app@example.test"},` + to + `,"ReplyTo":[{"Email":"?"}]}`, 400, "ReplyTo[0].Email", nil},
		{"unknown field", `{"From":{"Email":"app@example.test"},` + to + `,"Sender":"x"}`, 400, `unknown field "Sender"`, nil},
		{"unknown nested field", `{"From":{"Email":"app@example.test","Mail":"x"},` + to + `}`, 400, `unknown field "Mail"`, nil},
		{"wrong type", `{"From":{"Email":"app@example.test"},"To":"to@example.test"}`, 400, "To", nil},
		{"bad base64", `{"From":{"Email":"app@example.test"},` + to + `,"Attachments":[{"Content":"aGk=","Filename":"a"},{"Content":"not base64!","Filename":"b"}]}`, 400, "Attachments[1].Content: not base64", nil},
		{"bad content type", `{"From":{"Email":"app@example.test"},` + to + `,"Attachments":[{"Content":"aGk=","ContentType":"text/"}]}`, 400, "Attachments[0].ContentType", nil},
		{"latin-1 content type", `{"From":{"Email":"app@example.test"},` + to + `,"Attachments":[{"Content":"aGk=","ContentType":"text/csv; charset=iso-8859-1"}]}`, 400, "Attachments[0].ContentType", nil},
		{"bad content ID", `{"From":{"Email":"app@example.test"},` + to + `,"Attachments":[{"Content":"aGk=","ContentID":"a b"}]}`, 400, "Attachments[0].ContentID", nil},
		{"reserved header", `{"From":{"Email":"app@example.test"},` + to + `,"Headers":{"subject":"x"}}`, 400, `Headers["subject"]: set by the request's own fields`, nil},
		{"header injection", `{"From":{"Email":"app@example.test"},` + to + `,"Headers":{"X-A":"1\r\nBcc: evil@example.test"}}`, 400, `Headers["X-A"]: a value cannot hold a line break`, nil},
		{"bad header name", `{"From":{"Email":"app@example.test"},` + to + `,"Headers":{"X A":"1"}}`, 400, `Headers["X A"]: not a header field name`, nil},
		{"X-Tags twice", `{"From":{"Email":"app@example.test"},` + to + `,"Headers":{"X-Tags":"a"},"Tags":["b"]}`, 400, `Headers["X-Tags"]`, nil},
		{"bad tag", `{"From":{"Email":"app@example.test"},` + to + `,"Tags":["ok","a,b"]}`, 400, "Tags[1]", nil},
		{"too many recipients", `{"From":{"Email":"app@example.test"},"To":[{"Email":"1@example.test"},{"Email":"2@example.test"}],"Bcc":["3@example.test","4@example.test","5@example.test"]}`, 400, "5 recipients, more than the 4 MAILSINK_MAX_RECIPIENTS allows", nil},
		{"too large", `{"From":{"Email":"app@example.test"},` + to + `,"Attachments":[{"Content":"` + big + `","Filename":"big"}]}`, 413, "MAILSINK_MAX_MESSAGE_SIZE", nil},
		{"request body too large", `{"From":{"Email":"app@example.test"},` + to + `,"Text":"` + strings.Repeat("x", 6<<20) + `"}`, 413, "request body too large", nil}, // over 5 MiB and 2 x 64 KiB + 1 MiB
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Store.Stats().Total
			status, data := postSend(t, s, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, data)
			}
			if tt.status != 200 {
				var e apitypes.ErrorBody
				if err := json.Unmarshal(data, &e); err != nil || !strings.Contains(e.Error, tt.want) {
					t.Fatalf("error %s, want it to contain %q", data, tt.want)
				}
				if n := s.Store.Stats().Total; n != before {
					t.Fatalf("a refused request stored a message (%d -> %d)", before, n)
				}
				return
			}
			var r apitypes.SendResponse
			if err := json.Unmarshal(data, &r); err != nil || r.ID == "" {
				t.Fatalf("answer %s: %v", data, err)
			}
			m, err := s.Store.Get(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Envelope.From != "app@example.test" || strings.Join(m.Envelope.To, ",") != strings.Join(tt.rcpts, ",") {
				t.Errorf("envelope %+v, want from app@example.test to %v", m.Envelope, tt.rcpts)
			}
			d := m.Delivery()
			if d.Listener != "api" || d.Port == 0 || !strings.HasPrefix(d.ClientAddr, "127.0.0.1:") || d.SessionID != "" {
				t.Errorf("delivery %+v, want listener api with the HTTP port and client", d)
			}
			if strings.Contains(m.Raw(), "Bcc:") {
				t.Errorf("Bcc in the headers:\n%s", m.Raw())
			}
		})
	}
}

// TestSendAPIComposes sends a message with everything through the Go
// client and checks it three ways: the raw source (structure, encoded
// headers), the API's parsed view, and enmime over the raw bytes.
func TestSendAPIComposes(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	req := client.SendRequest{
		From:    client.SendAddress{Email: "app@example.test", Name: "Zoë Ångström"},
		To:      []client.SendAddress{{Email: "alice@example.test", Name: "Alice"}},
		Cc:      []client.SendAddress{{Email: "carol@example.test"}},
		Bcc:     []client.SendBcc{{Email: "audit@example.test"}},
		ReplyTo: []client.SendAddress{{Email: "help@example.test"}},
		Subject: "Grüße aus Köln — 日本",
		Text:    "Hello,\nsee the logo.\n",
		HTML:    `<p>Hello, <img src="cid:logo@app"></p>`,
		Attachments: []client.SendAttachment{
			{Content: base64.StdEncoding.EncodeToString(pngBytes), Filename: "logo.png", ContentType: "image/png", ContentID: "logo@app"},
			{Content: base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 ...")), Filename: "Rechnung März.pdf", ContentType: "application/pdf"},
		},
		Headers: map[string]string{"X-Campaign": "spring", "List-Unsubscribe": "<https://app.test/u>"},
		Tags:    []string{"welcome", "test run"},
	}

	// A wait started before the send returns it.
	waited := make(chan *client.MessagesSummary, 1)
	waitErr := make(chan error, 1)
	go func() {
		res, err := s.Client.Wait(ctx, "to:alice@example.test", 1, 10*time.Second)
		waited <- res
		waitErr <- err
	}()
	waitSubscribers(t, s, 1)

	id, err := s.Client.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-waited:
		if err := <-waitErr; err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) != 1 || res.Messages[0].ID != id {
			t.Fatalf("the wait answered %+v, want message %s", res, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not return after the send")
	}

	raw, err := s.Client.Raw(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	for _, want := range []string{
		"From: =?utf-8?q?Zo=C3=AB_=C3=85ngstr=C3=B6m?= <app@example.test>",
		"To: \"Alice\" <alice@example.test>",
		"Cc: <carol@example.test>",
		"Reply-To: <help@example.test>",
		"Subject: =?utf-8?",
		"X-Tags: welcome, test run",
		"X-Campaign: spring",
		"Content-Type: multipart/mixed;",
		"Message-Id: <",
		"Date: ",
	} {
		if !strings.Contains(head, want) {
			t.Errorf("header lacks %q:\n%s", want, head)
		}
	}
	if strings.ContainsFunc(head, func(r rune) bool { return r > 127 }) || strings.Contains(head, "audit@") {
		t.Errorf("header has raw UTF-8 or the Bcc:\n%s", head)
	}
	for _, want := range []string{"Content-Type: multipart/related;", "Content-Type: multipart/alternative;", "Content-Id: <logo@app>", "Content-Disposition: inline; filename=logo.png"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("source lacks %q:\n%s", want, raw)
		}
	}

	// The API's view.
	m, err := s.Client.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != req.Subject || m.From == nil || m.From.Name != "Zoë Ångström" || m.From.Address != "app@example.test" {
		t.Errorf("subject %q from %+v", m.Subject, m.From)
	}
	if len(m.Inline) != 1 || m.Inline[0].ContentID != "logo@app" || m.Inline[0].ContentType != "image/png" {
		t.Errorf("inline %+v", m.Inline)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].FileName != "Rechnung März.pdf" {
		t.Errorf("attachments %+v", m.Attachments)
	}
	if m.Delivery.Listener != "api" || strings.Join(m.Envelope.To, ",") != "alice@example.test,carol@example.test,audit@example.test" {
		t.Errorf("delivery %+v envelope %+v", m.Delivery, m.Envelope)
	}
	if m.ListUnsubscribe.Header != "<https://app.test/u>" {
		t.Errorf("List-Unsubscribe %+v", m.ListUnsubscribe)
	}
	part, err := s.Client.Part(ctx, id, m.Inline[0].PartID)
	if err != nil || !bytes.Equal(part, pngBytes) {
		t.Errorf("inline part %q, %v", part, err)
	}

	// An independent parse of the stored bytes gives back what was sent.
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range env.Errors {
		if e.Severe {
			t.Errorf("enmime: %v", e)
		}
	}
	if env.GetHeader("Subject") != req.Subject || env.HTML != req.HTML || env.Text != strings.ReplaceAll(req.Text, "\n", "\r\n") {
		t.Errorf("enmime read subject %q, html %q, text %q", env.GetHeader("Subject"), env.HTML, env.Text)
	}
	if len(env.Inlines)+len(env.OtherParts) != 1 || len(env.Attachments) != 1 {
		t.Fatalf("enmime: %d inline, %d other, %d attachments", len(env.Inlines), len(env.OtherParts), len(env.Attachments))
	}
	if a := env.Attachments[0]; a.FileName != "Rechnung März.pdf" || string(a.Content) != "%PDF-1.4 ..." || a.ContentType != "application/pdf" {
		t.Errorf("attachment %q %q %q", a.FileName, a.ContentType, a.Content)
	}
}

// TestSendAPIRefusesWhatASinkCannotDo: Mailpit's release and SpamAssassin
// routes answer 400 saying why; an unknown message is still a 404.
func TestSendAPIRefusesWhatASinkCannotDo(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	id, err := s.Client.Send(context.Background(), client.SendRequest{From: client.SendAddress{Email: "a@example.test"}, To: []client.SendAddress{{Email: "b@example.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/api/v1/message/" + id + "/release", `{"To":["x@example.test"]}`, 400, "mailsink never relays mail"},
		{"POST", "/api/v1/message/latest/release", ``, 400, "never relays"},
		{"POST", "/api/v1/message/nope/release", `{"To":["x@example.test"]}`, 404, `message "nope" not found`},
		{"GET", "/api/v1/message/" + id + "/sa-check", ``, 400, "no SpamAssassin daemon is configured"},
		{"GET", "/api/v1/message/nope/sa-check", ``, 404, "not found"},
	} {
		req, err := http.NewRequest(tt.method, s.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apitypes.ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tt.status || err != nil || !strings.Contains(e.Error, tt.want) {
			t.Errorf("%s %s: %d %q (%v), want %d %q", tt.method, tt.path, resp.StatusCode, e.Error, err, tt.status, tt.want)
		}
	}
}
