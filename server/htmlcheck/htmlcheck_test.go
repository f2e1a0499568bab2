package htmlcheck

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// found is what Check reports: slug -> Found.
func found(t *testing.T, c *Checker, doc string) map[string]int {
	t.Helper()
	res, err := c.Check(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, w := range res.Warnings {
		out[w.Slug] = w.Score.Found
	}
	return out
}

func TestCheckFinds(t *testing.T) {
	c := New()
	tests := []struct {
		name string
		doc  string
		want map[string]int // each must be found this often
		not  []string       // and these not at all
	}{
		{name: "elements",
			doc:  `<body><form><input name=q><input type=checkbox><button type=submit>go</button></form><svg></svg><video></video><hr><section></section><nav></nav></body>`,
			want: map[string]int{"html-body": 1, "html-form": 1, "html-input-text": 1, "html-input-checkbox": 1, "html-button-submit": 1, "html-svg": 1, "html-video": 1, "html-hr": 1, "html-semantics": 2}},
		{name: "script, but not JSON data",
			doc:  `<p>x</p><script>alert(1)</script><script type="application/ld+json">{}</script>`,
			want: map[string]int{"html-script": 1}},
		{name: "attributes",
			doc:  `<img srcset="a.png 2x" src="a.png" loading="lazy"><table bgcolor="#fff" width="600"><tr><td background="x.png" height="10"></td></tr></table><a href="#top">top</a><a href="https://x.test/#y">no</a>`,
			want: map[string]int{"html-srcset": 1, "html-loading-attribute": 1, "css-background-color": 1, "html-width": 1, "html-background": 1, "html-height": 1, "html-anchor-links": 1}},
		{name: "image formats",
			doc:  `<img src="https://x.test/a.webp?v=2"><img src="B.SVG"><img src="data:image/png;base64,AAAA"><img src="c.png"><img src="d.gif#f">`,
			want: map[string]int{"image-webp": 1, "image-svg": 1, "image-base64": 1, "image-gif": 1}},
		{name: "inline styles",
			doc: `<div style="display:flex; margin-top: 1rem; background-image:linear-gradient(red, blue) !important; border-radius:4px; color: rgba(0,0,0,.5)">x</div><p style="DISPLAY: NONE">y</p>`,
			want: map[string]int{"css-display": 2, "css-display-flex": 1, "css-display-none": 1, "css-margin": 1, "css-unit-rem": 1, "css-background-image": 1,
				"css-linear-gradient": 1, "css-important": 1, "css-border-radius": 1, "css-rgba": 1},
			not: []string{"css-rgb", "css-display-grid", "css-unit-px"}},
		{name: "style sheet",
			doc: `<style>
/* a comment with { braces } and @media */
@import url("x.css");
@font-face { font-family: "X"; src: url(x.woff2) }
@media (prefers-color-scheme: dark) { .a:hover, .b::before { color: #fff; } }
@media screen and (max-width: 600px) { .c > .d { width: 100% !important } }
@supports (display: grid) { .e { display: grid } }
@keyframes spin { from { transform: rotate(0) } to { transform: rotate(360deg) } }
a[href^="http:"] { color: red } /* the colon in the string is no pseudo-class */
li:nth-child(2n+1) ~ li { --gap: 2px; gap: var(--gap) }
.f { &:focus { outline: 0 } }
</style><p>x</p>`,
			want: map[string]int{"css-at-import": 1, "css-at-font-face": 1, "css-at-media": 2, "css-at-media-prefers-color-scheme": 1, "css-at-supports": 1,
				"css-at-keyframes": 1, "css-pseudo-class-hover": 1, "css-pseudo-element-before": 1, "css-selector-child": 1, "css-width": 1,
				"css-important": 1, "css-display-grid": 1, "css-transform": 2, "css-selector-attribute": 1, "css-pseudo-class-nth-child": 1,
				"css-selector-general-sibling": 1, "css-variables": 2, "css-gap": 1, "css-nesting": 1, "css-pseudo-class-focus": 1, "html-style": 1},
			not: []string{"css-pseudo-class-http", "css-selector-adjacent-sibling", "css-at-media-hover"}},
		{name: "vendor prefixes and logical properties",
			doc:  `<div style="-webkit-border-radius: 3px; margin-inline-start: 4px; padding-block: 1ch; border-inline: 1px solid; border-start-start-radius: 2px; top: 0">x</div>`,
			want: map[string]int{"css-border-radius": 1, "css-margin-inline-start-end": 1, "css-padding-inline-block": 1, "css-unit-ch": 1, "css-border-inline-block": 1, "css-border-radius-logical": 1, "css-left-right-top-bottom": 1}},
		{name: "nothing to say",
			doc:  `<p>Hello <b>world</b></p>`,
			want: map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := found(t, c, tt.doc)
			for slug, n := range tt.want {
				if got[slug] != n {
					t.Errorf("%s found %d times, want %d", slug, got[slug], n)
				}
			}
			for _, slug := range tt.not {
				if _, ok := got[slug]; ok {
					t.Errorf("%s found, want not", slug)
				}
			}
			if len(tt.want) == 0 && len(got) != 0 {
				t.Errorf("found %v, want nothing", got)
			}
		})
	}
}

// Every slug a rule names is one caniemail knows, so no rule is dead.
func TestRulesNameKnownFeatures(t *testing.T) {
	db, err := loadDatabase()
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for s := range elementSlugs {
		slugs = append(slugs, s)
	}
	for _, s := range attributeSlugs {
		slugs = append(slugs, s)
	}
	for _, s := range imageSlugs {
		slugs = append(slugs, s)
	}
	for _, v := range valueSlugs {
		slugs = append(slugs, v.slug)
	}
	for _, p := range propertyPrefixes {
		slugs = append(slugs, p.slug)
	}
	for _, s := range slugs {
		if db.bySlug[s] == nil {
			t.Errorf("rule names %s, which caniemail.json lacks", s)
		}
	}
	if len(db.Features) < 300 || db.platforms["ios"] == nil || !strings.HasPrefix(db.Source, "caniemail ") {
		t.Errorf("embedded data: %d features, source %q, platforms %v", len(db.Features), db.Source, db.platforms)
	}
}

// The answer has Mailpit's shape, scores add up, and results are sorted.
func TestCheckAnswer(t *testing.T) {
	res, err := New().Check(`<html><head><style>.a{display:flex}</style></head><body><div class="a" style="display:grid">x</div><script>x()</script></body></html>`)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Platforms map[string][]string
		Total     map[string]any
		Warnings  []map[string]any
	}
	if err := json.Unmarshal(data, &shape); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Nodes", "Partial", "Supported", "Tests", "Unsupported"} {
		if _, ok := shape.Total[k]; !ok {
			t.Errorf("Total lacks %s", k)
		}
	}
	for _, w := range shape.Warnings {
		for _, k := range []string{"Slug", "Title", "Description", "URL", "Category", "Tags", "Keywords", "NotesByNumber", "Results", "Score"} {
			if _, ok := w[k]; !ok {
				t.Errorf("warning %v lacks %s", w["Slug"], k)
			}
		}
	}
	if res.Total.Nodes != 5 { // style, body, div, script... and title-less head aside
		t.Logf("nodes %d", res.Total.Nodes)
	}
	if res.Warnings[0].Slug != "html-script" {
		t.Errorf("worst first: got %s first, want html-script", res.Warnings[0].Slug)
	}
	sum := res.Total.Supported + res.Total.Partial + res.Total.Unsupported
	if sum < 99.9 || sum > 100.1 || res.Total.Unsupported < 20 {
		t.Errorf("Total %+v", res.Total)
	}
	for _, w := range res.Warnings {
		s := w.Score
		if w.Slug != "html-script" && (len(w.Results) == 0 || s.Supported+s.Partial+s.Unsupported < 99.9) {
			t.Errorf("%s: score %+v over %d results", w.Slug, s, len(w.Results))
		}
		if !slices.IsSortedFunc(w.Results, func(a, b Result) int {
			return strings.Compare(a.Family+"\x00"+a.Platform+"\x00"+a.Version, b.Family+"\x00"+b.Platform+"\x00"+b.Version)
		}) {
			t.Errorf("%s: results not sorted", w.Slug)
		}
		for _, r := range w.Results {
			if r.NoteNumber != "" && w.NotesByNumber[r.NoteNumber] == "" {
				t.Errorf("%s: %s refers to note %s, which it lacks", w.Slug, r.Name, r.NoteNumber)
			}
			if r.Support != "yes" && r.Support != "no" && r.Support != "partial" {
				t.Errorf("%s: %s support %q", w.Slug, r.Name, r.Support)
			}
		}
	}
}

// The corpus's HTML bodies, scored: slugs, counts and scores per message,
// in testdata/corpus.golden (go test -update rewrites it).
func TestCheckCorpusGolden(t *testing.T) {
	files, err := filepath.Glob("../../testdata/mail/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	c := New()
	var b strings.Builder
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		env, err := enmime.ReadEnvelope(r)
		r.Close()
		if err != nil || env.HTML == "" {
			continue
		}
		res, err := c.Check(env.HTML)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: nodes %d, supported %.2f, partial %.2f, unsupported %.2f\n", filepath.Base(f), res.Total.Nodes, res.Total.Supported, res.Total.Partial, res.Total.Unsupported)
		for _, w := range res.Warnings {
			fmt.Fprintf(&b, "  %-36s found %2d  yes %6.2f  partial %6.2f  no %6.2f  results %d\n", w.Slug, w.Score.Found, w.Score.Supported, w.Score.Partial, w.Score.Unsupported, len(w.Results))
		}
	}
	golden := filepath.Join("testdata", "corpus.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != b.String() {
		t.Errorf("html-check of the corpus differs from %s (go test -update rewrites it):\n%s", golden, b.String())
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(`<style>@media (x){a{b:c}}</style><p style="d:e">`)
	f.Add(`<style>a{{{{{{{{}`)
	f.Add(`<style>"unclosed</style>`)
	f.Add(`<style>` + strings.Repeat("@media x{", 100) + `</style>`)
	c := New()
	f.Fuzz(func(t *testing.T, doc string) {
		res, err := c.Check(doc)
		if err != nil {
			t.Fatal(err)
		}
		if s := res.Total.Supported; s < 0 || s > 100 {
			t.Fatalf("Supported %v", s)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/mail/19-hostile-html.eml")
	if err != nil {
		b.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(strings.NewReader(string(raw)))
	if err != nil {
		b.Fatal(err)
	}
	c := New()
	if _, err := c.Check(env.HTML); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Check(env.HTML); err != nil {
			b.Fatal(err)
		}
	}
}
