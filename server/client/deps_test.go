package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// A program that uses the client must not compile the server: no storage,
// so no enmime, nothing but the standard library, the wire types and the
// pure faults package.
func TestClientDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-json=ImportPath,Standard", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/mailsink/mailsink/server/client":       true,
		"github.com/mailsink/mailsink/server/api/apitypes": true,
		"github.com/mailsink/mailsink/server/faults":       true,
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var p struct {
			ImportPath string
			Standard   bool
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		n++
		if strings.Contains(p.ImportPath, "enmime") || strings.HasSuffix(p.ImportPath, "/storage") {
			t.Errorf("the client depends on %s", p.ImportPath)
		} else if !p.Standard && !allowed[p.ImportPath] {
			t.Errorf("the client depends on %s, outside the standard library, apitypes and faults", p.ImportPath)
		}
	}
	if n == 0 {
		t.Fatal("go list listed no packages")
	}
}
