// Package httpauth owns HTTP basic authentication for the inbox, the API
// and /metrics: the credentials (user:password pairs, or an htpasswd file
// of bcrypt hashes), how a request's are checked, and the middleware that
// answers 401 when they are missing or wrong.
//
// Checks take constant time in the password, and in the user name over
// the users known. bcrypt is slow on purpose (some 50 ms a check), and a
// browser sends the same credentials with every request, so successful
// bcrypt checks are remembered in a small bounded cache keyed by an HMAC
// of user and password under a key made at start: the cache never holds a
// password, nor anything that can be checked against one offline.
//
// It imports the standard library, golang.org/x/crypto/bcrypt and
// server/httperr, nothing else of mailsink's.
package httpauth

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Users are the credentials one guard accepts.
type Users struct {
	list []user
	// dummy is what an unknown user name is checked against, so that it
	// costs what a known one does: a bcrypt hash when any user has one.
	dummy user

	key   [32]byte // HMAC key of the cache; random, never leaves the process
	mu    sync.Mutex
	cache map[[32]byte]struct{} // HMACs of user and password that passed a bcrypt check
}

type user struct {
	name   [32]byte // SHA-256 of the name, compared in constant time
	plain  []byte   // SHA-256 of a plain password, or nil
	bcrypt []byte   // a bcrypt hash, or nil
}

// maxCached bounds the cache: a handful of people and scripts use one
// mailsink; past the bound the cache starts over.
const maxCached = 256

// ParsePairs reads "user:password" pairs separated by white space, as
// Mailpit's MP_UI_AUTH; a password may contain ':' but no white space.
func ParsePairs(list string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Fields(list) {
		name, pass, ok := strings.Cut(pair, ":")
		if !ok || name == "" || pass == "" {
			return nil, fmt.Errorf("%q: want user:password pairs separated by spaces", redact(pair))
		}
		out[name] = pass
	}
	return out, nil
}

// redact keeps the user name of a pair for an error message, never the password.
func redact(pair string) string {
	if name, _, ok := strings.Cut(pair, ":"); ok {
		return name + ":****"
	}
	return "****"
}

// New returns the credentials of plain (user -> password) and of each
// htpasswd file named; nil if there are none. A file's entries must be
// bcrypt hashes ("$2a$", "$2b$" or "$2y$", as `htpasswd -B` writes them):
// any other kind (MD5 "$apr1$", "{SHA}", crypt, plain text) is refused
// with an error naming the file, line and user.
func New(plain map[string]string, files ...string) (*Users, error) {
	u := &Users{cache: map[[32]byte]struct{}{}}
	if _, err := rand.Read(u.key[:]); err != nil {
		return nil, fmt.Errorf("making the credential cache key: %w", err)
	}
	seen := map[string]string{}
	for name, pass := range plain {
		d := sha256.Sum256([]byte(pass))
		u.list = append(u.list, user{name: sha256.Sum256([]byte(name)), plain: d[:]})
		seen[name] = "the variable"
	}
	for _, path := range files {
		if path == "" {
			continue
		}
		entries, err := readHtpasswd(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if where, dup := seen[e.name]; dup {
				return nil, fmt.Errorf("%s line %d: user %q is also given in %s", path, e.line, e.name, where)
			}
			seen[e.name] = fmt.Sprintf("%s line %d", path, e.line)
			u.list = append(u.list, user{name: sha256.Sum256([]byte(e.name)), bcrypt: e.hash})
		}
	}
	if len(u.list) == 0 {
		return nil, nil
	}
	u.dummy = user{plain: make([]byte, sha256.Size)}
	for _, x := range u.list {
		if x.bcrypt != nil {
			cost, _ := bcrypt.Cost(x.bcrypt)
			h, err := bcrypt.GenerateFromPassword(u.key[:16], max(cost, bcrypt.MinCost)) // a password no one knows
			if err != nil {
				return nil, fmt.Errorf("making a stand-in hash: %w", err)
			}
			u.dummy = user{bcrypt: h}
			break
		}
	}
	return u, nil
}

type htpasswdEntry struct {
	name string
	hash []byte
	line int
}

// readHtpasswd reads "user:hash" lines; blank lines and lines starting
// with '#' are skipped.
func readHtpasswd(path string) ([]htpasswdEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the password file: %w", err)
	}
	var out []htpasswdEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" || hash == "" {
			return nil, fmt.Errorf("%s line %d: want user:hash", path, n)
		}
		if kind := hashKind(hash); kind != "bcrypt" {
			return nil, fmt.Errorf("%s line %d: user %q has a %s password, and only bcrypt is accepted: make the entry with `htpasswd -B %s %s`", path, n, name, kind, path, name)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s line %d: user %q: the bcrypt hash is malformed: %v", path, n, name, err)
		}
		out = append(out, htpasswdEntry{name: name, hash: []byte(hash), line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no user:hash lines", path)
	}
	return out, nil
}

// hashKind names an htpasswd hash's kind for an error message.
func hashKind(h string) string {
	switch {
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		return "bcrypt"
	case strings.HasPrefix(h, "$apr1$"):
		return "Apache MD5 ($apr1$)"
	case strings.HasPrefix(h, "$1$"):
		return "MD5-crypt ($1$)"
	case strings.HasPrefix(h, "$5$"), strings.HasPrefix(h, "$6$"):
		return "SHA-crypt (" + h[:3] + ")"
	case strings.HasPrefix(h, "{SHA}"):
		return "SHA-1 ({SHA})"
	case len(h) == 13:
		return "crypt(3) DES (or plain text)"
	default:
		return "plain-text (or unknown)"
	}
}

// Check reports whether user and password are one of the pairs.
func (u *Users) Check(name, pass string) bool {
	if u == nil {
		return false
	}
	nd := sha256.Sum256([]byte(name))
	match := u.dummy
	found := 0
	for _, x := range u.list {
		eq := subtle.ConstantTimeCompare(nd[:], x.name[:])
		if eq == 1 {
			match = x
		}
		found |= eq
	}
	switch {
	case match.plain != nil:
		pd := sha256.Sum256([]byte(pass))
		return subtle.ConstantTimeCompare(pd[:], match.plain)&found == 1
	case found == 1:
		return u.checkBcrypt(match.bcrypt, name, pass)
	default: // the stand-in's cost, never its success
		bcrypt.CompareHashAndPassword(match.bcrypt, []byte(pass))
		return false
	}
}

// checkBcrypt compares pass against hash, remembering successes.
func (u *Users) checkBcrypt(hash []byte, name, pass string) bool {
	mac := hmac.New(sha256.New, u.key[:])
	mac.Write(hash) // a changed hash never matches an old entry
	mac.Write([]byte{0})
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write([]byte(pass))
	var k [32]byte
	mac.Sum(k[:0])
	u.mu.Lock()
	_, hit := u.cache[k]
	u.mu.Unlock()
	if hit {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false // a mismatch, or a password over bcrypt's 72 bytes
	}
	u.remember(k)
	return true
}

// remember caches a successful check's key, starting over when full.
func (u *Users) remember(k [32]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.cache) >= maxCached {
		clear(u.cache)
	}
	u.cache[k] = struct{}{}
}
