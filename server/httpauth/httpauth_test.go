package httpauth

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// htpasswd returns Apache's htpasswd tool: password files are made with it
// in real life. Without it the test skips, except in CI.
func htpasswd(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("htpasswd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but htpasswd is missing (apt-get install apache2-utils)")
		}
		t.Skip("htpasswd not found (apt-get install apache2-utils)")
	}
	return p
}

// writeFile runs `htpasswd -b [flags] file user password` for each pair.
func writeFile(t *testing.T, flag string, pairs ...string) string {
	t.Helper()
	tool := htpasswd(t)
	path := filepath.Join(t.TempDir(), "htpasswd")
	for i := 0; i < len(pairs); i += 2 {
		args := []string{"-b", flag}
		if i == 0 {
			args = append(args, "-c")
		}
		if flag == "-B" {
			args = append(args, "-C", "4") // bcrypt's least cost: the test is about kinds, not strength
		}
		out, err := exec.Command(tool, append(args, path, pairs[i], pairs[i+1])...).CombinedOutput()
		if err != nil {
			t.Fatalf("htpasswd: %v\n%s", err, out)
		}
	}
	return path
}

func TestParsePairs(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"", map[string]string{}, ""},
		{"alice:s3cret", map[string]string{"alice": "s3cret"}, ""},
		{" alice:a:b:c \n\tbob:x ", map[string]string{"alice": "a:b:c", "bob": "x"}, ""},
		{"alice", nil, `"****"`},
		{"alice: bob:x", nil, `"alice:****"`},
		{":pw", nil, `":****"`},
	}
	for _, tt := range tests {
		got, err := ParsePairs(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePairs(%q) = %v, want an error with %s", tt.in, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("the error shows a password: %v", err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("ParsePairs(%q) = %v, %v", tt.in, got, err)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("ParsePairs(%q)[%q] = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	file := writeFile(t, "-B", "carol", "from file", "dave", "pa:ss")
	u, err := New(map[string]string{"alice": "s3cret", "bob": "other"}, file)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pass string
		want       bool
	}{
		{"alice", "s3cret", true},
		{"bob", "other", true},
		{"carol", "from file", true},
		{"dave", "pa:ss", true},
		{"alice", "other", false}, // bob's password
		{"alice", "s3cre", false},
		{"alice", "s3cret ", false},
		{"Alice", "s3cret", false},
		{"carol", "from File", false},
		{"carol", "", false},
		{"nobody", "s3cret", false},
		{"", "", false},
	}
	for _, tt := range tests {
		for range 2 { // the second time, a success comes from the cache
			if got := u.Check(tt.user, tt.pass); got != tt.want {
				t.Errorf("Check(%q, %q) = %v, want %v", tt.user, tt.pass, got, tt.want)
			}
		}
	}
	if n := len(u.cache); n != 2 {
		t.Errorf("the cache holds %d entries, want the 2 bcrypt successes", n)
	}
	for k := range u.cache {
		for _, secret := range []string{"from file", "pa:ss"} {
			if strings.Contains(string(k[:]), secret) {
				t.Errorf("the cache key holds a password")
			}
		}
	}
	var nilUsers *Users
	if nilUsers.Check("alice", "s3cret") {
		t.Error("no users accepted someone")
	}
}

// The cache is bounded, and starts over when full.
func TestCacheIsBounded(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	u := &Users{cache: map[[32]byte]struct{}{}}
	if !u.checkBcrypt(h, "alice", "pw") || len(u.cache) != 1 {
		t.Fatalf("a success was not remembered: %d entries", len(u.cache))
	}
	for i := range maxCached + 10 {
		u.remember([32]byte{byte(i), byte(i >> 8), 1})
		if len(u.cache) > maxCached {
			t.Fatalf("cache has %d entries, bound %d", len(u.cache), maxCached)
		}
	}
	if len(u.cache) != 11 {
		t.Errorf("%d entries after starting over, want 11", len(u.cache))
	}
}

func TestFilesOnlyBcrypt(t *testing.T) {
	tests := []struct {
		name, flag string
		want       string
	}{
		{"md5", "-m", "Apache MD5"},
		{"sha1", "-s", "SHA-1"},
		{"plain", "-p", "plain-text"},
		{"crypt", "-d", "crypt(3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.flag, "ok", "pw")
			_, err := New(nil, file)
			if err == nil {
				t.Fatalf("a %s password file was accepted", tt.name)
			}
			for _, want := range []string{file + " line 1", `user "ok"`, tt.want, "only bcrypt", "htpasswd -B"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":      "# only a comment\n\n",
		"no-colon":   "alice\n",
		"bad-bcrypt": "alice:$2y$04$short\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(nil, path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
	if _, err := New(nil, filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
	dup := writeFile(t, "-B", "alice", "pw")
	if _, err := New(map[string]string{"alice": "x"}, dup); err == nil || !strings.Contains(err.Error(), `"alice" is also given`) {
		t.Errorf("a user in both: err = %v", err)
	}
	if u, err := New(nil, ""); u != nil || err != nil {
		t.Errorf("no credentials: %v, %v; want nil, nil", u, err)
	}
}
