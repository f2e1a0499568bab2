package storage

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCleanTag(t *testing.T) {
	long := strings.Repeat("a", 150)
	tests := []struct{ in, want string }{
		{"alpha", "alpha"},
		{"  Alpha  ", "Alpha"},
		{"two   words", "two words"},
		{"a\tb\nc", "a b c"},
		{"user@example.test", "user@example.test"},
		{"v1.2_rc-3", "v1.2_rc-3"},
		{"foo/bar#baz", "foo bar baz"},
		{"café", "caf"},
		{"日本", ""},
		{"!!!", ""},
		{"", ""},
		{"a\xffb", "a b"},
		{long, long[:MaxTagLength]},
		{strings.Repeat("a", 99) + " b", strings.Repeat("a", 99)}, // no trailing space at the cut
		{strings.Repeat("a", 98) + " b", strings.Repeat("a", 98) + " b"},
	}
	for _, tt := range tests {
		if got := CleanTag(tt.in); got != tt.want {
			t.Errorf("CleanTag(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// X-Tags at capture: Mailpit's rules, one spelling per tag across messages.
func TestXTagsAtCapture(t *testing.T) {
	var many []string
	for i := range 150 {
		many = append(many, fmt.Sprintf("t%03d", i))
	}
	tests := []struct {
		name, header string // header: the X-Tags line(s), "" for none
		want         []string
	}{
		{"none", "", nil},
		{"one", "X-Tags: alpha\r\n", []string{"alpha"}},
		{"comma list, trimmed, sorted ignoring case", "X-Tags:  beta , Alpha,gamma \r\n", []string{"Alpha", "beta", "gamma"}},
		{"duplicates in any case", "X-Tags: beta, BETA, Beta\r\n", []string{"beta"}},
		{"empty entries", "X-Tags: , ,a,,\r\n", []string{"a"}},
		{"only junk", "X-Tags: ###, ***\r\n", nil},
		{"blank", "X-Tags:   \r\n", nil},
		{"cleaned", "X-Tags: foo/bar, two  words\r\n", []string{"foo bar", "two words"}},
		{"header name in any case", "x-tags: lower\r\n", []string{"lower"}},
		{"folded", "X-Tags: one,\r\n two\r\n", []string{"one", "two"}},
		{"the first header only", "X-Tags: first\r\nX-Tags: second\r\n", []string{"first"}},
		{"RFC 2047", "X-Tags: =?UTF-8?Q?caf=C3=A9_menu?=, ok\r\n", []string{"caf menu", "ok"}},
		{"capped", "X-Tags: " + strings.Join(many, ",") + "\r\n", many[:MaxTagsPerMessage]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Limits{})
			m, err := s.Add([]byte("From: a@example.test\r\n"+tt.header+"Subject: x\r\n\r\nbody\r\n"), Envelope{}, Delivery{})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Tags(); !slices.Equal(got, tt.want) {
				t.Fatalf("tags %q, want %q", got, tt.want)
			}
			if tt.want == nil && m.tags.Load() != nil {
				t.Fatal("an untagged message holds a tag list")
			}
			if got := m.Summary().Tags; got == nil || !slices.Equal(got, tt.want) && len(tt.want) > 0 {
				t.Fatalf("summary tags %#v", got)
			}
			if got := s.TagNames(); len(got) != len(tt.want) {
				t.Fatalf("store knows %q", got)
			}
		})
	}
}

func tagMsg(t *testing.T, s *Store, subject, xTags string) *Message {
	t.Helper()
	h := ""
	if xTags != "" {
		h = "X-Tags: " + xTags + "\r\n"
	}
	m, err := s.Add([]byte("From: a@example.test\r\nSubject: "+subject+"\r\n"+h+"\r\nbody\r\n"), Envelope{}, Delivery{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTagSpellingIsTheFirstOne(t *testing.T) {
	s := New(Limits{})
	a := tagMsg(t, s, "a", "Alpha")
	b := tagMsg(t, s, "b", "ALPHA, beta")
	if got := b.Tags(); !slices.Equal(got, []string{"Alpha", "beta"}) {
		t.Fatalf("second message's tags %q, want the first spelling", got)
	}
	if got := s.TagCounts(); !maps.Equal(got, map[string]int{"Alpha": 2, "beta": 1}) {
		t.Fatalf("counts %v", got)
	}
	// Re-setting a tag in another case on its only holder keeps its spelling.
	s.Delete(b.ID)
	if _, err := s.SetTags([]string{a.ID}, []string{"alpha"}); err != nil {
		t.Fatal(err)
	}
	if got := a.Tags(); !slices.Equal(got, []string{"Alpha"}) {
		t.Fatalf("tags %q after setting alpha on Alpha's only holder", got)
	}
}

// nextTags waits for the next EventTags and returns its IDs and lists.
func nextTags(t *testing.T, sub *Subscription) map[string][]string {
	t.Helper()
	for {
		select {
		case e := <-sub.C:
			if e.Type != EventTags {
				continue
			}
			out := map[string][]string{}
			for i, id := range e.IDs {
				out[id] = e.Tags[i]
			}
			return out
		case <-time.After(5 * time.Second):
			t.Fatal("no tags event")
		}
	}
}

func TestSetRenameDeleteTags(t *testing.T) {
	s := New(Limits{})
	a := tagMsg(t, s, "a", "red")
	b := tagMsg(t, s, "b", "red, blue")
	c := tagMsg(t, s, "c", "")
	sub := s.Subscribe(64)
	defer sub.Close()
	counts := func(want map[string]int) {
		t.Helper()
		if got := s.TagCounts(); !maps.Equal(got, want) {
			t.Fatalf("counts %v, want %v", got, want)
		}
	}

	steps := []struct {
		name    string
		do      func() ([]string, error)
		err     error
		changed map[string][]string // the event's lists by ID; nil: no event
		counts  map[string]int
		names   []string // TagNames after
	}{
		{"set replaces", func() ([]string, error) {
			return s.SetTags([]string{a.ID, c.ID, "unknown"}, []string{"green", " Blue "})
		},
			nil, map[string][]string{a.ID: {"blue", "green"}, c.ID: {"blue", "green"}},
			map[string]int{"red": 1, "blue": 3, "green": 2}, []string{"blue", "green", "red"}},
		{"set the same again: nothing changes", func() ([]string, error) { return s.SetTags([]string{a.ID}, []string{"GREEN", "blue"}) },
			nil, nil, map[string]int{"red": 1, "blue": 3, "green": 2}, []string{"blue", "green", "red"}},
		{"rename", func() ([]string, error) { return s.RenameTag("BLUE", "Sky blue") },
			nil, map[string][]string{a.ID: {"green", "Sky blue"}, b.ID: {"red", "Sky blue"}, c.ID: {"green", "Sky blue"}},
			map[string]int{"red": 1, "Sky blue": 3, "green": 2}, []string{"green", "red", "Sky blue"}},
		{"rename to another case", func() ([]string, error) { return s.RenameTag("sky blue", "sky blue") },
			nil, map[string][]string{a.ID: {"green", "sky blue"}, b.ID: {"red", "sky blue"}, c.ID: {"green", "sky blue"}},
			map[string]int{"red": 1, "sky blue": 3, "green": 2}, []string{"green", "red", "sky blue"}},
		{"rename onto another tag", func() ([]string, error) { return s.RenameTag("red", "Green") },
			ErrTagExists, nil, map[string]int{"red": 1, "sky blue": 3, "green": 2}, nil},
		{"rename to nothing", func() ([]string, error) { return s.RenameTag("red", "###") },
			ErrTagInvalid, nil, map[string]int{"red": 1, "sky blue": 3, "green": 2}, nil},
		{"rename an unknown tag", func() ([]string, error) { return s.RenameTag("purple", "violet") },
			ErrTagNotFound, nil, map[string]int{"red": 1, "sky blue": 3, "green": 2}, nil},
		{"delete", func() ([]string, error) { return s.DeleteTag("GREEN") },
			nil, map[string][]string{a.ID: {"sky blue"}, c.ID: {"sky blue"}},
			map[string]int{"red": 1, "sky blue": 3}, []string{"red", "sky blue"}},
		{"delete an unknown tag", func() ([]string, error) { return s.DeleteTag("green") },
			ErrTagNotFound, nil, map[string]int{"red": 1, "sky blue": 3}, nil},
		{"empty set removes", func() ([]string, error) { return s.SetTags([]string{b.ID}, nil) },
			nil, map[string][]string{b.ID: {}}, map[string]int{"sky blue": 2}, []string{"sky blue"}},
	}
	for _, st := range steps {
		changed, err := st.do()
		if !errors.Is(err, st.err) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.err)
		}
		if len(changed) != len(st.changed) {
			t.Fatalf("%s: changed %v, want %d", st.name, changed, len(st.changed))
		}
		if st.changed != nil {
			if got := nextTags(t, sub); !maps.EqualFunc(got, st.changed, slices.Equal) {
				t.Fatalf("%s: event %v, want %v", st.name, got, st.changed)
			}
		}
		counts(st.counts)
		if st.names != nil {
			if got := s.TagNames(); !slices.Equal(got, st.names) {
				t.Fatalf("%s: names %q, want %q", st.name, got, st.names)
			}
		}
	}
	if b.tags.Load() != nil {
		t.Fatal("a message whose tags were removed still holds a list")
	}
	if _, err := s.SetTags([]string{a.ID}, ParseTags(strings.Repeat("x,", 10)+"y")); err != nil {
		t.Fatal(err)
	}
	var many []string
	for i := range MaxTagsPerMessage + 1 {
		many = append(many, fmt.Sprint("t", i))
	}
	if _, err := s.SetTags([]string{a.ID}, many); !errors.Is(err, ErrTooManyTags) {
		t.Fatalf("%d tags: %v", len(many), err)
	}

	// Deleting and evicting give their tags back; emptying forgets them all.
	s.Delete(a.ID)
	counts(map[string]int{"sky blue": 1})
	s.DeleteMatching(nil)
	counts(map[string]int{})
	ev := New(Limits{MaxMessages: 1})
	tagMsg(t, ev, "old", "gone")
	tagMsg(t, ev, "new", "kept")
	if got := ev.TagNames(); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("after eviction the store knows %q", got)
	}
}

func TestSearchTags(t *testing.T) {
	s := New(Limits{})
	tagMsg(t, s, "plain", "")
	tagMsg(t, s, "one", "Alpha")
	tagMsg(t, s, "two", "alphabet, two words")
	tests := []struct{ q, want string }{
		{"tag:alpha", "one"},
		{"tag:ALPHA", "one"},
		{"tag:alph", ""}, // whole names only
		{"tag:alphabet", "two"},
		{`tag:"two words"`, "two"},
		{`tag:"two   words"`, "two"},
		{"tag:two", ""},
		{"-tag:alpha", "two,plain"},
		{"is:tagged", "two,one"},
		{"-is:tagged", "plain"},
		{"!is:tagged", "plain"},
		{"is:tagged tag:alpha", "one"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			f, err := ParseQuery(tt.q, time.Now(), time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(s.List(f, 0, 0)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Untagged mail pays nothing for tags at capture: adding a message costs
// the same allocations as the same message with an X-Tagz header instead.
func TestCaptureWithoutTagsAllocatesNothingMore(t *testing.T) {
	env := Envelope{From: "app@example.test", To: []string{"user@example.test"}}
	allocs := func(hdr string) float64 {
		s := New(Limits{}) // each its own: evictions and growth alike
		raw := []byte("From: App <app@example.test>\r\nTo: user@example.test\r\n" + hdr + "Subject: Hello\r\n\r\nbody\r\n")
		return testing.AllocsPerRun(1000, func() {
			if _, err := s.Add(raw, env, Delivery{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	untagged, control, tagged := allocs(""), allocs("X-Tagz: alpha, beta\r\n"), allocs("X-Tags: alpha, beta\r\n")
	if untagged != control {
		t.Errorf("untagged capture: %v allocations, %v with an unrelated header of the same kind", untagged, control)
	}
	if tagged <= control {
		t.Errorf("tagged capture: %v allocations, no more than untagged (%v): is the header read at all?", tagged, control)
	}
	t.Logf("allocations per capture: %v untagged, %v with X-Tags", untagged, tagged)
}

// Readers see whole lists while tags change under them (go test -race).
func TestTagsReadWhileChanging(t *testing.T) {
	s := New(Limits{})
	var ids []string
	for i := range 20 {
		ids = append(ids, tagMsg(t, s, fmt.Sprint(i), "a, b").ID)
	}
	f, err := ParseQuery("tag:a", time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, m := range s.List(f, 0, 0).Messages {
					if tags := m.Summary().Tags; !slices.IsSortedFunc(tags, compareTags) {
						t.Errorf("unsorted %q", tags)
					}
				}
				s.TagCounts()
			}
		}()
	}
	for i := range 200 {
		switch i % 3 {
		case 0:
			s.SetTags(ids, []string{"a", "b", fmt.Sprint("c", i)})
		case 1:
			s.RenameTag("b", "B2")
		case 2:
			s.RenameTag("b2", "b")
			s.DeleteTag(fmt.Sprint("c", i-2))
		}
	}
	close(stop)
	wg.Wait()
}

// Plus-addresses are tags, as in Mailpit: user+tag@ in From, To, Cc and
// Bcc (user+a+b@ gives two), beside X-Tags; each source can be turned off.
func TestPlusAddressTags(t *testing.T) {
	raw := []byte("From: App <app+billing@x.test>\r\nTo: alice+t1@example.test, bob@example.test\r\nCc: \"C\" <carol+Team+Urgent@example.test>\r\nX-Tags: manual\r\nSubject: s\r\n\r\nbody\r\n")
	for _, tc := range []struct {
		xTags, plus bool
		want        string
	}{
		{true, true, "billing manual t1 Team Urgent"},
		{true, false, "manual"},
		{false, true, "billing t1 Team Urgent"},
		{false, false, ""},
	} {
		s := New(Limits{})
		s.SetTagSources(tc.xTags, tc.plus)
		m, err := s.Add(raw, Envelope{From: "app@x.test", To: []string{"alice+t1@example.test"}}, Delivery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(m.Tags(), " "); got != tc.want {
			t.Errorf("X-Tags %v, plus %v: tags %q, want %q", tc.xTags, tc.plus, got, tc.want)
		}
	}
}
