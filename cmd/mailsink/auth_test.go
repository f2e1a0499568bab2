package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// With authentication on, the health check (the image's HEALTHCHECK)
// still passes, while the API refuses a caller without credentials.
func TestHealthcheckWithUIAuth(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		if k == "MAILSINK_UI_AUTH" {
			return "alice:s3cret"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--http", "0", "--smtp", "none"}, env, &stdout, &stderr) }()
	defer func() { cancel(); <-done }()
	inbox := regexp.MustCompile(`Web inbox and API: http://127\.0\.0\.1:(\d+)/`)
	deadline := time.After(10 * time.Second)
	for inbox.FindStringSubmatch(stdout.String()) == nil {
		select {
		case code := <-done:
			t.Fatalf("exited %d early: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("no banner: %q", stdout.String())
		case <-stdout.Written():
		}
	}
	port := inbox.FindStringSubmatch(stdout.String())[1]
	resp, err := http.Get("http://127.0.0.1:" + port + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the API without credentials: %d, want 401", resp.StatusCode)
	}
	hcEnv := func(k string) string {
		if k == "MAILSINK_HTTP_PORT" {
			return port
		}
		return env(k)
	}
	var hcErr syncBuffer
	if code := run(context.Background(), []string{"healthcheck"}, hcEnv, io.Discard, &hcErr); code != 0 {
		t.Fatalf("healthcheck: exit %d: %s", code, hcErr.String())
	}
}

// A password file of another kind than bcrypt stops mailsink at start,
// saying which file, line and user, and what to do.
func TestNonBcryptPasswordFileIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("# made with htpasswd's default\nalice:$apr1$hs3tOS8a$Y9wlJ1JbnDpF0S8XRz3v8.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	code := run(context.Background(), []string{"--http", "0", "--smtp", "none", "--ui-auth-file", path}, noEnv, io.Discard, &stderr)
	msg := stderr.String()
	if code != 1 || !strings.Contains(msg, "MAILSINK_UI_AUTH_FILE") || !strings.Contains(msg, path+" line 2") ||
		!strings.Contains(msg, `user "alice"`) || !strings.Contains(msg, "Apache MD5") || !strings.Contains(msg, "htpasswd -B") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}
