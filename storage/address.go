package storage

import "strings"

// simpleAddress reads the forms nearly every message uses for one mailbox
// (addr@example.com, <addr@example.com>, Display Name <addr@example.com>)
// without net/mail, whose allocations were most of the garbage capture made.
// Anything else (quotes, comments, groups, lists, encoded words, non-ASCII)
// is not ok, and goes to the full parser. FuzzSimpleAddress checks that both
// agree wherever this one answers.
func simpleAddress(v string) (Address, bool) {
	s := strings.Trim(v, " \t")
	if s == "" || strings.Contains(s, "=?") {
		return Address{}, false
	}
	var name string
	if strings.HasSuffix(s, ">") {
		lt := strings.IndexByte(s, '<')
		if lt < 0 || strings.IndexByte(s[lt+1:], '<') >= 0 {
			return Address{}, false
		}
		phrase := strings.TrimRight(s[:lt], " \t")
		if phrase != "" && !simplePhrase(phrase) {
			return Address{}, false
		}
		name, s = phrase, s[lt+1:len(s)-1]
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || !dotAtom(local) || !dotAtom(domain) {
		return Address{}, false
	}
	return Address{Name: name, Address: s}, true
}

// simplePhrase is whether p is atoms separated by single spaces, which a
// full parser would return unchanged as the display name.
func simplePhrase(p string) bool {
	for _, word := range strings.Split(p, " ") {
		if word == "" {
			return false
		}
		for i := 0; i < len(word); i++ {
			if !isAtext(word[i]) {
				return false
			}
		}
	}
	return true
}

// dotAtom is whether s is RFC 5322 dot-atom-text.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isAtext(s[i]) {
			return false
		}
	}
	return true
}

// isAtext is RFC 5322 atext, ASCII only.
func isAtext(c byte) bool { return alnumOr(c, "!#$%&'*+-/=?^_`{|}~") }

// alnumOr is whether c is an ASCII letter or digit, or one of extra.
func alnumOr(c byte, extra string) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(extra, c) >= 0
}
