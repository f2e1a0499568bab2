package htmlcheck

import "strings"

// The CSS reader is a small scanner of our own rather than a library: the
// check needs only the outline of a style sheet (at-rules and their
// preludes, selectors, and declarations as name and value), which is a
// few rules of CSS Syntax Level 3: comments, strings with escapes, and
// balanced (), [] and {}. It never fails: text it cannot make sense of is
// skipped, as a browser skips it. Work is linear in the input, and nesting
// deeper than maxDepth is skipped unread, so no style sheet can make it
// recurse without bound.

// maxDepth bounds how deep blocks (@media inside @supports inside a rule
// ...) are read.
const maxDepth = 32

// declaration is one "name: value" of a rule or style attribute, the name
// lowercased.
type declaration struct {
	name, value string
	important   bool
}

// sheetVisitor receives what a style sheet holds, in order.
type sheetVisitor interface {
	atRule(name, prelude string) // name lowercased, without "@"
	selector(prelude string)     // a style rule's selector list
	declaration(d declaration)   // in a style rule or a nested block
	nested()                     // a rule nested inside a style rule (CSS nesting)
}

// cssScanner walks text, a style sheet or a declaration list.
type cssScanner struct {
	s string
	i int
}

// readSheet reads a style sheet (the text of a <style> element).
func readSheet(text string, v sheetVisitor) {
	sc := &cssScanner{s: text}
	sc.rules(v, 0, false)
}

// readDeclarations reads a declaration list (a style attribute).
func readDeclarations(text string, v sheetVisitor) {
	sc := &cssScanner{s: text}
	sc.block(v, 0, false)
}

// skipSpace skips white space, comments and the HTML comment markers a
// <style> element may hold.
func (sc *cssScanner) skipSpace() {
	for sc.i < len(sc.s) {
		switch {
		case isSpace(sc.s[sc.i]):
			sc.i++
		case strings.HasPrefix(sc.s[sc.i:], "/*"):
			end := strings.Index(sc.s[sc.i+2:], "*/")
			if end < 0 {
				sc.i = len(sc.s)
				return
			}
			sc.i += 2 + end + 2
		case strings.HasPrefix(sc.s[sc.i:], "<!--"):
			sc.i += 4
		case strings.HasPrefix(sc.s[sc.i:], "-->"):
			sc.i += 3
		default:
			return
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// until reads up to (not including) the first of stops outside strings,
// comments and brackets, and returns the text read with comments removed.
func (sc *cssScanner) until(stops string) string {
	var b strings.Builder
	depth := 0
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case depth == 0 && strings.IndexByte(stops, c) >= 0:
			return b.String()
		case c == '"' || c == '\'':
			start := sc.i
			sc.str()
			b.WriteString(sc.s[start:sc.i])
			continue
		case c == '\\' && sc.i+1 < len(sc.s):
			b.WriteString(sc.s[sc.i : sc.i+2])
			sc.i += 2
			continue
		case c == '/' && strings.HasPrefix(sc.s[sc.i:], "/*"):
			end := strings.Index(sc.s[sc.i+2:], "*/")
			if end < 0 {
				sc.i = len(sc.s)
				return b.String()
			}
			sc.i += 2 + end + 2
			b.WriteByte(' ')
			continue
		case c == '(' || c == '[':
			depth++
		case (c == ')' || c == ']') && depth > 0:
			depth--
		}
		b.WriteByte(c)
		sc.i++
	}
	return b.String()
}

// str skips a quoted string starting at sc.i; an unclosed one ends at the
// end of its line, as in CSS.
func (sc *cssScanner) str() {
	q := sc.s[sc.i]
	sc.i++
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '\\':
			sc.i += 2
			continue
		case q:
			sc.i++
			return
		case '\n':
			return
		}
		sc.i++
	}
	sc.i = min(sc.i, len(sc.s))
}

// skipBlock skips a {} block whose "{" is at sc.i, unread.
func (sc *cssScanner) skipBlock() {
	depth := 0
	for sc.i < len(sc.s) {
		switch c := sc.s[sc.i]; c {
		case '"', '\'':
			sc.str()
			continue
		case '\\':
			sc.i++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				sc.i++
				return
			}
		}
		sc.i++
	}
}

// rules reads rules up to the end of text, or (inBlock) to the "}" that
// closes the enclosing block, which it consumes.
func (sc *cssScanner) rules(v sheetVisitor, depth int, inBlock bool) {
	for {
		sc.skipSpace()
		if sc.i >= len(sc.s) {
			return
		}
		switch sc.s[sc.i] {
		case '}':
			sc.i++
			if inBlock {
				return
			}
			continue // a stray "}" at the top level
		case ';':
			sc.i++
			continue
		case '@':
			sc.atRule(v, depth)
			continue
		}
		prelude := strings.TrimSpace(sc.until("{;}"))
		if sc.i >= len(sc.s) {
			return
		}
		if sc.s[sc.i] != '{' {
			sc.i++ // ";" or "}" after text that is no rule: skip it
			if sc.s[sc.i-1] == '}' && inBlock {
				return
			}
			continue
		}
		if prelude != "" {
			v.selector(prelude)
		}
		sc.enter(v, depth, true)
	}
}

// atRule reads an at-rule starting at its "@".
func (sc *cssScanner) atRule(v sheetVisitor, depth int) {
	sc.i++
	start := sc.i
	for sc.i < len(sc.s) && isNameByte(sc.s[sc.i]) {
		sc.i++
	}
	name := strings.ToLower(sc.s[start:sc.i])
	prelude := strings.TrimSpace(sc.until("{;}"))
	if name != "" {
		v.atRule(name, prelude)
	}
	if sc.i >= len(sc.s) {
		return
	}
	switch sc.s[sc.i] {
	case ';':
		sc.i++
	case '}':
		// the enclosing block's end: leave it to the caller
	case '{':
		switch name {
		case "media", "supports", "document", "layer", "container", "scope", "starting-style":
			sc.enterRules(v, depth) // blocks of rules
		default:
			sc.enter(v, depth, false) // @font-face, @page, @keyframes' frames...: declarations
		}
	}
}

// enterRules reads a block of rules whose "{" is at sc.i.
func (sc *cssScanner) enterRules(v sheetVisitor, depth int) {
	if depth >= maxDepth {
		sc.skipBlock()
		return
	}
	sc.i++
	sc.rules(v, depth+1, true)
}

// enter reads a block of declarations whose "{" is at sc.i; styleRule says
// it belongs to a style rule, where a nested rule is CSS nesting.
func (sc *cssScanner) enter(v sheetVisitor, depth int, styleRule bool) {
	if depth >= maxDepth {
		sc.skipBlock()
		return
	}
	sc.i++
	sc.block(v, depth+1, styleRule)
	if sc.i < len(sc.s) && sc.s[sc.i] == '}' {
		sc.i++
	}
}

// block reads declarations up to the "}" ending the block (left unread)
// or the end of text. A rule nested among them ("&:hover {...}", or a
// keyframe "50% {...}") is read as a block of its own.
func (sc *cssScanner) block(v sheetVisitor, depth int, styleRule bool) {
	for {
		sc.skipSpace()
		if sc.i >= len(sc.s) || sc.s[sc.i] == '}' {
			return
		}
		if sc.s[sc.i] == ';' {
			sc.i++
			continue
		}
		if sc.s[sc.i] == '@' {
			if styleRule {
				v.nested()
			}
			sc.atRule(v, depth)
			continue
		}
		text := sc.until(";{}")
		if sc.i < len(sc.s) && sc.s[sc.i] == '{' {
			if prelude := strings.TrimSpace(text); prelude != "" && styleRule {
				v.nested()
				v.selector(prelude)
			}
			sc.enter(v, depth, styleRule)
			continue
		}
		if sc.i < len(sc.s) && sc.s[sc.i] == ';' {
			sc.i++
		}
		name, value, ok := strings.Cut(text, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" || !validName(name) {
			continue
		}
		value = strings.TrimSpace(value)
		d := declaration{name: name, value: value}
		if i := strings.LastIndexByte(value, '!'); i >= 0 && strings.EqualFold(strings.TrimSpace(value[i+1:]), "important") {
			d.important = true
			d.value = strings.TrimSpace(value[:i])
		}
		v.declaration(d)
	}
}

func isNameByte(c byte) bool {
	return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// validName reports whether s can be a property name (custom ones, "--x",
// included); "*zoom" and other hacks are not.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}
