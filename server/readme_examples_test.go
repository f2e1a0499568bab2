package server_test

import (
	"context"
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
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test_readme_example.py"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t)
	_, port, _ := net.SplitHostPort(s.Addr(2525))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", dir)
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
