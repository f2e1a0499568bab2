package htmlcheck

import (
	"net/url"
	"path"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// What is looked for. Features every client supports (<p>, <table>,
// px units...) are left out, as in Mailpit: they would only dilute the
// list. A slug caniemail does not know is never reported.

// elementSlugs: an element of these names.
var elementSlugs = map[string][]string{
	"html-object":     {"object", "embed"},
	"html-link":       {"link"},
	"html-hr":         {"hr"},
	"html-dialog":     {"dialog"},
	"html-picture":    {"picture"},
	"html-svg":        {"svg"},
	"html-progress":   {"progress"},
	"html-meter":      {"meter"},
	"html-audio":      {"audio"},
	"html-video":      {"video"},
	"html-form":       {"form"},
	"html-select":     {"select"},
	"html-textarea":   {"textarea"},
	"html-base":       {"base"},
	"html-style":      {"style"},
	"html-marquee":    {"marquee"},
	"html-body":       {"body"},
	"html-image-maps": {"map"},
	"html-semantics":  {"article", "aside", "details", "figcaption", "figure", "footer", "header", "main", "mark", "nav", "section", "summary", "time"},
}

// attributeSlugs: an element with this attribute.
var attributeSlugs = map[string]string{
	"srcset":   "html-srcset",
	"required": "html-required",
	"popover":  "html-popover",
	"usemap":   "html-image-maps",
	"loading":  "html-loading-attribute",
	// Presentational attributes with a CSS counterpart.
	"bgcolor":    "css-background-color",
	"background": "html-background",
	"width":      "html-width",
	"height":     "html-height",
}

// imageSlugs: an <img> whose src ends in the extension.
var imageSlugs = map[string]string{
	".apng": "image-apng", ".avif": "image-avif", ".bmp": "image-bmp", ".gif": "image-gif",
	".hdr": "image-hdr", ".heif": "image-heif", ".heic": "image-heif", ".ico": "image-ico",
	".mp4": "image-mp4", ".svg": "image-svg", ".tif": "image-tiff", ".tiff": "image-tiff", ".webp": "image-webp",
}

// element counts what a start tag uses, its style attribute included.
func (c *counts) element(t html.Token) {
	name := t.Data
	for slug, names := range elementSlugs {
		for _, n := range names {
			if n == name {
				c.add(slug)
			}
		}
	}
	for _, a := range t.Attr {
		if slug, ok := attributeSlugs[a.Key]; ok {
			c.add(slug)
		}
	}
	typ := strings.ToLower(strings.TrimSpace(attr(t, "type")))
	switch name {
	case "input":
		switch typ {
		case "", "text":
			c.add("html-input-text")
		case "checkbox", "hidden", "radio", "reset", "submit":
			c.add("html-input-" + typ)
		}
	case "button":
		if typ == "reset" || typ == "submit" {
			c.add("html-button-" + typ)
		}
	case "a":
		if strings.HasPrefix(strings.TrimSpace(attr(t, "href")), "#") {
			c.add("html-anchor-links")
		}
	case "meta":
		if strings.EqualFold(attr(t, "name"), "color-scheme") {
			c.add("html-meta-color-scheme")
		}
	case "img":
		c.image(attr(t, "src"))
	}
	if hasAttr(t, "style") {
		readDeclarations(attr(t, "style"), c)
	}
}

// image counts an image format caniemail tests, by src.
func (c *counts) image(src string) {
	src = strings.TrimSpace(src)
	if len(src) > 11 && strings.EqualFold(src[:11], "data:image/") {
		c.add("image-base64")
		if strings.HasPrefix(strings.ToLower(src[11:]), "svg") {
			c.add("image-svg")
		}
		return
	}
	if u, err := url.Parse(src); err == nil {
		src = u.Path
	}
	if slug, ok := imageSlugs[strings.ToLower(path.Ext(src))]; ok {
		c.add(slug)
	}
}

// atRule implements sheetVisitor.
func (c *counts) atRule(name, prelude string) {
	name = stripVendor(name)
	switch name {
	case "font-face", "import", "keyframes", "supports":
		c.add("css-at-" + name)
	case "media":
		c.add("css-at-media")
		p := strings.ToLower(prelude)
		for _, feature := range []string{"prefers-color-scheme", "prefers-reduced-motion", "orientation", "hover"} {
			if strings.Contains(p, feature) {
				c.add("css-at-media-" + feature)
			}
		}
		if strings.Contains(p, "device-pixel-ratio") || strings.Contains(p, "resolution") {
			c.add("css-at-media-device-pixel-ratio")
		}
	}
}

// nested implements sheetVisitor.
func (c *counts) nested() { c.add("css-nesting") }

// pseudo matches a pseudo-class or pseudo-element name in a selector.
var pseudo = regexp.MustCompile(`(::?)(-[a-z]+-)?([a-z][a-z-]*)`)

// selector implements sheetVisitor: pseudo-classes and elements, and the
// combinators some clients lack.
func (c *counts) selector(prelude string) {
	s := strings.ToLower(prelude)
	// Leave out what is inside strings, [] and (), after noting them.
	var outer strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\'':
			end := strings.IndexByte(s[i+1:], ch)
			if end < 0 {
				i = len(s)
			} else {
				i += end + 1
			}
		case ch == '[':
			if depth == 0 {
				c.add("css-selector-attribute")
			}
			depth++
		case ch == '(':
			outer.WriteByte('(') // keep the pseudo-class before it readable
			depth++
		case (ch == ']' || ch == ')') && depth > 0:
			depth--
		case depth == 0:
			outer.WriteByte(ch)
		}
	}
	o := outer.String()
	for _, m := range pseudo.FindAllStringSubmatch(o, -1) {
		colons, name := m[1], m[3]
		switch {
		case colons == "::" || name == "before" || name == "after" || name == "first-letter" || name == "first-line":
			c.add("css-pseudo-element-" + name)
		default:
			c.add("css-pseudo-class-" + name)
		}
	}
	for ch, slug := range map[byte]string{'>': "css-selector-child", '+': "css-selector-adjacent-sibling", '~': "css-selector-general-sibling", '*': "css-selector-universal"} {
		if strings.IndexByte(o, ch) >= 0 {
			c.add(slug)
		}
	}
}

// valueSlugs: a function or keyword in a value.
var valueSlugs = []struct {
	re   *regexp.Regexp
	slug string
}{
	{regexp.MustCompile(`\brgb\(`), "css-rgb"},
	{regexp.MustCompile(`\brgba\(`), "css-rgba"},
	{regexp.MustCompile(`\b(color|lab|lch|oklab|oklch|hwb|color-mix)\(`), "css-modern-color"},
	{regexp.MustCompile(`\bcalc\(`), "css-unit-calc"},
	{regexp.MustCompile(`\bclamp\(`), "css-function-clamp"},
	{regexp.MustCompile(`\bmin\(`), "css-function-min"},
	{regexp.MustCompile(`\bmax\(`), "css-function-max"},
	{regexp.MustCompile(`\blight-dark\(`), "css-function-light-dark"},
	{regexp.MustCompile(`\b(repeating-)?linear-gradient\(`), "css-linear-gradient"},
	{regexp.MustCompile(`\b(repeating-)?radial-gradient\(`), "css-radial-gradient"},
	{regexp.MustCompile(`\b(repeating-)?conic-gradient\(`), "css-conic-gradient"},
	{regexp.MustCompile(`\bvar\(`), "css-variables"},
	{regexp.MustCompile(`\bsystem-ui\b`), "css-sytem-ui"}, // sic: caniemail's slug
	{regexp.MustCompile(`(^|\s)initial\b`), "css-unit-initial"},
}

// unit matches a number with a unit that not every client knows.
var unit = regexp.MustCompile(`(?:^|[^a-z0-9.#-])[0-9]*\.?[0-9]+(rem|ch|vh|vw|vmin|vmax|ex|cm|mm|in|pc)\b`)

// declaration implements sheetVisitor.
func (c *counts) declaration(d declaration) {
	if strings.HasPrefix(d.name, "--") {
		c.add("css-variables")
	} else {
		c.property(stripVendor(d.name), strings.ToLower(d.value))
	}
	if d.important {
		c.add("css-important")
	}
	v := strings.ToLower(d.value)
	for _, t := range valueSlugs {
		if t.re.MatchString(v) {
			c.add(t.slug)
		}
	}
	seen := map[string]bool{}
	for _, m := range unit.FindAllStringSubmatch(v, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			c.add("css-unit-" + m[1])
		}
	}
}

// propertyPrefixes map longhands to the feature caniemail files them
// under, longest prefix first.
var propertyPrefixes = []struct{ prefix, slug string }{
	{"border-inline", "css-border-inline-block"},
	{"border-block", "css-border-inline-block"},
	{"border-start-", "css-border-radius-logical"},
	{"border-end-", "css-border-radius-logical"},
	{"margin-inline-", "css-margin-inline-start-end"},
	{"margin-block-", "css-margin-block-start-end"},
	{"padding-inline-", "css-padding-inline-start-end"},
	{"padding-block-", "css-padding-block-start-end"},
	{"margin-inline", "css-margin-inline-block"},
	{"margin-block", "css-margin-inline-block"},
	{"padding-inline", "css-padding-inline-block"},
	{"padding-block", "css-padding-inline-block"},
	{"animation", "css-animation"},
	{"transition", "css-transition"},
	{"grid-template", "css-grid-template"},
	{"scroll-snap", "css-scroll-snap"},
	{"column-", "css-column-layout-properties"},
	{"columns", "css-column-layout-properties"},
	{"border-", "css-border"},
	{"margin-", "css-margin"},
	{"padding-", "css-padding"},
	{"list-style-", "css-list-style"},
}

// property counts a property by name, and display by value.
func (c *counts) property(name, value string) {
	switch name {
	case "top", "right", "bottom", "left":
		c.add("css-left-right-top-bottom")
		return
	case "display":
		c.add("css-display")
		switch strings.Fields(value + " x")[0] {
		case "flex", "inline-flex":
			c.add("css-display-flex")
		case "grid", "inline-grid":
			c.add("css-display-grid")
		case "none":
			c.add("css-display-none")
		}
		return
	case "border-top-left-radius", "border-top-right-radius", "border-bottom-left-radius", "border-bottom-right-radius":
		c.add("css-border-radius")
		return
	}
	if strings.HasPrefix(name, "border-") && strings.HasSuffix(name, "-radius") && name != "border-radius" {
		c.add("css-border-radius-logical")
		return
	}
	if c.add("css-" + name) {
		return
	}
	for _, p := range propertyPrefixes {
		if strings.HasPrefix(name, p.prefix) && c.add(p.slug) {
			return
		}
	}
}

// stripVendor drops a -webkit-, -moz-, -ms- or -o- prefix.
func stripVendor(name string) string {
	for _, p := range []string{"-webkit-", "-moz-", "-ms-", "-o-"} {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

// tests is how many caniemail features the check can report, plus the
// <script> test of its own.
func (db *database) tests() int {
	n := 1
	for _, f := range db.Features {
		if strings.HasPrefix(f.Slug, "css-") || db.htmlTested(f.Slug) {
			n++
		}
	}
	return n
}

// htmlTested reports whether an html- or image- slug is looked for.
func (db *database) htmlTested(slug string) bool {
	if _, ok := elementSlugs[slug]; ok {
		return true
	}
	for _, s := range attributeSlugs {
		if s == slug {
			return true
		}
	}
	for _, s := range imageSlugs {
		if s == slug {
			return true
		}
	}
	switch slug {
	case "html-input-text", "html-input-checkbox", "html-input-hidden", "html-input-radio", "html-input-reset",
		"html-input-submit", "html-button-reset", "html-button-submit", "html-anchor-links", "html-meta-color-scheme", "image-base64":
		return true
	}
	return false
}
