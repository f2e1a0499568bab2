package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The package comments say what each package never imports; this holds
// them to it, so that imports keep pointing one way:
// cmd -> server -> {smtpd, api, api/mailhog, webui} -> httperr -> storage.
func TestImportsPointInward(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH:", err)
	}
	out, err := exec.Command(goTool, "list", "-json=ImportPath,Imports", "github.com/mailsink/mailsink/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/mailsink/mailsink/"
	imports := map[string][]string{} // package -> the module's packages it imports, both without mod
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, imp := range p.Imports {
			if rest, ok := strings.CutPrefix(imp, mod); ok {
				ours = append(ours, rest)
			}
		}
		imports[strings.TrimPrefix(p.ImportPath, mod)] = ours
	}
	// allowed lists, for a package, every package of ours it may import.
	allowed := map[string][]string{
		"storage":             {},
		"server/faults":       {},
		"server/api/apitypes": {"server/faults"},
		"server/httperr":      {"server/api/apitypes", "storage"},
		"server/client":       {"server/api/apitypes", "server/faults"},
		"server/api":          {"server/api/apitypes", "server/compose", "server/faults", "server/htmlcheck", "server/httperr", "server/linkcheck", "server/links", "server/thumbnail", "storage"},
		"server/links":        {},
		"server/dkimverify":   {"storage"},
		"server/compose":      {},
		"server/sendmail":     {"server/compose"},
		"server/htmlcheck":    {},
		"server/linkcheck":    {"server/links"},
		"server/thumbnail":    {},
		"server/api/mailhog":  {"server/httperr", "storage"},
		"webui":               {"server/api", "server/api/apitypes", "server/httperr", "storage"}, // api: the session summaries it streams are the API's
		"server/webhook":      {"storage"},
		"server/httpauth":     {"server/httperr"},
		"server/metrics":      {"server/smtpd", "server/webhook", "storage"},
	}
	for pkg, may := range allowed {
		got, ok := imports[pkg]
		if !ok {
			t.Errorf("go list did not list %s", pkg)
		}
		for _, imp := range got {
			if !slices.Contains(may, imp) {
				t.Errorf("%s imports %s; it may import only %v of mailsink", pkg, imp, may)
			}
		}
	}
	for pkg, got := range imports {
		if slices.Contains(got, "cmd/mailsink") {
			t.Errorf("%s imports cmd/mailsink", pkg)
		}
	}
}
