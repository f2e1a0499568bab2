package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mailsink/mailsink/server/sinktest"
)

// deliver sends body from the cleartext listener and returns the stored ID.
func deliver(t *testing.T, s *sinktest.Sink, from string, to []string, body string) string {
	t.Helper()
	c := dial(t, s.Addr(25), nil, false)
	if err := send(c, from, to, body); err != nil {
		t.Fatalf("delivering: %v", err)
	}
	m, err := s.Store.Latest(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func TestAPIClientMistakesAreJSON4xx(t *testing.T) {
	s := sinktest.Start(t)
	id := deliver(t, s, "a@example.test", []string{"b@example.test"}, testMsg)
	tests := []struct {
		method, path, body string
		status             int
		errContains        string
	}{
		{"GET", "/api/v1/message/nope", "", 404, "not found"},
		{"GET", "/api/v1/message/nope/raw", "", 404, "not found"},
		{"GET", "/api/v1/message/nope/headers", "", 404, "not found"},
		{"GET", "/api/v1/message/" + id + "/part/9", "", 404, `part "9" of message "` + id + `" not found`},
		{"GET", "/api/v1/message/latest?query=to:nobody@example.test", "", 404, "message matching query"},
		{"GET", "/api/v1/message/" + id + "/raw?dl=maybe", "", 400, `parameter dl="maybe"`},
		{"GET", "/api/v1/session/nope", "", 404, `session "nope" not found`},
		{"GET", "/api/v1/sessions?faulted=yes", "", 400, `parameter faulted="yes"`},
		{"GET", "/api/v1/sessions?port=smtp", "", 400, `parameter port="smtp"`},
		{"DELETE", "/api/v1/faults/nope", "", 404, `fault rule "nope" not found`},
		{"GET", "/api/v1/wait?count=0", "", 400, `parameter count="0"`},
		{"GET", "/api/v1/wait?limit=many", "", 400, `parameter limit="many"`},
		{"GET", "/api/v1/wait?timeout=forever", "", 400, `parameter timeout="forever"`},
		{"GET", "/api/v1/messages?limit=abc", "", 400, "limit"},
		{"GET", "/api/v1/messages?start=-1", "", 400, "start"},
		{"GET", "/api/v1/search", "", 400, "query"},
		{"GET", "/api/v1/search?query=%22unterminated", "", 400, "unterminated quote"},
		{"GET", "/api/v1/search?query=is:maybe", "", 400, "is:maybe"},
		{"GET", "/api/v1/search?query=before:yesterdayish", "", 400, "not a date"},
		{"GET", "/api/v1/search?query=x&tz=Mars/Base", "", 400, "time zone"},
		{"DELETE", "/api/v1/messages", "{not json", 400, "JSON"},
		{"PUT", "/api/v1/messages", `{"IDs":["x"],"Search":"y"}`, 400, "not both"},
		{"PUT", "/api/v1/messages", `{"IDs":"x"}`, 400, "JSON"},
		{"GET", "/api/v1/nothing-here", "", 404, "no API endpoint"},
		{"POST", "/api/v1/messages", "", 404, "no API endpoint POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, data)
			}
			if tt.errContains == "" {
				return
			}
			var body struct{ Error string }
			if err := json.Unmarshal(data, &body); err != nil || !strings.Contains(body.Error, tt.errContains) {
				t.Fatalf("body %s (err %v), want JSON Error containing %q", data, err, tt.errContains)
			}
		})
	}
	if got := s.Store.Stats().Total; got != 1 {
		t.Fatalf("a rejected request changed the store: %d messages", got)
	}
}

func TestAPIReadAndDelete(t *testing.T) {
	s := sinktest.Start(t)
	ctx := context.Background()
	first := deliver(t, s, "a@example.test", []string{"one@example.test"}, testMsg)
	second := deliver(t, s, "a@example.test", []string{"two@example.test"}, strings.Replace(testMsg, "hello", "second", 1))

	list, err := s.Client.List(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if list.Total != 2 || list.Unread != 2 || list.Count != 1 || list.Messages[0].ID != second {
		t.Fatalf("list = %+v", list)
	}
	latest, err := s.Client.Message(ctx, "latest")
	if err != nil || latest.ID != second || latest.Subject != "second" {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	if list, _ = s.Client.List(ctx, 0, 10); list.Unread != 1 {
		t.Fatalf("reading a message did not mark it read: unread %d", list.Unread)
	}
	if err := s.Client.SetRead(ctx, false, second); err != nil {
		t.Fatal(err)
	}
	if list, _ = s.Client.List(ctx, 0, 10); list.Unread != 2 {
		t.Fatalf("mark unread: unread %d", list.Unread)
	}
	h, err := s.Client.Headers(ctx, first)
	if err != nil || h["Subject"][0] != "hello" || h["From"][0] != "App <app@example.test>" {
		t.Fatalf("headers = %v, %v", h, err)
	}
	resp, err := http.Get(s.URL + "/api/v1/message/" + first + "/raw?dl=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, first+".eml") {
		t.Fatalf("raw?dl=1 Content-Disposition %q", cd)
	}

	if err := s.Client.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Message(ctx, first); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("deleted message still readable: %v", err)
	}
	if err := s.Client.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ = s.Client.List(ctx, 0, 10); list.Total != 0 {
		t.Fatalf("after delete all: %+v", list)
	}
}

func TestCertificateEndpointLetsClientsVerify(t *testing.T) {
	s := sinktest.Start(t)
	pem, err := s.Client.Certificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("not a PEM certificate: %q", pem)
	}
	// Verification on, trusting only the served PEM, for each name in the SANs.
	for _, name := range []string{"localhost", "127.0.0.1", "mailsink.localhost"} {
		c := dial(t, s.Addr(587), &tls.Config{RootCAs: pool, ServerName: name}, false)
		if _, ok := c.TLSConnectionState(); !ok {
			t.Fatalf("%s: no TLS", name)
		}
	}
}

func TestBrowserAttacksAreRefused(t *testing.T) {
	s := sinktest.Start(t)
	tests := []struct {
		name, method, path, host, origin string
		status                           int
	}{
		{"cross-origin fault rule (CSRF)", "POST", "/api/v1/faults", "", "http://evil.example", 403},
		{"cross-origin delete (CSRF)", "DELETE", "/api/v1/messages", "", "http://evil.example", 403},
		{"DNS rebinding read", "GET", "/api/v1/messages", "evil.example:8025", "", 403},
		{"same-origin write", "DELETE", "/api/v1/messages", "", "SAME", 200},
		{"no Origin (curl, test code)", "DELETE", "/api/v1/messages", "", "", 200},
		{"localhost name", "GET", "/api/v1/messages", "localhost:8025", "", 200},
		{"configured hostname", "GET", "/api/v1/messages", "mailsink.localhost", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqBody := `{"Stage":"connect","Drop":true}` // a fault rule; DELETE takes no such body (unknown fields are 400)
			if tt.method == "DELETE" {
				reqBody = ""
			}
			req, _ := http.NewRequest(tt.method, s.URL+tt.path, strings.NewReader(reqBody))
			req.Header.Set("Content-Type", "text/plain")
			if tt.host != "" {
				req.Host = tt.host
			}
			switch tt.origin {
			case "":
			case "SAME":
				req.Header.Set("Origin", s.URL)
			default:
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var e struct{ Error string }
			if tt.status == 403 && (json.Unmarshal(body, &e) != nil || e.Error == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")) {
				t.Fatalf("refusal %q (%s) is not {\"Error\":...}", body, resp.Header.Get("Content-Type"))
			}
		})
	}
	if rules, _ := s.Client.Faults(context.Background()); len(rules) != 0 {
		t.Fatalf("a cross-origin request added fault rules: %+v", rules)
	}
}
