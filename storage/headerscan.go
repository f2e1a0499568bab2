package storage

import (
	"bytes"
	"strings"
)

// summaryFields are the header fields summarize needs; their index is
// where scanHeader puts their values.
var summaryFields = [...]string{"Message-Id", "Subject", "From", "To", "Cc", "Bcc", "Reply-To", "X-Tags"}

const (
	fieldMessageID = iota
	fieldSubject
	fieldFrom
	fieldTo
	fieldCc
	fieldBcc
	fieldReplyTo
	fieldXTags // Mailpit's tags header: found by the same scan, so untagged mail pays nothing more
)

// scanHeader finds the first value of each summary field in raw's header
// block, read exactly as ReadHeader (net/textproto) reads it: unfolded,
// trimmed, stopping at a malformed line. It builds no map of every field:
// capture summarizes every message, and most fields are never looked at.
// Values not folded over lines alias raw.
func scanHeader(raw []byte) (vals [len(summaryFields)]string) {
	end, _ := headerEnd(alias(raw))
	block := raw[:end]
	if len(block) > 0 && (block[0] == ' ' || block[0] == '\t') {
		return vals // textproto refuses a header that starts folded
	}
	var found [len(summaryFields)]bool
	var joined []byte // a folded field, unfolded
	for len(block) > 0 {
		kv := trimSpaceTab(nextLine(&block))
		if len(kv) == 0 {
			return vals
		}
		if bytes.IndexByte(kv, ':') < 0 {
			return vals // the name and colon must be on the field's first line
		}
		folded := len(block) > 0 && (block[0] == ' ' || block[0] == '\t')
		if folded {
			joined = append(joined[:0], kv...)
			for len(block) > 0 && (block[0] == ' ' || block[0] == '\t') {
				joined = append(joined, ' ')
				joined = append(joined, trimSpaceTab(nextLine(&block))...)
			}
			kv = joined
		}
		name, value, ok := bytes.Cut(kv, []byte(":"))
		if !ok || !validFieldName(name) {
			return vals // malformed: textproto keeps what came before
		}
		for _, c := range value {
			if !validValueByte(c) {
				return vals
			}
		}
		for i, want := range summaryFields {
			if !found[i] && len(name) == len(want) && strings.EqualFold(string(name), want) {
				found[i] = true
				if v := bytes.TrimLeft(value, " \t"); folded {
					vals[i] = string(v)
				} else {
					vals[i] = alias(v)
				}
				break
			}
		}
	}
	return vals
}

// nextLine cuts the next line off *b, without its LF or CRLF. An
// unterminated last line is kept whole: ReadHeader ends it with a CRLF.
func nextLine(b *[]byte) []byte {
	line := *b
	i := bytes.IndexByte(line, '\n')
	if i < 0 {
		*b = nil
		return line
	}
	line, *b = line[:i], line[i+1:]
	return bytes.TrimSuffix(line, []byte("\r"))
}

func trimSpaceTab(b []byte) []byte { return bytes.Trim(b, " \t") }

// validFieldName is whether textproto accepts name: RFC 7230 token bytes,
// and spaces (such a name is never one of ours).
func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c != ' ' && !isTokenByte(c) {
			return false
		}
	}
	return true
}

// isTokenByte is RFC 7230 tchar.
func isTokenByte(c byte) bool { return alnumOr(c, "!#$%&'*+-.^_`|~") }

// validValueByte is RFC 7230 field content as textproto checks it: VCHAR,
// SP, HTAB and obs-text.
func validValueByte(c byte) bool {
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f)
}
