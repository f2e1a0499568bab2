package storage

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// A stored message keeps a dozen short strings. Each one a heap object of
// its own would be a dozen objects per message for every collection to mark
// and a dozen allocation headers and size-class roundings to keep: with
// 100,000 messages that dominates both. So header values alias the raw
// bytes (which never change after Add), and the other strings are copied
// next to them in a slab (slab.go).

// alias returns b as a string without copying. b must never change.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// within returns the copy of s inside base, if base holds s verbatim; else s.
// Parsers hand back fresh strings; when their content is in the raw bytes,
// the raw bytes are what is kept.
func within(base, s string) string {
	if s == "" {
		return ""
	}
	if i := strings.Index(base, s); i >= 0 {
		return base[i : i+len(s)]
	}
	return s
}

// packer copies strings into one buffer sized up front. If a guess was
// short, append moves on to a new buffer; strings made before keep the old
// one alive and stay valid, since nothing written is ever changed.
type packer struct{ buf []byte }

func (p *packer) str(s string) string {
	if s == "" {
		return ""
	}
	start := len(p.buf)
	p.buf = append(p.buf, s...)
	return alias(p.buf[start:])
}

// recipientKey joins the To header's names and addresses and the envelope
// recipients, lowercased, with a separator no search term can span.
func (p *packer) recipientKey(to []Address, rcpts []string) string {
	start := len(p.buf)
	for _, a := range to {
		p.lower(a.Name)
		p.lower(a.Address)
	}
	for _, r := range rcpts {
		p.lower(r)
	}
	return alias(p.buf[start:])
}

// lower appends s lowercased, and a NUL.
func (p *packer) lower(s string) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		p.buf = append(p.buf, strings.ToLower(s)...)
	} else {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			p.buf = append(p.buf, c)
		}
	}
	p.buf = append(p.buf, 0)
}

// keySize is about what recipientKey will take.
func keySize(to []Address, rcpts []string) int {
	n := 0
	for _, a := range to {
		n += len(a.Name) + len(a.Address) + 2
	}
	for _, r := range rcpts {
		n += len(r) + 1
	}
	return n
}
