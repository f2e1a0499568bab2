// Package links finds the URLs and codes in a message's bodies: its links,
// each with its anchor text and the parts it came from (what a test clicks
// next), the URLs a link check asks for, and one-time codes or tokens
// matching a pattern the test gives. It reads decoded bodies and knows
// nothing of storage.
package links

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/net/html"
)

// Link is one distinct URL of a message.
type Link struct {
	URL   string
	Text  string   // the first anchor text found for it; "" for a bare URL in text
	Parts []string // where it appears: "html", "text"
}

// MaxLinks bounds the links of one message.
const MaxLinks = 1000

// Find returns the message's links in order of first appearance: href of
// <a> and <area> in the HTML (with their text), and http(s) URLs written
// in the text body. Schemes that run or embed something (javascript:,
// data:, vbscript:, cid:) and in-page anchors are left out.
func Find(htmlBody, textBody string) []Link {
	var out []Link
	at := map[string]int{}
	add := func(u, text, part string) {
		i, seen := at[u]
		if !seen && len(out) >= MaxLinks {
			return
		}
		if !seen {
			out = append(out, Link{URL: u, Text: text, Parts: []string{part}})
			at[u] = len(out) - 1
			return
		}
		l := &out[i]
		if l.Text == "" {
			l.Text = text
		}
		for _, p := range l.Parts {
			if p == part {
				return
			}
		}
		l.Parts = append(l.Parts, part)
	}
	if htmlBody != "" {
		refs(htmlBody, func(u, text string, resource bool) {
			if !resource {
				add(u, text, "html")
			}
		})
	}
	for _, u := range textURLs(textBody) {
		add(u, "", "text")
	}
	return out
}

// refs calls fn for each URL the HTML refers to, in document order: the
// href of <a> and <area> with the anchor's text, and, as resources, the
// src of <img> and the href of a style sheet's <link>.
func refs(body string, fn func(u, text string, resource bool)) {
	z := html.NewTokenizer(strings.NewReader(body))
	var href string
	var text strings.Builder
	in, skip := false, 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			if in {
				fn(href, squash(text.String()), false)
			}
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.Data {
			case "script", "style":
				if t.Type == html.StartTagToken {
					skip++
				}
			case "a", "area":
				if in { // an unclosed <a> ends at the next
					fn(href, squash(text.String()), false)
					in = false
				}
				if u := attr(t, "href"); linkable(u) {
					href, in = u, t.Data == "a" && t.Type == html.StartTagToken
					text.Reset()
					if !in {
						fn(u, squash(attr(t, "alt")), false)
					}
				}
			case "img":
				if in && text.Len() == 0 {
					text.WriteString(attr(t, "alt"))
				}
				if u := attr(t, "src"); linkable(u) {
					fn(u, "", true)
				}
			case "link":
				if u := attr(t, "href"); strings.EqualFold(attr(t, "rel"), "stylesheet") && linkable(u) {
					fn(u, "", true)
				}
			}
		case html.EndTagToken:
			switch t := z.Token(); t.Data {
			case "script", "style":
				skip = max(skip-1, 0)
			case "a":
				if in {
					fn(href, squash(text.String()), false)
					in = false
				}
			}
		case html.TextToken:
			if in && skip == 0 {
				text.Write(z.Text())
				text.WriteByte(' ')
			}
		}
	}
}

// Checkable lists the http(s) URLs a link check asks for, each once, at
// most max: the HTML's links and resources (images, style sheets) in
// document order, then the text's URLs.
func Checkable(htmlBody, textBody string, max int) []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		lower := strings.ToLower(u)
		if len(out) >= max || seen[u] || !(strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")) {
			return
		}
		seen[u] = true
		out = append(out, u)
	}
	if htmlBody != "" {
		refs(htmlBody, func(u, _ string, _ bool) { add(u) })
	}
	for _, u := range textURLs(textBody) {
		add(u)
	}
	return out
}

func attr(t html.Token, key string) string {
	for _, a := range t.Attr {
		if a.Key == key {
			return strings.TrimSpace(a.Val)
		}
	}
	return ""
}

func linkable(u string) bool {
	if u == "" || strings.HasPrefix(u, "#") {
		return false
	}
	scheme, _, ok := strings.Cut(u, ":")
	if !ok {
		return true // relative: kept as written
	}
	switch strings.ToLower(strings.TrimSpace(scheme)) {
	case "javascript", "data", "vbscript", "cid", "about", "blob", "file":
		return false
	}
	return true
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

var urlInText = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"'\x60]+`)

// bracketURL is a URL in angle brackets, which RFC 3986 (appendix C)
// recommends for plain text and which may be wrapped over lines.
var bracketURL = regexp.MustCompile(`(?i)<(https?://[^<>]+)>`)

// textURLs finds http(s) URLs in text, in order: one in angle brackets
// unwrapped, a bare one without the punctuation that ends a sentence or
// closes a bracket the URL did not open.
func textURLs(text string) []string {
	type at struct {
		i int
		u string
	}
	var found []at
	for _, m := range bracketURL.FindAllStringSubmatchIndex(text, MaxLinks) {
		found = append(found, at{m[0], strings.Join(strings.Fields(text[m[2]:m[3]]), "")})
	}
	// Blank the bracketed ones out, keeping the offsets of the rest.
	bare := bracketURL.ReplaceAllStringFunc(text, func(m string) string { return strings.Repeat(" ", len(m)) })
	for _, m := range urlInText.FindAllStringIndex(bare, MaxLinks) {
		u := bare[m[0]:m[1]]
		for len(u) > 0 {
			c := u[len(u)-1]
			if strings.IndexByte(".,;:!?'\"", c) >= 0 ||
				(c == ')' && strings.Count(u, "(") < strings.Count(u, ")")) ||
				(c == ']' && strings.Count(u, "[") < strings.Count(u, "]")) ||
				c == '}' {
				u = u[:len(u)-1]
				continue
			}
			break
		}
		found = append(found, at{m[0], u})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].i < found[j].i })
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.u
	}
	return out
}

// Code is one match of a pattern.
type Code struct {
	Code  string // the first capture group when the pattern has one, else the whole match
	Match string // the whole match
	Part  string // "subject", "text" or "html" (the HTML's text, tags left out)
}

// MaxPattern bounds a pattern's length; Go's regexp runs in time linear in
// its input, so a pattern cannot make a search run away.
const MaxPattern = 1000

// MaxCodes bounds the matches returned.
const MaxCodes = 100

// DefaultPattern finds the usual one-time code: 4 to 8 digits standing
// alone.
const DefaultPattern = `\b[0-9]{4,8}\b`

// Compile checks a test's pattern ("" is DefaultPattern).
func Compile(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		pattern = DefaultPattern
	}
	if len(pattern) > MaxPattern {
		return nil, fmt.Errorf("pattern is %d bytes long: at most %d", len(pattern), MaxPattern)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	return re, nil
}

// Codes finds re in the subject, the text body and the text of the HTML,
// in that order, each distinct code once.
func Codes(re *regexp.Regexp, subject, textBody, htmlBody string) []Code {
	var out []Code
	seen := map[string]bool{}
	for _, part := range []struct{ name, s string }{{"subject", subject}, {"text", textBody}, {"html", htmlText(htmlBody)}} {
		for _, m := range re.FindAllStringSubmatch(part.s, MaxCodes) {
			code := m[0]
			if len(m) > 1 && m[1] != "" {
				code = m[1]
			}
			if seen[code] || len(out) >= MaxCodes {
				continue
			}
			seen[code] = true
			out = append(out, Code{Code: code, Match: m[0], Part: part.name})
		}
	}
	return out
}

// htmlText is what a reader sees of the HTML: its text, without scripts
// and styles, words separated by single spaces.
func htmlText(body string) string {
	if body == "" {
		return ""
	}
	z := html.NewTokenizer(strings.NewReader(body))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return squash(b.String())
		case html.StartTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip++
			}
		case html.EndTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip = max(skip-1, 0)
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}
