package mailhog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/storage"
)

var received = time.Date(2024, 3, 13, 19, 22, 11, 123456789, time.UTC)

// sink is a store behind the handler, served by httptest.
type sink struct {
	t     *testing.T
	store *storage.Store
	srv   *httptest.Server
}

func newSink(t *testing.T) *sink {
	store := storage.New(storage.Limits{})
	srv := httptest.NewServer(New(store, Options{}))
	t.Cleanup(srv.Close)
	return &sink{t: t, store: store, srv: srv}
}

func (s *sink) add(raw string, from string, to ...string) *storage.Message {
	s.t.Helper()
	m, err := s.store.Add([]byte(raw), storage.Envelope{From: from, To: to}, storage.Delivery{Helo: "client.test", Received: received})
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *sink) addFile(name, from string, to ...string) *storage.Message {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "mail", name))
	if err != nil {
		s.t.Fatal(err)
	}
	return s.add(string(raw), from, to...)
}

// do sends a request and returns the status, headers and body.
func (s *sink) do(method, path string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// getJSON GETs path, wants 200 and decodes the body into out.
func (s *sink) getJSON(path string, out any) []byte {
	s.t.Helper()
	status, hdr, body := s.do("GET", path)
	if status != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(body, out); err != nil {
		s.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return body
}

// wantJSONError asserts a JSON {"Error":...} answer with status and text.
func wantJSONError(t *testing.T, status, wantStatus int, body []byte, contains string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	var e struct{ Error string }
	if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, contains) {
		t.Fatalf("body %s (%v), want JSON Error containing %q", body, err, contains)
	}
}

func msg(subject string) string {
	return "From: App <app@example.test>\r\nTo: user@example.test\r\nSubject: " + subject + "\r\n\r\nbody of " + subject + "\r\n"
}

func subjects(items []Message) []string {
	out := []string{}
	for _, m := range items {
		out = append(out, strings.Join(m.Content.Headers["Subject"], ","))
	}
	return out
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	for _, subj := range []string{"n1", "n2", "n3"} {
		s.add(msg(subj), "app@example.test", "user@example.test")
	}
	tests := []struct {
		query        string
		wantStart    int
		wantSubjects []string
	}{
		{"", 0, []string{"n3", "n2", "n1"}},
		{"?limit=2", 0, []string{"n3", "n2"}},
		{"?start=1&limit=1", 1, []string{"n2"}},
		{"?start=2", 2, []string{"n1"}},
		{"?start=5", 5, []string{}},
		{"?limit=0", 0, []string{"n3", "n2", "n1"}}, // 0: the default, as in MailHog
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got Messages
			s.getJSON("/api/v2/messages"+tt.query, &got)
			if got.Total != 3 || got.Start != tt.wantStart || got.Count != len(tt.wantSubjects) || !slices.Equal(subjects(got.Items), tt.wantSubjects) {
				t.Fatalf("got total %d start %d count %d %v, want 3 %d %d %v",
					got.Total, got.Start, got.Count, subjects(got.Items), tt.wantStart, len(tt.wantSubjects), tt.wantSubjects)
			}
		})
	}
	for _, bad := range []string{"?limit=abc", "?start=-1", "?limit=1.5"} {
		t.Run(bad, func(t *testing.T) {
			status, _, body := s.do("GET", "/api/v2/messages"+bad)
			wantJSONError(t, status, http.StatusBadRequest, body, "want a whole number")
		})
	}
}

func TestListLimitDefaultsAndCap(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	for i := range 260 {
		s.add(msg(fmt.Sprint(i)), "app@example.test", "user@example.test")
	}
	for query, want := range map[string]int{"": 50, "?limit=250": 250, "?limit=251": 250, "?limit=100000": 250, "?limit=7": 7} {
		var got Messages
		s.getJSON("/api/v2/messages"+query, &got)
		if got.Count != want || len(got.Items) != want || got.Total != 260 {
			t.Errorf("%q: count %d items %d total %d, want %d and 260", query, got.Count, len(got.Items), got.Total, want)
		}
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	s.add("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nCc: carol@example.test\r\nX-Tracking: TRK-42\r\nSubject: a\r\n\r\nThe Secret Word is Swordfish.\r\n",
		"Bounce+1@Sender.example", "bob@example.test", "hidden@example.test")
	s.add("From: Other <other@example.test>\r\nTo: dave@example.test\r\nSubject: b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gZGVjb2RlZA==\r\n",
		"other@example.test", "dave@example.test")
	tests := []struct {
		kind, query string
		want        []string // subjects, newest first
	}{
		{"from", "alice", []string{"a"}},                // From header
		{"from", "BOUNCE+1@sender", []string{"a"}},      // envelope sender, any case
		{"from", "example.test", []string{"b", "a"}},    // both
		{"from", "bob", []string{}},                     // To is not From
		{"to", "hidden@", []string{"a"}},                // envelope-only recipient
		{"to", "DAVE", []string{"b"}},                   // To header and envelope
		{"to", "carol", []string{}},                     // Cc is not checked, as in MailHog
		{"containing", "swordfish", []string{"a"}},      // raw body
		{"containing", "trk-42", []string{"a"}},         // a header value
		{"containing", "x-tracking", []string{}},        // header names are not searched
		{"containing", "decoded", []string{}},           // bodies are not decoded, as in MailHog
		{"containing", "AGVSBG8", []string{"b"}},        // the transfer-encoded text is
		{"containing", "secret word is", []string{"a"}}, // spaces are part of the query
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.query, func(t *testing.T) {
			var got Messages
			s.getJSON("/api/v2/search?kind="+tt.kind+"&query="+url.QueryEscape(tt.query)+"&limit=10", &got)
			if got.Total != len(tt.want) || got.Count != len(tt.want) || !slices.Equal(subjects(got.Items), tt.want) {
				t.Fatalf("total %d count %d %v, want %v", got.Total, got.Count, subjects(got.Items), tt.want)
			}
		})
	}
	t.Run("paging counts every match", func(t *testing.T) {
		var got Messages
		s.getJSON("/api/v2/search?kind=from&query=example.test&start=1&limit=1", &got)
		if got.Total != 2 || got.Count != 1 || got.Start != 1 || !slices.Equal(subjects(got.Items), []string{"a"}) {
			t.Fatalf("got %+v", got)
		}
	})
	for _, bad := range []struct{ query, contains string }{
		{"?kind=subject&query=a", "kind"},
		{"?query=a", "kind"},
		{"?kind=from", "query is required"},
		{"?kind=from&query=", "query is required"},
		{"?kind=from&query=a&limit=-1", "limit"},
	} {
		t.Run(bad.query, func(t *testing.T) {
			status, _, body := s.do("GET", "/api/v2/search"+bad.query)
			wantJSONError(t, status, http.StatusBadRequest, body, bad.contains)
		})
	}
}

func TestMessageShape(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	m := s.addFile("03-mixed-attachments.eml", "ap@vendor.example.test", "finance@example.test", "audit@example.test")
	var got Message
	body := s.getJSON("/api/v1/messages/"+m.ID, &got)

	raw := m.Raw()
	_, rawBody, _ := strings.Cut(raw, "\r\n\r\n")
	want := Message{
		ID:      m.ID,
		From:    Path{Mailbox: "ap", Domain: "vendor.example.test"},
		To:      []Path{{Mailbox: "finance", Domain: "example.test"}, {Mailbox: "audit", Domain: "example.test"}},
		Created: received,
		Raw:     SMTPMessage{From: "ap@vendor.example.test", To: []string{"finance@example.test", "audit@example.test"}, Data: raw, Helo: "client.test"},
	}
	if got.ID != want.ID || fmt.Sprint(got.From, got.To) != fmt.Sprint(want.From, want.To) || !got.Created.Equal(want.Created) ||
		fmt.Sprint(got.Raw) != fmt.Sprint(want.Raw) {
		t.Errorf("got %+v %+v %v %+v,\nwant %+v %+v %v %+v", got.From, got.To, got.Created, got.Raw, want.From, want.To, want.Created, want.Raw)
	}
	// Keys are MailHog's, nulls where MailHog has them.
	for _, frag := range []string{`"Relays":null`, `"Params":""`, `"Content":{"Headers":{`} {
		if !bytes.Contains(body, []byte(frag)) {
			t.Errorf("JSON lacks %s", frag)
		}
	}
	c := got.Content
	if c.Body != rawBody || c.Size != len(raw) || c.MIME != nil {
		t.Errorf("Content: body %d bytes (want %d), size %d (want %d), MIME %v (want null)", len(c.Body), len(rawBody), c.Size, len(raw), c.MIME)
	}
	for key, want := range map[string]string{
		"Subject":      "Invoice INV-2024-031 and notes",
		"From":         "Accounts Payable <ap@vendor.example.test>",
		"Content-Type": `multipart/mixed; boundary="----=_Part_1234_5678.1710357730"`,
		"Message-Id":   "<inv-2024-031.1710357730@vendor.example.test>",
	} {
		if v := c.Headers[key]; len(v) != 1 || v[0] != want {
			t.Errorf("Headers[%s] = %q, want [%q]", key, v, want)
		}
	}
	if got.MIME == nil || len(got.MIME.Parts) != 3 {
		t.Fatalf("MIME = %+v, want 3 parts", got.MIME)
	}
	pdf := got.MIME.Parts[1]
	if ct := pdf.Headers["Content-Type"]; len(ct) != 1 || ct[0] != `application/pdf; name="INV-2024-031.pdf"` {
		t.Errorf("part 1 Content-Type %q", ct)
	}
	if !strings.HasPrefix(pdf.Body, "JVBERi0xLjQK") || !strings.HasSuffix(pdf.Body, "JUVPRgo=") {
		t.Errorf("part 1 body is not the raw base64, without the delimiter's line break: %q", pdf.Body)
	}
	if part := "\r\n" + pdf.Body; !strings.Contains(raw, part) || pdf.Size <= len(pdf.Body) {
		t.Errorf("part 1 size %d, body %d bytes", pdf.Size, len(pdf.Body))
	}
}

func TestMIMEParts(t *testing.T) {
	t.Parallel()
	type partWant struct {
		contentType string
		bodyPrefix  string
		parts       []partWant // nested multipart
	}
	tests := []struct {
		file  string
		parts []partWant // nil: MIME is null
		json  string     // a fragment the JSON must hold
	}{
		{file: "01-plain-ascii.eml", json: `"MIME":null,"Raw":`},
		{file: "02-alternative-text-html.eml", parts: []partWant{ // the preamble is not a part
			{contentType: "text/plain; charset=utf-8", bodyPrefix: "Good news!"},
			{contentType: "text/html; charset=utf-8", bodyPrefix: "<html><body>"},
		}},
		{file: "13-broken-missing-boundary.eml", parts: []partWant{}, json: `"MIME":{"Parts":[]}`},
		{file: "14-broken-unclosed-boundary.eml", parts: []partWant{
			{contentType: "text/plain; charset=us-ascii", bodyPrefix: "This first part"},
			{contentType: `application/octet-stream; name="truncated.bin"`, bodyPrefix: "AAECAwQF"},
		}},
		{file: "20-nested-rfc2231.eml", parts: []partWant{
			{contentType: `multipart/alternative; boundary="mid-alt-2"`, parts: []partWant{
				{contentType: "text/plain; charset=utf-8", bodyPrefix: "Please find"},
				{contentType: `multipart/related; boundary="inner-rel-3"; type="text/html"`, parts: []partWant{
					{contentType: "text/html; charset=utf-8", bodyPrefix: "<html>"},
					{contentType: "image/png", bodyPrefix: "iVBORw0KGgo"},
				}},
			}},
			{contentType: `text/csv; charset=utf-8; name="report.csv"`, bodyPrefix: "cXVhcnRlcixy"},
			{contentType: "application/pdf; name*=UTF-8''r%C3%A9sum%C3%A9%20%E2%80%94%20Jos%C3%A9.pdf", bodyPrefix: "JVBER"},
		}},
	}
	s := newSink(t)
	var check func(t *testing.T, where string, got []Content, want []partWant)
	check = func(t *testing.T, where string, got []Content, want []partWant) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d parts, want %d: %+v", where, len(got), len(want), got)
		}
		for i, w := range want {
			g := got[i]
			at := fmt.Sprintf("%s.Parts[%d]", where, i)
			if ct := g.Headers["Content-Type"]; len(ct) != 1 || ct[0] != w.contentType {
				t.Errorf("%s Content-Type %q, want %q", at, ct, w.contentType)
			}
			if !strings.HasPrefix(g.Body, w.bodyPrefix) {
				t.Errorf("%s body %.40q, want prefix %q", at, g.Body, w.bodyPrefix)
			}
			if w.parts == nil {
				if g.MIME != nil {
					t.Errorf("%s MIME = %+v, want null", at, g.MIME)
				}
				continue
			}
			if g.MIME == nil {
				t.Fatalf("%s MIME is null, want %d parts", at, len(w.parts))
			}
			check(t, at+".MIME", g.MIME.Parts, w.parts)
		}
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := s.addFile(tt.file, "sender@example.test", "rcpt@example.test")
			var got Message
			body := s.getJSON("/api/v1/messages/"+m.ID, &got)
			if tt.json != "" && !bytes.Contains(body, []byte(tt.json)) {
				t.Errorf("JSON lacks %s", tt.json)
			}
			if tt.parts == nil {
				if got.MIME != nil {
					t.Fatalf("MIME = %+v, want null", got.MIME)
				}
				return
			}
			if got.MIME == nil {
				t.Fatalf("MIME is null, want %d parts", len(tt.parts))
			}
			check(t, "MIME", got.MIME.Parts, tt.parts)
		})
	}
}

func TestDownload(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	m := s.addFile("18-long-folding-received.eml", "a@example.test", "b@example.test")
	status, hdr, body := s.do("GET", "/api/v1/messages/"+m.ID+"/download")
	if status != http.StatusOK || string(body) != m.Raw() {
		t.Fatalf("status %d, %d bytes; want 200 and the %d raw bytes exactly", status, len(body), m.Size())
	}
	if ct := hdr.Get("Content-Type"); ct != "message/rfc822" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := hdr.Get("Content-Disposition"); cd != `attachment; filename=`+m.ID+`.eml` && cd != `attachment; filename="`+m.ID+`.eml"` {
		t.Errorf("Content-Disposition %q", cd)
	}
}

func TestDownloadPart(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	mixed := s.addFile("03-mixed-attachments.eml", "a@example.test", "b@example.test")
	plain := s.addFile("01-plain-ascii.eml", "a@example.test", "b@example.test")
	bad := s.addFile("15-broken-bad-base64.eml", "a@example.test", "b@example.test")
	pdf := mixed.Parse().Attachments[0].Content
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.4")) {
		t.Fatalf("corpus: attachment 0 is not the PDF")
	}
	notes := "Delivery window: 08:00-12:00\r\nDock: B4\r\nThese notes are an attachment, not the message body.\r\n"
	tests := []struct {
		name, path  string
		status      int
		body        []byte // for 200
		contentType string // for 200
		disposition string // for 200
		errContains string // for errors
	}{
		{"base64 is decoded", "/api/v1/messages/" + mixed.ID + "/mime/part/1/download", 200, pdf,
			`application/pdf; name="INV-2024-031.pdf"`, `attachment; filename="INV-2024-031.pdf"`, ""},
		{"7bit as sent", "/api/v1/messages/" + mixed.ID + "/mime/part/2/download", 200, []byte(notes),
			`text/plain; charset=UTF-8; name="delivery-notes.txt"`, `attachment; filename="delivery-notes.txt"`, ""},
		{"no disposition", "/api/v1/messages/" + mixed.ID + "/mime/part/0/download", 200, nil,
			"text/plain; charset=UTF-8", "attachment", ""},
		{"index past the end", "/api/v1/messages/" + mixed.ID + "/mime/part/3/download", 404, nil, "", "", `part 3 of message "` + mixed.ID + `" not found`},
		{"not multipart", "/api/v1/messages/" + plain.ID + "/mime/part/0/download", 404, nil, "", "", `part 0 of message "` + plain.ID + `" not found`},
		{"bad index", "/api/v1/messages/" + mixed.ID + "/mime/part/x/download", 400, nil, "", "", "part index"},
		{"negative index", "/api/v1/messages/" + mixed.ID + "/mime/part/-1/download", 400, nil, "", "", "part index"},
		{"unknown message", "/api/v1/messages/nope/mime/part/0/download", 404, nil, "", "", `message "nope" not found`},
		{"corrupt base64", "/api/v1/messages/" + bad.ID + "/mime/part/1/download", 422, nil, "", "", "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := s.do("GET", tt.path)
			if tt.status != http.StatusOK {
				wantJSONError(t, status, tt.status, body, tt.errContains)
				return
			}
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if got := hdr.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := hdr.Get("Content-Disposition"); got != tt.disposition {
				t.Errorf("Content-Disposition %q, want %q", got, tt.disposition)
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(hdr.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("part served without nosniff and a sandbox CSP: %v", hdr)
			}
		})
	}
}

func TestDeleteAndUnknown(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	keep := s.add(msg("keep"), "a@example.test", "b@example.test")
	gone := s.add(msg("gone"), "a@example.test", "b@example.test")

	status, _, body := s.do("DELETE", "/api/v1/messages/"+gone.ID)
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("DELETE: %d %q, want 200 and an empty body (MailHog clients parse any body as JSON)", status, body)
	}
	if _, err := s.store.Get(keep.ID); err != nil {
		t.Fatalf("deleting one message removed another: %v", err)
	}
	tests := []struct {
		method, path string
		status       int
		errContains  string
	}{
		{"GET", "/api/v1/messages/" + gone.ID, 404, `message "` + gone.ID + `" not found`},
		{"DELETE", "/api/v1/messages/" + gone.ID, 404, `message "` + gone.ID + `" not found`},
		{"GET", "/api/v1/messages/" + gone.ID + "/download", 404, `message "` + gone.ID + `" not found`},
		{"GET", "/api/v1/messages/" + keep.ID + "/release", 404, "no MailHog API endpoint"},
		{"POST", "/api/v1/messages/" + keep.ID + "/release", 404, "no MailHog API endpoint POST"},
		{"POST", "/api/v2/messages", 404, "no MailHog API endpoint POST"},
		{"GET", "/api/v2/jim", 404, "no MailHog API endpoint"},
		{"GET", "/api/v2/websocket", 404, "no MailHog API endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, _, body := s.do(tt.method, tt.path)
			wantJSONError(t, status, tt.status, body, tt.errContains)
		})
	}
	if got := s.store.Stats().Total; got != 1 {
		t.Fatalf("store holds %d messages, want 1", got)
	}
}

func TestSplitParts(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"crlf", "pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n", []string{"A: 1\r\n\r\none", "\r\ntwo"}},
		{"bare lf", "--b\nA: 1\n\none\n--b--\n", []string{"A: 1\n\none"}},
		{"longer boundary is not a delimiter", "--b\r\n\r\none\r\n--bb\r\nstill one\r\n--b--", []string{"\r\none\r\n--bb\r\nstill one"}},
		{"transport padding", "--b  \r\n\r\none\r\n--b-- \r\n", []string{"\r\none"}},
		{"unclosed", "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n", []string{"\r\none", "\r\ntwo\r\n"}},
		{"no delimiter", "just text\r\n", nil},
		{"delimiter only mid-line", "x --b\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitParts(tt.body, "b"); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBoundaryAndBodyOffset(t *testing.T) {
	for ct, want := range map[string]string{
		`multipart/mixed; boundary="a b"`:       "a b",
		`Multipart/Alternative; BOUNDARY=xyz`:   "xyz",
		`multipart/mixed; boundary=x; charset=`: "x", // ParseMediaType refuses; MailHog's way still finds it
		`multipart/mixed`:                       "",
	} {
		got, ok := multipartBoundary(ct)
		if !ok || got != want {
			t.Errorf("multipartBoundary(%q) = %q %v, want %q", ct, got, ok, want)
		}
	}
	if _, ok := multipartBoundary("text/plain; boundary=x"); ok {
		t.Errorf("text/plain taken for multipart")
	}
	for raw, want := range map[string]int{"A: 1\r\n\r\nbody": 8, "A: 1\n\nbody": 6, "\r\nbody": 2, "A: 1\r\n": 6, "": 0} {
		if got := bodyOffset(raw); got != want {
			t.Errorf("bodyOffset(%q) = %d, want %d", raw, got, want)
		}
	}
}
