package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Tags are labels on messages, with Mailpit's rules: a tag is up to 100
// characters of letters, digits, space, - _ . and @; other characters
// become spaces, runs of spaces one, and the ends are trimmed. Names are
// case-insensitive: the store keeps one spelling per tag, the first it was
// given, which every message with it shows. Like Read, a message's tags are
// written only under the store's lock and read anywhere: each message holds
// an immutable, sorted list that a change replaces whole. A message without
// tags holds nothing (a nil pointer), so capture of untagged mail pays
// nothing for them.

// MaxTagLength is the longest tag name, in bytes (they are ASCII).
const MaxTagLength = 100

// MaxTagsPerMessage bounds the tags one message keeps: X-Tags beyond it are
// dropped, and SetTags refuses more.
const MaxTagsPerMessage = 100

// Errors of the tag operations. A caller tells them apart with errors.Is.
var (
	ErrTagNotFound = errors.New("no such tag")
	ErrTagExists   = errors.New("a tag with that name exists")
	ErrTagInvalid  = errors.New("not a tag name: want letters, digits, spaces, - _ . or @")
	ErrTooManyTags = fmt.Errorf("more than %d tags for one message", MaxTagsPerMessage)
)

// CleanTag returns s as a tag name, as Mailpit normalises one: every
// character other than a-z A-Z 0-9 space - _ . @ becomes a space, spaces
// collapse to one, the ends are trimmed, and the result is cut at
// MaxTagLength bytes. "" means s has nothing of a tag in it.
func CleanTag(s string) string {
	var b strings.Builder
	space := false // a space is pending: written before the next kept character
	for _, r := range s {
		if r >= utf8.RuneSelf || !tagByte(byte(r)) || r == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			if b.Len()+1 >= MaxTagLength {
				break
			}
			b.WriteByte(' ')
			space = false
		}
		if b.Len() == MaxTagLength {
			break
		}
		b.WriteByte(byte(r))
	}
	return b.String()
}

// tagByte is whether Mailpit keeps c in a tag name.
func tagByte(c byte) bool { return alnumOr(c, "-_.@ ") }

// ParseTags reads a list of tags such as an X-Tags header value: comma-
// separated names, each cleaned (CleanTag), empty ones dropped, and
// duplicates (ignoring case) dropped after their first spelling. The
// result is sorted (compareTags) and holds the first MaxTagsPerMessage.
func ParseTags(list ...string) []string {
	out, _ := parseTags(list)
	return out
}

// parseTags is ParseTags, and whether there were more distinct tags than
// it kept. It stops at the first one too many: a hostile header costs one
// pass over it at most, and keeps a hundred names.
func parseTags(list []string) ([]string, bool) {
	var out []string
	var seen map[string]bool
	for _, v := range list {
		for part := range strings.SplitSeq(v, ",") {
			t := CleanTag(part)
			if t == "" {
				continue
			}
			k := tagKey(t)
			if seen[k] {
				continue
			}
			if len(out) == MaxTagsPerMessage {
				slices.SortFunc(out, compareTags)
				return out, true
			}
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[k] = true
			out = append(out, t)
		}
	}
	slices.SortFunc(out, compareTags)
	return out, false
}

// compareTags orders names as Mailpit lists them: ignoring case, and the
// same names in different case by their bytes.
func compareTags(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lowerByte(a[i]), lowerByte(b[i])
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// tagKey is the registry's key for a name: lowercased (names are ASCII).
func tagKey(name string) string { return strings.ToLower(name) }

// tagEntry is one tag the store knows: its spelling and how many messages
// carry it. A tag no message carries is forgotten.
type tagEntry struct {
	name string
	n    int
}

// Tags returns the message's tags, sorted; nil when it has none. The list
// is shared: do not modify it.
func (m *Message) Tags() []string {
	if p := m.tags.Load(); p != nil {
		return *p
	}
	return nil
}

// HasTag reports whether the message carries the tag, ignoring case.
func (m *Message) HasTag(name string) bool {
	for _, t := range m.Tags() {
		if strings.EqualFold(t, name) {
			return true
		}
	}
	return false
}

// tagLocked gives m the tags names (cleaned, deduplicated), spelt as the
// store knows them, and takes back the ones it had. It reports whether the
// list changed. s.mu is held.
func (s *Store) tagLocked(m *Message, names []string) bool {
	old := m.Tags()
	var list []string
	if len(names) > 0 {
		list = make([]string, 0, len(names))
	}
	// Count the new ones first, so a tag the message already has keeps its
	// spelling even if the message is its only holder.
	for _, n := range names {
		k := tagKey(n)
		e := s.tags[k]
		if e == nil {
			if s.tags == nil {
				s.tags = map[string]*tagEntry{}
			}
			e = &tagEntry{name: n} // CleanTag's own string: it aliases no message

			s.tags[k] = e
		}
		e.n++
		list = append(list, e.name)
	}
	s.untagLocked(old)
	slices.SortFunc(list, compareTags)
	if slices.Equal(old, list) {
		if old == nil {
			return false
		}
		list = old // unchanged: keep the list readers may hold
	}
	if len(list) == 0 {
		m.tags.Store(nil)
	} else {
		m.tags.Store(&list)
	}
	return !slices.Equal(old, list)
}

// untagLocked takes back one use of each tag in names. s.mu is held.
func (s *Store) untagLocked(names []string) {
	for _, n := range names {
		k := tagKey(n)
		if e := s.tags[k]; e != nil {
			if e.n--; e.n <= 0 {
				delete(s.tags, k)
			}
		}
	}
}

// SetTags replaces the tags of the messages with the given IDs (unknown
// IDs are ignored) with tags, cleaned and deduplicated as ParseTags does;
// no tags removes them all. It returns the IDs whose tags changed.
func (s *Store) SetTags(ids []string, tags []string) ([]string, error) {
	names, over := parseTags(tags)
	if over {
		return nil, fmt.Errorf("setting tags: %w", ErrTooManyTags)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []string
	var lists [][]string
	seen := map[string]bool{}
	for _, id := range ids {
		m := s.byID[id]
		if m == nil || seen[id] {
			continue
		}
		seen[id] = true
		if s.tagLocked(m, names) {
			changed = append(changed, id)
			lists = append(lists, nonNilTags(m.Tags()))
		}
	}
	if len(changed) > 0 {
		s.hub.publish(Event{Type: EventTags, IDs: changed, Tags: lists})
	}
	return changed, nil
}

func nonNilTags(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// TagNames returns every tag some message carries, sorted as Mailpit
// sorts them (ignoring case).
func (s *Store) TagNames() []string {
	s.mu.RLock()
	out := make([]string, 0, len(s.tags))
	for _, e := range s.tags {
		out = append(out, e.name)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, compareTags)
	return out
}

// TagCounts returns how many messages carry each tag.
func (s *Store) TagCounts() map[string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]int, len(s.tags))
	for _, e := range s.tags {
		out[e.name] = e.n
	}
	return out
}

// RenameTag renames the tag from (matched ignoring case) to the cleaned
// to, on every message that carries it. Renaming a tag to its own name in
// another case changes its spelling; to the name of another tag is
// ErrTagExists (Mailpit merges none). It returns the IDs of the messages
// changed.
func (s *Store) RenameTag(from, to string) ([]string, error) {
	to = CleanTag(to)
	if to == "" {
		return nil, fmt.Errorf("renaming tag %q: %w", from, ErrTagInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.tags[tagKey(CleanTag(from))]
	if e == nil {
		return nil, fmt.Errorf("renaming tag %q: %w", from, ErrTagNotFound)
	}
	if e.name == to {
		return nil, nil
	}
	if other := s.tags[tagKey(to)]; other != nil && other != e {
		return nil, fmt.Errorf("renaming tag %q to %q: %w", from, to, ErrTagExists)
	}
	old := e.name
	delete(s.tags, tagKey(old))
	e.name = to
	s.tags[tagKey(to)] = e
	return s.retagLocked(old, func(string) (string, bool) { return to, true }), nil
}

// DeleteTag removes the tag (matched ignoring case) from every message.
// It returns the IDs of the messages changed.
func (s *Store) DeleteTag(name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tagKey(CleanTag(name))
	e := s.tags[k]
	if e == nil {
		return nil, fmt.Errorf("deleting tag %q: %w", name, ErrTagNotFound)
	}
	delete(s.tags, k)
	return s.retagLocked(e.name, func(string) (string, bool) { return "", false }), nil
}

// retagLocked replaces or drops the tag old on every message carrying it:
// edit returns the new name, or false to drop it. The registry is the
// caller's to update. It publishes the change and returns the IDs
// changed. s.mu is held.
func (s *Store) retagLocked(old string, edit func(string) (string, bool)) []string {
	var changed []string
	var lists [][]string
	for _, m := range s.msgs {
		cur := m.Tags()
		i := slices.Index(cur, old) // messages hold the registry's spelling
		if i < 0 {
			continue
		}
		list := slices.Clone(cur)
		if n, keep := edit(old); keep {
			list[i] = n
			slices.SortFunc(list, compareTags)
		} else {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			m.tags.Store(nil)
		} else {
			m.tags.Store(&list)
		}
		changed = append(changed, m.ID)
		lists = append(lists, nonNilTags(list))
	}
	if len(changed) > 0 {
		s.hub.publish(Event{Type: EventTags, IDs: changed, Tags: lists})
	}
	return changed
}

// SetTagSources says where tags come from at capture, as Mailpit's
// --tags-disable does: an X-Tags header, and plus-addresses (the "tag" of
// user+tag@example.test in From, To, Cc and Bcc; user+a+b@ gives two).
// Both are on in a new store.
func (s *Store) SetTagSources(xTags, plusAddresses bool) {
	s.noXTags.Store(!xTags)
	s.noPlusTags.Store(!plusAddresses)
}

// plusTags is the tags of the message's plus-addresses, comma-separated
// for ParseTags; "" for none, the usual case, which allocates nothing.
func (m *Message) plusTags() string {
	var out []string
	add := func(addr string) {
		at := strings.LastIndexByte(addr, '@')
		if at < 0 {
			return
		}
		local := addr[:at]
		if i := strings.IndexByte(local, '+'); i >= 0 {
			out = append(out, strings.ReplaceAll(local[i+1:], "+", ","))
		}
	}
	if m.Header.From != nil {
		add(m.Header.From.Address)
	}
	for _, list := range [][]Address{m.Header.To, m.Header.Cc, m.Header.Bcc} {
		for _, a := range list {
			add(a.Address)
		}
	}
	return strings.Join(out, ",")
}
