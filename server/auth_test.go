package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// bcryptFile writes an htpasswd file with Apache's htpasswd -B, as a user
// would make one. Without htpasswd the test skips, except in CI.
func bcryptFile(t *testing.T, user, pass string) string {
	t.Helper()
	tool, err := exec.LookPath("htpasswd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but htpasswd is missing (apt-get install apache2-utils)")
		}
		t.Skip("htpasswd not found (apt-get install apache2-utils)")
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if out, err := exec.Command(tool, "-B", "-C", "5", "-b", "-c", path, user, pass).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	return path
}

type creds struct{ user, pass string }

// get sends method path with basic credentials (none when c is nil).
func authGet(t *testing.T, method, url string, c *creds) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestUIAuth puts the inbox, the API, the WebSocket and /metrics behind
// basic authentication: a password from the variable and a bcrypt one
// from a file made by htpasswd both get in; a missing, unknown or wrong
// credential gets the same 401 with no detail; the probes and the
// certificate stay open.
func TestUIAuth(t *testing.T) {
	t.Parallel()
	file := bcryptFile(t, "carol", "from the file")
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.UIAuth = map[string]string{"alice": "s3cret"}
		c.UIAuthFile = file
	}))
	if b := strings.Join(s.Server.Banner(), "\n"); !strings.Contains(b, "HTTP basic authentication guards the inbox") {
		t.Errorf("the banner does not say authentication is on:\n%s", b)
	}
	id := deliver(t, s, "app@example.test", []string{"user@example.test"}, testMsg)

	alice, carol := &creds{"alice", "s3cret"}, &creds{"carol", "from the file"}
	refused := []*creds{nil, {"alice", "wrong"}, {"mallory", "s3cret"}, {"carol", "s3cret"}, {"", ""}}
	guarded := []string{"/", "/index.html", "/api/v1/messages", "/api/v1/message/" + id, "/api/v1/info", "/api/v2/messages",
		"/api/v1/messages/" + id, "/view/" + id + ".html", "/metrics", "/api/v1/openapi.json", "/api/v1/nope"}
	var unauthorized []byte
	for _, path := range guarded {
		for _, c := range refused {
			resp, body := authGet(t, "GET", s.URL+path, c)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="mailsink", charset="UTF-8"` {
				t.Errorf("GET %s with %v: %d, WWW-Authenticate %q; want 401 asking for Basic", path, c, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if unauthorized == nil {
				unauthorized = body
			} else if string(body) != string(unauthorized) {
				t.Errorf("GET %s with %v answered %s, another refusal %s: every refusal must say the same", path, c, body, unauthorized)
			}
		}
		for _, c := range []*creds{alice, carol} {
			if resp, body := authGet(t, "GET", s.URL+path, c); resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("GET %s as %s: 401 %s", path, c.user, body)
			}
		}
	}
	var e struct{ Error string }
	if err := json.Unmarshal(unauthorized, &e); err != nil || e.Error != "authentication required" {
		t.Errorf("401 body %s: want the JSON error shape", unauthorized)
	}
	// Writes are guarded too, and a guarded write changes nothing.
	if resp, _ := authGet(t, "DELETE", s.URL+"/api/v1/messages", &creds{"alice", "nope"}); resp.StatusCode != 401 || s.Store.Stats().Total != 1 {
		t.Errorf("DELETE with a wrong password: %d, %d messages left", resp.StatusCode, s.Store.Stats().Total)
	}
	for _, path := range []string{"/livez", "/readyz", "/api/v1/tls/certificate", "/api/v1/certificate"} {
		if resp, body := authGet(t, "GET", s.URL+path, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without credentials: %d %s; want it open", path, resp.StatusCode, body)
		}
	}

	// The WebSocket: refused without credentials, before any upgrade.
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/api/events"
	if c, resp, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil {
		c.Close()
		t.Error("the WebSocket opened without credentials")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("WebSocket without credentials: %v, %+v; want 401", err, resp)
	}
	for _, c := range []*creds{alice, carol} {
		req, _ := http.NewRequest("GET", s.URL, nil)
		req.SetBasicAuth(c.user, c.pass)
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": req.Header["Authorization"]})
		if err != nil {
			t.Fatalf("WebSocket as %s: %v", c.user, err)
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var f struct{ Type string }
		if err := ws.ReadJSON(&f); err != nil || f.Type != "stats" {
			t.Errorf("WebSocket as %s: first frame %+v, %v", c.user, f, err)
		}
		ws.Close()
	}
}

// TestSendAPIAuth: a separate credential guards only /api/v1/send (the
// route itself is another part's; the guard holds whatever answers it).
func TestSendAPIAuth(t *testing.T) {
	t.Parallel()
	ui, sender := &creds{"alice", "s3cret"}, &creds{"ci", "send-token"}
	post := func(s *sinktest.Sink, path string, c *creds) int {
		t.Helper()
		resp, _ := authGet(t, "POST", s.URL+path, c)
		return resp.StatusCode
	}
	t.Run("own credential", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
			c.UIAuth = map[string]string{ui.user: ui.pass}
			c.SendAPIAuth = map[string]string{sender.user: sender.pass}
		}))
		if got := post(s, "/api/v1/send", nil); got != 401 {
			t.Errorf("send without credentials: %d", got)
		}
		if got := post(s, "/api/v1/send", ui); got != 401 {
			t.Errorf("send with the UI's credential: %d; want 401 (Mailpit: the send credential only)", got)
		}
		if got := post(s, "/api/v1/send", sender); got == 401 {
			t.Errorf("send with its credential: 401")
		}
		if resp, _ := authGet(t, "GET", s.URL+"/api/v1/messages", sender); resp.StatusCode != 401 {
			t.Errorf("the send credential opened the API: %d", resp.StatusCode)
		}
	})
	t.Run("only send guarded", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
			c.SendAPIAuth = map[string]string{sender.user: sender.pass}
		}))
		if got := post(s, "/api/v1/send", nil); got != 401 {
			t.Errorf("send without credentials: %d", got)
		}
		if resp, body := authGet(t, "GET", s.URL+"/api/v1/messages", nil); resp.StatusCode != 200 {
			t.Errorf("the API without UI auth: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("accept any", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
			c.UIAuth = map[string]string{ui.user: ui.pass}
			c.SendAPIAuthAcceptAny = true
		}))
		for _, c := range []*creds{nil, {"any", "thing"}} {
			if got := post(s, "/api/v1/send", c); got == 401 {
				t.Errorf("send with %v: 401, want it open", c)
			}
		}
		if resp, _ := authGet(t, "GET", s.URL+"/api/v1/messages", nil); resp.StatusCode != 401 {
			t.Errorf("the API is open: %d", resp.StatusCode)
		}
	})
	t.Run("UI credential by default", func(t *testing.T) {
		t.Parallel()
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.UIAuth = map[string]string{ui.user: ui.pass} }))
		if got := post(s, "/api/v1/send", nil); got != 401 {
			t.Errorf("send without credentials: %d", got)
		}
		if got := post(s, "/api/v1/send", ui); got == 401 {
			t.Errorf("send with the UI's credential: 401")
		}
	})
}

// A password file with anything but bcrypt stops the server at start.
func TestUIAuthFileRefusesOtherHashes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte("alice:$apr1$hs3tOS8a$Y9wlJ1JbnDpF0S8XRz3v8.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.HTTPPort, cfg.Listeners, cfg.UIAuthFile = 0, nil, path
	err := server.New(cfg, nil, nil).Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "MAILSINK_UI_AUTH_FILE") || !strings.Contains(err.Error(), "only bcrypt") {
		t.Fatalf("Start = %v; want a refusal naming the variable and bcrypt", err)
	}
}
