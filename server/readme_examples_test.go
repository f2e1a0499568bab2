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

// mailerStub stands in for the application the README's Node example
// imports: it sends the invoice over plain SMTP with Node's net module.
const mailerStub = `import net from "node:net";

export function sendInvoice(to) {
  const pdf = Buffer.from("%PDF-1.4 stub").toString("base64");
  const msg = [
    "From: billing@app.test", "To: " + to, "Subject: Your invoice", "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b1"', "",
    "--b1", 'Content-Type: multipart/alternative; boundary="b2"', "",
    "--b2", "Content-Type: text/plain", "", "See https://app.test/invoices/42",
    "--b2", "Content-Type: text/html", "", '<p><a href="https://app.test/invoices/42">Open</a></p>',
    "--b2--",
    "--b1", "Content-Type: application/pdf", 'Content-Disposition: attachment; filename="invoice.pdf"',
    "Content-Transfer-Encoding: base64", "", pdf, "--b1--", "",
  ].join("\r\n");
  const script = ["EHLO app.test", "MAIL FROM:<billing@app.test>", "RCPT TO:<" + to + ">", "DATA", msg + ".", "QUIT"];
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(process.env.SMTP_PORT), "127.0.0.1");
    let buf = "", step = 0;
    sock.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        if (line[3] === "-") continue;
        if (!/^[23]/.test(line)) { sock.destroy(); return reject(new Error(line)); }
        if (step < script.length) sock.write(script[step++] + "\r\n");
        else { sock.end(); resolve(); }
      }
    });
    sock.on("error", reject);
  });
}
`

// TestREADMENodeExample runs the README's node:test example, as written,
// with the stub above as the application.
func TestREADMENodeExample(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is missing")
		}
		t.Skip("node is missing")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	code := fencedBlock(t, string(readme), "### Node (node:test", "```js")
	dir := t.TempDir()
	for name, content := range map[string]string{
		"package.json":         `{"type":"module"}`,
		"src/mailer.js":        mailerStub,
		"test/invoice.test.js": code,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := sinktest.Start(t)
	_, port, _ := net.SplitHostPort(s.Addr(2525))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "test/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAILSINK_URL="+s.URL, "SMTP_PORT="+port)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# pass 1") {
		t.Fatalf("node ran no passing test:\n%s", out)
	}
}
