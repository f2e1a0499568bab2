package storage

import (
	"fmt"
	"strings"
)

// enmime's parse time grows with the MIME structure, not the message size:
// it doubles with every level of multipart nesting left unclosed (26 levels,
// 1.5 KB, took 35 s) and grows with the square of closed nesting and with
// the number of parts. Before a full parse the structure is measured with
// one cheap pass; a message beyond these limits is not parsed. It is still
// stored byte-exact, listed, searchable by its headers and downloadable;
// its Errors name the limit.
const (
	maxBoundaries = 64   // multipart containers (distinct boundaries declared)
	maxUnclosed   = 4    // of them, ones whose closing delimiter never comes
	maxParts      = 1000 // delimiter lines, roughly the number of parts
	// The body shown as text of a message not parsed, at most.
	maxUnparsedText = 1 << 20
)

// overBudget measures raw's MIME structure and returns why it is too
// costly to parse, or "".
func overBudget(raw string) string {
	declared := map[string]bool{}
	for rest := raw; ; {
		i := indexFold(rest, "boundary=")
		if i < 0 {
			break
		}
		at := len(raw) - len(rest) + i
		rest = rest[i+len("boundary="):]
		if !inContentType(raw, at) {
			continue // quoted text, a quoted-printable body, not a header
		}
		if b := boundaryValue(rest); b != "" {
			declared[b] = true
			if len(declared) > maxBoundaries {
				return fmt.Sprintf("more than %d nested or sibling multiparts", maxBoundaries)
			}
		}
	}
	if len(declared) == 0 {
		return ""
	}
	opened, closed := map[string]bool{}, map[string]bool{}
	parts := 0
	for rest := raw; ; {
		i := strings.Index(rest, "\n--")
		if i < 0 {
			break
		}
		rest = rest[i+3:]
		line := rest
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimRight(line, " \t\r")
		if b, ok := strings.CutSuffix(line, "--"); ok && declared[b] {
			closed[b] = true
		} else if declared[line] {
			opened[line] = true
			parts++
			if parts > maxParts {
				return fmt.Sprintf("more than %d MIME parts", maxParts)
			}
		}
	}
	open := 0
	for b := range opened { // a boundary never used as a delimiter opens nothing
		if !closed[b] {
			open++
		}
	}
	if open > maxUnclosed {
		return fmt.Sprintf("%d multiparts never closed (enmime's time doubles with each beyond %d)", open, maxUnclosed)
	}
	return ""
}

// boundaryValue reads a boundary parameter's value: quoted, or a token.
func boundaryValue(s string) string {
	if strings.HasPrefix(s, `"`) {
		if j := strings.IndexByte(s[1:], '"'); j >= 0 {
			return s[1 : 1+j]
		}
		return ""
	}
	end := strings.IndexAny(s, "; \t\r\n")
	if end < 0 {
		end = len(s)
	}
	return s[:end]
}

// indexFold is strings.Index for an ASCII lowercase needle, ignoring the
// case of s, without copying s.
func indexFold(s, needle string) int {
	first := needle[0]
	for i := 0; i+len(needle) <= len(s); {
		j := strings.IndexAny(s[i:], string([]byte{first, first - 'a' + 'A'}))
		if j < 0 {
			return -1
		}
		i += j
		if i+len(needle) <= len(s) && strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
		i++
	}
	return -1
}

// inContentType is whether offset at in raw lies in a Content-Type header
// field: on a line starting "Content-Type:", or on a folded continuation
// of one.
func inContentType(raw string, at int) bool {
	for {
		start := strings.LastIndexByte(raw[:at], '\n') + 1
		line := raw[start:]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if start == 0 {
				return false
			}
			at = start - 1 // a continuation: look at the line before
			continue
		}
		return len(line) >= len("content-type:") && strings.EqualFold(line[:len("content-type:")], "content-type:")
	}
}
