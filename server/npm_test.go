package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/sinktest"
)

// npmDir holds the Node scripts and the pinned npm clients they drive.
const npmDir = "../testdata/npm"

// npmFixtures are the messages each Node script expects to find, oldest
// first. Keep them in step with testdata/npm/corpus.mjs.
var npmFixtures = []struct {
	file, from string
	to         []string
}{
	{"01-plain-ascii.eml", "alice@example.test", []string{"bob@example.test"}},
	{"02-alternative-text-html.eml", "noreply@shop.example.test", []string{"customer@example.test"}},
	{"03-mixed-attachments.eml", "ap@vendor.example.test", []string{"finance@example.test", "auditor@example.test"}},
}

// TestNPMClients runs unmodified npm clients of Mailpit (mailpit-api) and
// MailHog (mailhog) against an in-process sink: node:test scripts in
// testdata/npm, one process each, with the sink's URL in MAILSINK_URL.
func TestNPMClients(t *testing.T) {
	t.Parallel()
	node := nodeOrSkip(t)
	for _, script := range []string{"mailpit.test.mjs", "mailhog.test.mjs", "mailpit-send.test.mjs", "mailpit-tags.test.mjs", "mailpit-views.test.mjs", "mailpit-rest.test.mjs"} {
		t.Run(strings.TrimSuffix(script, ".test.mjs"), func(t *testing.T) {
			t.Parallel()
			// Each script ends by deleting everything: each has a sink of its own.
			s := sinktest.Start(t)
			sendNPMFixtures(t, s)
			if script == "mailpit-views.test.mjs" {
				sendNPMViews(t, s)
			}
			runNode(t, node, s.URL, script)
		})
	}
}

// nodeOrSkip returns the node binary, or skips the test when node or the
// installed clients are missing. In CI (CI=true) that is a failure instead.
func nodeOrSkip(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	var missing string
	switch {
	case err != nil:
		missing = "node is not on PATH (install Node.js 18 or later)"
	default:
		for _, pkg := range []string{"mailpit-api", "mailhog"} {
			if _, err := os.Stat(filepath.Join(npmDir, "node_modules", pkg, "package.json")); err != nil {
				missing = "testdata/npm/node_modules/" + pkg + " is not installed"
				break
			}
		}
	}
	if missing == "" {
		return node
	}
	msg := missing + ": run `npm ci --prefix testdata/npm` in the repository root to test the npm clients"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func sendNPMFixtures(t *testing.T, s *sinktest.Sink) {
	t.Helper()
	for _, f := range npmFixtures {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", "mail", f.file))
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, s.Addr(25), nil, false)
		if err := send(c, f.from, f.to, string(raw)); err != nil {
			t.Fatalf("sending %s: %v", f.file, err)
		}
		c.Quit()
	}
}

// sendNPMViews sends testdata/npm/views.eml, the newest message
// mailpit-views.test.mjs expects: HTML with an inline image, links to
// loopback (which the link check refuses by default) and a <script>.
func sendNPMViews(t *testing.T, s *sinktest.Sink) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(npmDir, "views.eml"))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr(25), nil, false)
	if err := send(c, "reports@views.example.test", []string{"viewer@example.test"}, string(raw)); err != nil {
		t.Fatalf("sending views.eml: %v", err)
	}
	c.Quit()
}

// runNode runs `node --test script` in testdata/npm, logging its output
// line by line, and fails the test if node fails or takes too long. env
// adds KEY=value variables.
func runNode(t *testing.T, node, url, script string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", script)
	cmd.Dir = npmDir
	cmd.Env = append(append(os.Environ(), "MAILSINK_URL="+url, "NO_COLOR=1", "FORCE_COLOR=0"), env...)
	out := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // a child holding the pipes open must not hang the test
	err := cmd.Run()
	out.flush()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node --test %s: timed out (%v)", script, ctx.Err())
	case err != nil:
		t.Fatalf("node --test %s: %v (its output is logged above)", script, err)
	}
}

// lineLogger writes what it is given to t.Log, one line per call.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(string(l.buf))
		l.buf = nil
	}
}

// TestMailpitAndMailHogShareRoutes checks the mounting without node: the
// MailHog routes sit beside Mailpit's without taking or redirecting any of
// them, and DELETE /api/v1/messages answers both client families.
func TestMailpitAndMailHogShareRoutes(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	id := deliver(t, s, "a@example.test", []string{"b@example.test"}, testMsg)
	other := deliver(t, s, "a@example.test", []string{"c@example.test"}, testMsg)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path string
		status       int
		jsonKey      string // a top-level key the JSON answer must have; "" for no body
	}{
		{"GET", "/api/v1/messages", 200, "messages_count"}, // Mailpit
		{"GET", "/api/v1/search?query=a", 200, "messages_count"},
		{"GET", "/api/v1/message/" + id, 200, "Attachments"},
		{"GET", "/api/v2/messages", 200, "items"}, // MailHog
		{"GET", "/api/v2/search?kind=to&query=b@", 200, "items"},
		{"GET", "/api/v1/messages/" + id, 200, "Content"},
		{"GET", "/api/v2/search?kind=bcc&query=b", 400, "Error"},
		{"GET", "/api/v1/messages/nope", 404, "Error"},
		{"POST", "/api/v1/messages", 404, "Error"}, // Mailpit's catch-all, not a redirect
		{"GET", "/api/v1/messages/", 404, "Error"},
		{"DELETE", "/api/v1/messages/" + other, 200, ""},
		{"DELETE", "/api/v1/messages", 200, ""}, // empty: MailHog's clients JSON-parse any body
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, s.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.status)
			continue
		}
		if tt.jsonKey == "" {
			if len(body) != 0 {
				t.Errorf("%s %s: body %q, want none", tt.method, tt.path, body)
			}
			continue
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Errorf("%s %s: %v in %s", tt.method, tt.path, err, body)
		} else if _, ok := top[tt.jsonKey]; !ok {
			t.Errorf("%s %s: no %q in %s", tt.method, tt.path, tt.jsonKey, body)
		}
	}
	if n := s.Store.Stats().Total; n != 0 {
		t.Fatalf("after DELETE /api/v1/messages the store holds %d", n)
	}
}

// Every method of the unmodified mailpit-api client is called by one of the
// scripts: a new client version's methods show up here as missing.
func TestNPMMailpitClientFullyCovered(t *testing.T) {
	t.Parallel()
	nodeOrSkip(t)
	src, err := os.ReadFile(filepath.Join(npmDir, "node_modules", "mailpit-api", "dist", "index.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := filepath.Glob(filepath.Join(npmDir, "mailpit*.test.mjs"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no mailpit scripts: %v", err)
	}
	var all strings.Builder
	for _, f := range scripts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	methods := regexp.MustCompile(`(?m)^\tasync (\w+)\(`).FindAllStringSubmatch(string(src), -1)
	if len(methods) < 20 {
		t.Fatalf("found %d methods in the client: has its layout changed?", len(methods))
	}
	for _, m := range methods {
		if name := m[1]; name != "request" && !strings.Contains(all.String(), "."+name+"(") {
			t.Errorf("mailpit-api's %s is called by no testdata/npm/mailpit*.test.mjs", name)
		}
	}
}
