package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// A misspelt key in a DELETE body is refused, not read as "delete all".
func TestDeleteWithUnknownKeysIsRefused(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	deliver(t, s, "a@example.test", []string{"keep@example.test"}, testMsg)
	for _, body := range []string{`{"ID":["x"]}`, `{"Messages":["x"]}`, `{"IDs":["x"],"All":true}`, `{"IDs":["x"]} {"IDs":[]}`} {
		req, _ := http.NewRequest("DELETE", s.URL+"/api/v1/messages", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), `"Error"`) {
			t.Fatalf("DELETE %s: %d %s, want 400 with a JSON error", body, resp.StatusCode, msg)
		}
		if n := s.Store.Stats().Total; n != 1 {
			t.Fatalf("DELETE %s deleted messages: %d left", body, n)
		}
	}
	// An empty body and {} keep Mailpit's meaning: delete all.
	for _, body := range []string{"", "{}"} {
		deliver(t, s, "a@example.test", []string{"b@example.test"}, testMsg)
		req, _ := http.NewRequest("DELETE", s.URL+"/api/v1/messages", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || s.Store.Stats().Total != 0 {
			t.Fatalf("DELETE %q: %d, %d left", body, resp.StatusCode, s.Store.Stats().Total)
		}
	}
}

// The HTTP server does not wait forever on a client: a body shorter than
// its Content-Length is answered 400 at the timeout, and an idle
// keep-alive connection is closed.
func TestHTTPTimeoutsCutOff(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.HTTPTimeout = 300 * time.Millisecond }))
	addr := strings.TrimPrefix(s.URL, "http://")
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	t.Run("short body", func(t *testing.T) {
		t.Parallel()
		c, r := dial()
		fmt.Fprintf(c, "POST /api/v1/faults HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Stage\":", addr)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("no answer to a short body: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "incomplete") {
			t.Fatalf("short body: %d %s, want 400 naming it incomplete", resp.StatusCode, body)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		c, r := dial()
		fmt.Fprintf(c, "GET /livez HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("idle keep-alive connection: %v, want closed by the server", err)
		}
	})
	t.Run("a wait outlives the write timeout", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get(s.URL + "/api/v1/wait?query=to:nobody@example.test&timeout=1s")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("wait of 1s with a 300ms write timeout: %d, want its own 408", resp.StatusCode)
		}
	})
}
