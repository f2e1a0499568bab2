package server_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/sinktest"
)

// TestREADMEPytestExample runs the README's pytest example, as written,
// against a sink: the example a Python team copies must work.
func TestREADMEPytestExample(t *testing.T) {
	t.Parallel()
	python := "/usr/bin/python3" // Debian's, where python3-pytest and python3-requests install
	if err := exec.Command(python, "-c", "import pytest, requests").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s lacks pytest or requests (apt-get install python3-pytest python3-requests): %v", python, err)
		}
		t.Skipf("%s lacks pytest or requests (apt-get install python3-pytest python3-requests)", python)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code := fencedBlock(t, string(readme), "### Python (pytest)", "```python")
	// The command the README gives, run in the directory it is saved in.
	run := strings.Fields(strings.TrimSpace(fencedBlock(t, string(readme), "### Python (pytest)", "```sh")))
	if len(run) < 2 || run[0] != "python3" {
		t.Fatalf("the README's pytest command is %q, want python3 -m pytest ...", run)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, run[len(run)-1]), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t)
	_, port, _ := net.SplitHostPort(s.Addr(1025))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, run[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAILSINK_URL="+s.URL, "SMTP_PORT="+port)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "1 passed") {
		t.Fatalf("pytest ran no test:\n%s", out)
	}
	// The fixture cleaned up after itself, through the scoped delete.
	if n := s.Store.Stats().Total; n != 0 {
		t.Fatalf("%d messages left after the example's cleanup", n)
	}
}

// fencedBlock returns the first code block opened by fence after heading.
func fencedBlock(t *testing.T, doc, heading, fence string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, heading)
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	_, after, ok = strings.Cut(after, fence+"\n")
	if !ok {
		t.Fatalf("no %s block after %q", fence, heading)
	}
	code, _, ok := strings.Cut(after, "\n```")
	if !ok {
		t.Fatalf("unterminated %s block after %q", fence, heading)
	}
	return code + "\n"
}

// TestREADMENodeExample runs the README's node:test example, as written: its
// three files (test/invoice.test.js, src/mailer.js, package.json) in a
// project directory, nodemailer from testdata/npm (pinned there, as `npm
// install` would fetch it), and `npm test`.
func TestREADMENodeExample(t *testing.T) {
	t.Parallel()
	node := nodemailerOrSkip(t)
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is missing")
		}
		t.Skip("npm is missing")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{}
	for _, b := range fencedBlocks(t, string(readme), "### Node (node:test") {
		switch {
		case b.lang == "js":
			name, ok := strings.CutPrefix(strings.SplitN(b.body, "\n", 2)[0], "// ")
			if !ok {
				t.Fatalf("a js block does not start with its file name: %q", b.body[:min(60, len(b.body))])
			}
			files[name] = b.body
		case b.lang == "json":
			files["package.json"] = b.body
		}
	}
	for _, name := range []string{"test/invoice.test.js", "src/mailer.js", "package.json"} {
		content, ok := files[name]
		if !ok {
			t.Fatalf("the README's Node example lacks %s", name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var pkg struct{ DevDependencies map[string]string }
	if err := json.Unmarshal([]byte(files["package.json"]), &pkg); err != nil || pkg.DevDependencies["nodemailer"] == "" {
		t.Fatalf("package.json: %v, %+v: want nodemailer among devDependencies", err, pkg)
	}
	modules, err := filepath.Abs(filepath.Join(npmDir, "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t)
	_, port, _ := net.SplitHostPort(s.Addr(1025))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "test")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAILSINK_URL="+s.URL, "SMTP_PORT="+port, "PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# pass 1") {
		t.Fatalf("node ran no passing test:\n%s", out)
	}
	if n := s.Store.Stats().Total; n != 0 {
		t.Fatalf("%d messages left after the example's cleanup", n)
	}
}

// nodemailerOrSkip returns node, or skips (fails under CI=true) when node
// or testdata/npm's nodemailer is missing.
func nodemailerOrSkip(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	msg := ""
	if err != nil {
		msg = "node is missing"
	} else if _, err := os.Stat(filepath.Join(npmDir, "node_modules", "nodemailer", "package.json")); err != nil {
		msg = "testdata/npm/node_modules/nodemailer is not installed: run `npm ci --prefix testdata/npm`"
	}
	if msg == "" {
		return node
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

type block struct{ lang, body string }

// fencedBlocks returns every code block after heading, up to the next
// heading of any level.
func fencedBlocks(t *testing.T, doc, heading string) []block {
	t.Helper()
	_, after, ok := strings.Cut(doc, heading)
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	var out []block
	var cur *block
	for _, line := range strings.Split(after, "\n")[1:] {
		switch {
		case cur == nil && strings.HasPrefix(line, "#"):
			return out
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```")}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	return out
}
