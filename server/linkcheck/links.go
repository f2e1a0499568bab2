package linkcheck

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// linkAttrs are the attributes whose URLs are checked, as in Mailpit:
// links, style sheets and images.
var linkAttrs = map[string]string{"a": "href", "link": "href", "img": "src", "area": "href"}

// textURL is a URL in a text body: http(s), then the characters URLs are
// made of. A trailing full stop or comma ends a sentence, not the URL.
var textURL = regexp.MustCompile(`(?i)\bhttps?://[-\w@:%+'!.~#?,&/=;()\[\]*$]+`)

// bracketURL is a URL in angle brackets, which RFC 3986 (appendix C)
// recommends for plain text and which may be wrapped over lines.
var bracketURL = regexp.MustCompile(`(?i)<(https?://[^<>]+)>`)

// extract lists the http(s) links of the bodies, each once, at most max.
func extract(htmlBody, textBody string, max int) []string {
	seen := map[string]bool{}
	var out []string
	add := func(l string) bool {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			return len(out) < max
		}
		lower := strings.ToLower(l)
		if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			return true
		}
		seen[l] = true
		out = append(out, l)
		return len(out) < max
	}
	z := html.NewTokenizer(strings.NewReader(htmlBody))
tokens:
	for {
		switch z.Next() {
		case html.ErrorToken:
			break tokens
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			key, ok := linkAttrs[t.Data]
			if !ok {
				continue
			}
			if t.Data == "link" && !strings.EqualFold(attrVal(t, "rel"), "stylesheet") {
				continue
			}
			if !add(attrVal(t, key)) {
				return out
			}
		}
	}
	// Bracketed URLs first: they may hold what the bare pattern stops at.
	for _, m := range bracketURL.FindAllStringSubmatch(textBody, 3*max) {
		if !add(strings.NewReplacer("\r", "", "\n", "").Replace(m[1])) {
			return out
		}
	}
	textBody = bracketURL.ReplaceAllString(textBody, " ")
	for _, m := range textURL.FindAllString(textBody, 3*max) {
		m = strings.TrimRight(m, ".,;:!?'")
		if strings.HasSuffix(m, ")") && !strings.Contains(m, "(") {
			m = strings.TrimRight(m, ")")
		}
		if !add(m) {
			return out
		}
	}
	return out
}

func attrVal(t html.Token, key string) string {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
