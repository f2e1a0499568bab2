package links

import (
	"reflect"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name       string
		html, text string
		want       []Link
	}{
		{"anchor text and the same URL in text",
			`<p>Hi,</p><p><a href="https://app.test/reset?t=abc&amp;u=1">Reset <b>your</b>
			password</a></p><a href="#top">top</a><a href="javascript:alert(1)">x</a>`,
			"Reset it at https://app.test/reset?t=abc&u=1.\nOr see (https://app.test/help).",
			[]Link{
				{URL: "https://app.test/reset?t=abc&u=1", Text: "Reset your password", Parts: []string{"html", "text"}},
				{URL: "https://app.test/help", Parts: []string{"text"}},
			}},
		{"image links, area, unclosed anchor, scripts ignored",
			`<a href="https://app.test/a"><img alt="Logo" src="cid:x"></a><map><area href="https://app.test/b" alt="B"></map>` +
				`<a href="mailto:help@app.test">mail <script>var x="<a href='https://evil.test'>"</script>us<a href="https://app.test/c">C`,
			"",
			[]Link{
				{URL: "https://app.test/a", Text: "Logo", Parts: []string{"html"}},
				{URL: "https://app.test/b", Text: "B", Parts: []string{"html"}},
				{URL: "mailto:help@app.test", Text: "mail us", Parts: []string{"html"}},
				{URL: "https://app.test/c", Text: "C", Parts: []string{"html"}},
			}},
		{"wiki-style parens kept, brackets closed", "", "See https://en.wikipedia.test/wiki/Go_(language) and [https://app.test/x] or <https://app.test/y>! Wrapped: <https://app.test/long\r\n/path>",
			[]Link{
				{URL: "https://en.wikipedia.test/wiki/Go_(language)", Parts: []string{"text"}},
				{URL: "https://app.test/x", Parts: []string{"text"}},
				{URL: "https://app.test/y", Parts: []string{"text"}},
				{URL: "https://app.test/long/path", Parts: []string{"text"}},
			}},
		{"none", "<p>no links</p>", "none here", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Find(tc.html, tc.text); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Find:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	many := strings.Repeat("https://app.test/x ", 2) + strings.Repeat("https://app.test/y?", MaxLinks)
	if n := len(Find("", many)); n > MaxLinks {
		t.Errorf("%d links, want at most %d", n, MaxLinks)
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		pattern                   string
		subject, text, html, want string // want: Code/Part pairs
	}{
		{"", "Your code is 483920", "Use 483920 to sign in. Order 12 of 2026.", "", "483920/subject 2026/text"},
		{`token=([A-Za-z0-9_-]{16,})`, "Confirm", "", `<a href="https://app.test/c?token=ZmFrZS10b2tlbi0xMjM0NQ">go</a><p>token=ZmFrZS10b2tlbi0xMjM0NQ</p>`, "ZmFrZS10b2tlbi0xMjM0NQ/html"},
		{`[A-Z]{3}-[0-9]{3}`, "", "", "<style>.x{}</style><p>Code: <b>ABC-123</b></p><script>XYZ-999</script>", "ABC-123/html"},
		{`nothing`, "a", "b", "c", ""},
	}
	for _, tc := range tests {
		re, err := Compile(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range Codes(re, tc.subject, tc.text, tc.html) {
			got = append(got, c.Code+"/"+c.Part)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("pattern %q: %v, want %s", tc.pattern, got, tc.want)
		}
	}
	for _, bad := range []string{"(unclosed", strings.Repeat("a", MaxPattern+1), `\p{Nope}`} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%.20q): no error", bad)
		}
	}
}
