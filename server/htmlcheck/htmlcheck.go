// Package htmlcheck owns the HTML check served at
// /api/v1/message/{ID}/html-check: which of a message's HTML elements,
// attributes, CSS properties, values, at-rules and selectors mail
// clients do not (or only partly) support, scored against caniemail's
// data (caniemail.json, generated from the npm package caniemail by
// gen/caniemail.mjs and embedded), in Mailpit's answer shape.
//
// The HTML is read with golang.org/x/net/html's tokenizer: start tags and
// their attributes, style attributes, and the text of <style> elements,
// whose CSS a small scanner of this package outlines (css.go). Unlike
// Mailpit it fetches nothing: a linked style sheet counts as a <link>,
// its rules are not downloaded. And it does not match selectors to
// elements: a property in a style sheet counts once per declaration, one
// in a style attribute once per element.
//
// It imports nothing of mailsink.
package htmlcheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// Response is Mailpit's HTMLCheckResponse.
type Response struct {
	Warnings  []Warning           // what the message uses that some clients lack, worst first
	Platforms map[string][]string // platform -> client families tested there, as Mailpit lists them
	Total     Total
}

// Warning is one feature the message uses, with every client's support.
type Warning struct {
	Slug          string
	Title         string
	Description   string // HTML
	URL           string // the feature's caniemail.com page
	Category      string // css, html, image or others
	Tags          []string
	Keywords      string
	Results       []Result
	NotesByNumber map[string]string // note number -> HTML
	Score         Score
}

// Result is one client version's support of a feature.
type Result struct {
	Name       string // "Apple Mail macOS (16.0)"
	Platform   string // macos, ios, desktop-webmail...
	Family     string // apple-mail, gmail, outlook...
	Version    string
	Support    string // yes, partial or no
	NoteNumber string // the first note that applies, a key of NotesByNumber; "" for none
}

// Score is a feature's share of client versions by support, in percent.
type Score struct {
	Found       int // times the message uses the feature
	Supported   float32
	Partial     float32
	Unsupported float32
}

// Total is the message's score: Supported is 100 less the worst Partial
// and the worst Unsupported share of any warning, each weighted by how
// much of the message uses it (Found / Nodes), as Mailpit computes it.
type Total struct {
	Nodes       int // HTML elements in the message (html, head and meta aside)
	Tests       int // features looked for
	Supported   float32
	Partial     float32
	Unsupported float32
}

// Checker scores HTML. Its data is read on first use; it is safe for
// concurrent use.
type Checker struct {
	once sync.Once
	db   *database
	err  error
}

// New returns a Checker over the embedded caniemail data.
func New() *Checker { return &Checker{} }

func (c *Checker) load() (*database, error) {
	c.once.Do(func() { c.db, c.err = loadDatabase() })
	return c.db, c.err
}

// Source says which caniemail data the checker scores against.
func (c *Checker) Source() (string, error) {
	db, err := c.load()
	if err != nil {
		return "", err
	}
	return db.Source, nil
}

// Check scores doc, a message's HTML body.
func (c *Checker) Check(doc string) (Response, error) {
	db, err := c.load()
	if err != nil {
		return Response{}, err
	}
	found := &counts{db: db, n: map[string]int{}}
	nodes, scripts := found.scan(doc)

	out := Response{Warnings: []Warning{}, Platforms: db.platforms, Total: Total{Nodes: nodes, Tests: db.tests()}}
	if scripts > 0 {
		out.Warnings = append(out.Warnings, Warning{
			Slug: "html-script", Title: "<script> element", Category: "html",
			Description: "JavaScript is not supported in any email client.",
			Tags:        []string{}, Results: []Result{}, NotesByNumber: map[string]string{},
			Score: Score{Found: scripts, Unsupported: 100},
		})
	}
	for slug, n := range found.n {
		out.Warnings = append(out.Warnings, db.warning(db.bySlug[slug], n))
	}
	weight := func(w Warning, share float32) float32 {
		if nodes == 0 {
			return 0
		}
		return min(share*float32(w.Score.Found)/float32(nodes), 100)
	}
	for _, w := range out.Warnings {
		out.Total.Partial = max(out.Total.Partial, weight(w, w.Score.Partial))
		out.Total.Unsupported = max(out.Total.Unsupported, weight(w, w.Score.Unsupported))
	}
	if sum := out.Total.Partial + out.Total.Unsupported; sum > 100 {
		out.Total.Partial *= 100 / sum
		out.Total.Unsupported *= 100 / sum
	}
	out.Total.Supported = max(100-out.Total.Partial-out.Total.Unsupported, 0)
	sort.Slice(out.Warnings, func(i, j int) bool {
		a, b := out.Warnings[i], out.Warnings[j]
		wa, wb := weight(a, a.Score.Partial+a.Score.Unsupported), weight(b, b.Score.Partial+b.Score.Unsupported)
		if wa != wb {
			return wa > wb
		}
		return a.Slug < b.Slug
	})
	return out, nil
}

// warning is the answer for feature f found n times.
func (db *database) warning(f *feature, n int) Warning {
	w := Warning{
		Slug: f.Slug, Title: f.Title, Description: f.Description, URL: f.URL, Category: f.Category,
		Tags: f.Tags, Keywords: f.Keywords, NotesByNumber: f.Notes, Results: []Result{},
	}
	if w.Tags == nil {
		w.Tags = []string{}
	}
	if w.NotesByNumber == nil {
		w.NotesByNumber = map[string]string{}
	}
	var yes, partial, no int
	for _, family := range sortedKeys(f.Stats) {
		for _, platform := range sortedKeys(f.Stats[family]) {
			versions := f.Stats[family][platform]
			for _, version := range sortedKeys(versions) {
				r := Result{
					Name:     fmt.Sprintf("%s %s (%s)", db.name(family), db.platformName(platform), version),
					Platform: platform, Family: family, Version: version,
				}
				letter, notes, _ := strings.Cut(strings.TrimSpace(versions[version]), " ")
				switch letter {
				case "y":
					r.Support = "yes"
					yes++
				case "a":
					r.Support = "partial"
					partial++
				case "n":
					r.Support = "no"
					no++
				default: // u: not known, so neither for nor against
					continue
				}
				if m := noteRef.FindStringSubmatch(notes); m != nil {
					r.NoteNumber = m[1]
				}
				w.Results = append(w.Results, r)
			}
		}
	}
	w.Score.Found = n
	if total := float32(yes + partial + no); total > 0 {
		w.Score.Supported = float32(yes) / total * 100
		w.Score.Partial = float32(partial) / total * 100
		w.Score.Unsupported = float32(no) / total * 100
	}
	return w
}

var noteRef = regexp.MustCompile(`#(\d+)`)

func (db *database) platformName(p string) string {
	if n, ok := db.Platforms[p]; ok {
		return n
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// counts collects how often each caniemail feature occurs in a document.
type counts struct {
	db *database
	n  map[string]int
}

// add counts slug once, if caniemail knows it.
func (c *counts) add(slug string) bool {
	if _, ok := c.db.bySlug[slug]; !ok {
		return false
	}
	c.n[slug]++
	return true
}

// scan reads doc and counts what it uses. It returns the number of
// elements and of <script> elements that hold script (JSON data aside).
func (c *counts) scan(doc string) (nodes, scripts int) {
	z := html.NewTokenizer(strings.NewReader(doc))
	inStyle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return nodes, scripts
		case html.TextToken:
			if inStyle {
				readSheet(string(z.Text()), c)
			}
		case html.EndTagToken:
			inStyle = false
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			name := t.Data
			inStyle = name == "style" && tt == html.StartTagToken
			if name != "html" && name != "head" && name != "meta" {
				nodes++
			}
			if name == "script" {
				if typ := strings.ToLower(strings.TrimSpace(attr(t, "type"))); typ != "application/ld+json" && typ != "application/json" {
					scripts++
				}
			}
			c.element(t)
		}
	}
}

func attr(t html.Token, key string) string {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(t html.Token, key string) bool {
	for _, a := range t.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
