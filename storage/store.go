package storage

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what the store keeps. When a new message would exceed either
// limit, the oldest messages are evicted first. Zero means unlimited.
type Limits struct {
	MaxMessages int
	MaxBytes    int64
}

// Stats are the store's counters.
type Stats struct {
	Total         int    // messages held
	Unread        int    // messages held and not marked read
	Bytes         int64  // bytes held: raw messages, envelopes and per-message records
	Accepted      uint64 // messages ever added
	AcceptedBytes int64  // raw bytes ever added
	Deleted       uint64 // messages removed by a delete call
	Evicted       uint64 // messages removed to respect Limits
	Rejected      uint64 // messages refused at or after DATA (see CountRejected)
}

// Store is an in-memory, concurrency-safe message store, oldest first.
// The zero value is not usable; call New.
type Store struct {
	limits Limits
	now    func() time.Time

	mu     sync.RWMutex
	msgs   []*Message // arrival order; deletions compact it
	byID   map[string]*Message
	bytes  int64
	unread int
	seq    uint64
	stats  Stats

	slabs      slabs
	deliveries map[string]*Delivery // by session ID: see shared
	tags       map[string]*tagEntry // by lowercased name (tags.go); nil until a message has tags
	rejected   atomic.Uint64        // see CountRejected: counted without the lock
	noXTags    atomic.Bool          // SetTagSources: X-Tags headers ignored
	noPlusTags atomic.Bool          // SetTagSources: plus-addresses not tags
	hub        hub
	sessions   SessionLog
	parsed     parseCache
}

// New returns an empty store with the given limits.
func New(limits Limits) *Store {
	s := &Store{limits: limits, now: time.Now, byID: map[string]*Message{}, deliveries: map[string]*Delivery{}, parsed: parseCache{size: 8}}
	s.sessions.hub, s.sessions.now = &s.hub, time.Now
	return s
}

// Limits returns the limits the store enforces.
func (s *Store) Limits() Limits { return s.limits }

// newID returns a 22-character URL-safe random ID, like Mailpit's.
func newID() string {
	// runtime-seeded ChaCha8 (math/rand/v2): unpredictable enough for IDs
	// anyone can list anyway, and without crypto/rand's syscall per message.
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// shared returns d without Received, the same pointer for every message of
// a session. Callers hold s.mu.
func (s *Store) shared(d Delivery) *Delivery {
	d.Received = time.Time{}
	if p := s.deliveries[d.SessionID]; p != nil && *p == d {
		return p
	}
	if len(s.deliveries) >= 4096 { // sharing saves memory; forgetting is fine
		clear(s.deliveries)
	}
	p := &d
	s.deliveries[d.SessionID] = p
	return p
}

// Add stores a copy of a message and returns it; the caller keeps raw and
// env. Older messages are evicted to respect the limits.
func (s *Store) Add(raw []byte, env Envelope, d Delivery) (*Message, error) {

	if d.Received.IsZero() {
		d.Received = s.now()
	}
	m := &Message{raw: append(s.slabs.alloc(len(raw)), raw...), received: d.Received, cache: &s.parsed}
	var tags []string
	xTags := m.summarize()
	if s.noXTags.Load() {
		xTags = ""
	}
	plus := ""
	if !s.noPlusTags.Load() {
		plus = m.plusTags()
	}
	if xTags != "" || plus != "" { // tags are rare: untagged mail never gets here
		tags = ParseTags(decodeHeader(xTags), plus)
	}
	// The ID is its own string: other records (transcripts) keep IDs of
	// messages long gone, and must not keep their slabs.
	m.ID = newID()
	size := len(env.From) + keySize(m.Header.To, env.To)
	for _, r := range env.To {
		size += len(r)
	}
	p := &packer{buf: s.slabs.alloc(size)}
	m.Envelope.From = p.str(env.From)
	m.Envelope.To = m.inlineRcpt[:0:1]
	if len(env.To) > 1 {
		m.Envelope.To = make([]string, 0, len(env.To))
	}
	for _, r := range env.To {
		m.Envelope.To = append(m.Envelope.To, p.str(r))
	}
	// The search key is its own allocation: a to: search reads it for every
	// message, and small strings made one after another sit together in
	// memory, where keys spread over the slabs cost a cache miss each.
	key := &packer{buf: make([]byte, 0, keySize(m.Header.To, env.To))}
	m.toKey = key.recipientKey(m.Header.To, env.To)
	// What the byte limit counts: everything the message keeps, not only
	// its raw bytes (an envelope of 1,000 long recipients outweighs a small
	// message many times over).
	m.kept = int64(len(raw) + size + len(m.toKey) + 16*len(env.To) + len(d.Helo) + len(d.AuthUser) + len(d.ClientAddr) + 16*len(tags) + messageOverhead)
	if s.limits.MaxBytes > 0 && m.kept > s.limits.MaxBytes {
		return nil, fmt.Errorf("adding a %d-byte message (%d bytes kept): %w", len(raw), m.kept, ErrTooLarge)
	}

	s.mu.Lock()
	m.delivery = s.shared(d)
	if tags != nil {
		s.tagLocked(m, tags)
	}
	s.seq++
	m.seq = s.seq
	var evicted []string
	for len(s.msgs) > 0 && s.overLimit(m.kept) {
		old := s.msgs[0]
		s.msgs[0] = nil
		s.msgs = s.msgs[1:]
		s.forget(old)
		s.stats.Evicted++
		evicted = append(evicted, old.ID)
	}
	s.msgs = append(s.msgs, m)
	s.byID[m.ID] = m
	s.bytes += m.kept
	s.unread++
	s.stats.Accepted++
	s.stats.AcceptedBytes += int64(len(raw))
	// Publish under the lock so subscribers see events in store order.
	if len(evicted) > 0 {
		s.hub.publish(Event{Type: EventEvict, IDs: evicted})
	}
	s.hub.publish(Event{Type: EventNew, Message: m})
	s.mu.Unlock()
	return m, nil
}

func (s *Store) overLimit(incoming int64) bool {
	if s.limits.MaxMessages > 0 && len(s.msgs)+1 > s.limits.MaxMessages {
		return true
	}
	return s.limits.MaxBytes > 0 && s.bytes+incoming > s.limits.MaxBytes
}

// messageOverhead is what a stored message costs beyond its bytes and
// strings: the Message struct, its index entries and list slot.
const messageOverhead = 512

// forget drops m from the index and counters; the caller removes it from msgs.
func (s *Store) forget(m *Message) {
	s.parsed.forget(m)
	delete(s.byID, m.ID)
	if t := m.Tags(); t != nil {
		s.untagLocked(t)
	}
	s.bytes -= m.kept
	if !m.read.Load() {
		s.unread--
	}
}

// Get returns the message with the given ID.
func (s *Store) Get(id string) (*Message, error) {
	s.mu.RLock()
	m, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("getting message %q: %w", id, ErrNotFound)
	}
	return m, nil
}

// Filter selects messages; nil selects all.
type Filter func(*Message) bool

// Latest returns the newest message that f selects.
func (s *Store) Latest(f Filter) (*Message, error) {
	var found *Message
	s.each(func(m *Message) bool {
		if f == nil || f(m) {
			found = m
			return false
		}
		return true
	})
	if found == nil {
		return nil, fmt.Errorf("getting latest message: %w", ErrNotFound)
	}
	return found, nil
}

// chunk is how many messages each takes from the store per look under its
// lock.
const chunk = 512

// each calls fn for the messages stored when it was called, newest first,
// until fn returns false. fn runs outside the store's lock (a filter may
// parse a message: that must not hold up deliveries); the lock is taken
// for each chunk only to copy it. It returns the arrival sequence number
// of the newest message at the start.
func (s *Store) each(fn func(*Message) bool) uint64 {
	s.mu.RLock()
	top := s.seq
	s.mu.RUnlock()
	buf := make([]*Message, 0, chunk)
	for cursor := top + 1; ; {
		s.mu.RLock()
		hi := sort.Search(len(s.msgs), func(i int) bool { return s.msgs[i].seq >= cursor })
		buf = append(buf[:0], s.msgs[max(0, hi-chunk):hi]...)
		s.mu.RUnlock()
		if len(buf) == 0 {
			return top
		}
		for i := len(buf) - 1; i >= 0; i-- {
			if !fn(buf[i]) {
				return top
			}
		}
		cursor = buf[0].seq
	}
}

// Page is one page of a listing, newest first.
type Page struct {
	Messages []*Message // the page, newest first
	Matched  int        // messages the filter selected, over all pages
	Unread   int        // unread among Matched
	Seq      uint64     // arrival sequence of the newest message at listing time (see Message.Seq)
}

// List returns messages that f selects, newest first, skipping start and
// returning at most limit (limit <= 0: no limit).
func (s *Store) List(f Filter, start, limit int) Page {
	if f == nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		p := Page{Seq: s.seq}
		p.Matched, p.Unread = len(s.msgs), s.unread
		hi := len(s.msgs) - start
		lo := 0
		if limit > 0 {
			lo = hi - limit
		}
		for i := hi - 1; i >= max(lo, 0); i-- {
			p.Messages = append(p.Messages, s.msgs[i])
		}
		return p
	}
	var p Page
	p.Seq = s.each(func(m *Message) bool {
		if !f(m) {
			return true
		}
		if p.Matched >= start && (limit <= 0 || len(p.Messages) < limit) {
			p.Messages = append(p.Messages, m)
		}
		p.Matched++
		if !m.read.Load() {
			p.Unread++
		}
		return true
	})
	return p
}

// Delete removes the messages with the given IDs and returns the IDs it
// removed; unknown IDs are ignored.
func (s *Store) Delete(ids ...string) []string {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	return s.DeleteMatching(func(m *Message) bool { return want[m.ID] })
}

// DeleteMatching removes the messages f selects (nil: all) and returns their IDs.
func (s *Store) DeleteMatching(f Filter) []string {
	chosen := s.matching(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	kept := s.msgs[:0]
	for _, m := range s.msgs {
		if f == nil || chosen[m] {
			s.forget(m)
			gone = append(gone, m.ID)
			continue
		}
		kept = append(kept, m)
	}
	clear(s.msgs[len(kept):])
	s.msgs = kept
	s.stats.Deleted += uint64(len(gone))
	switch {
	case len(gone) == 0:
	case f == nil:
		s.hub.publish(Event{Type: EventTruncate, IDs: gone})
	default:
		s.hub.publish(Event{Type: EventDelete, IDs: gone})
	}
	return gone
}

// matching evaluates f outside the lock (see each); nil for f nil.
func (s *Store) matching(f Filter) map[*Message]bool {
	if f == nil {
		return nil
	}
	chosen := map[*Message]bool{}
	s.each(func(m *Message) bool {
		if f(m) {
			chosen[m] = true
		}
		return true
	})
	return chosen
}

// SetRead marks the messages f selects (nil: all) read or unread and returns
// the IDs whose flag changed.
func (s *Store) SetRead(f Filter, read bool) []string {
	chosen := s.matching(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []string
	for _, m := range s.msgs {
		if (f == nil || chosen[m]) && m.read.Load() != read {
			m.read.Store(read)
			if read {
				s.unread--
			} else {
				s.unread++
			}
			changed = append(changed, m.ID)
		}
	}
	if len(changed) > 0 {
		s.hub.publish(Event{Type: EventUpdate, IDs: changed, Read: read})
	}
	return changed
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stats
	st.Total, st.Unread, st.Bytes = len(s.msgs), s.unread, s.bytes
	st.Rejected = s.rejected.Load()
	return st
}

// CountRejected counts a message the SMTP side refused at or after DATA
// (too big for the store, a fault rule's reply, the in-flight limit, a
// broken transfer): Mailpit's SMTPRejected. It takes no lock.
func (s *Store) CountRejected() { s.rejected.Add(1) }

// Count returns how many messages f selects (nil: all) and the arrival
// sequence number of the newest message at that moment, so a caller that
// subscribed first can skip events it has already counted.
func (s *Store) Count(f Filter) (n int, seq uint64) {
	if f == nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return len(s.msgs), s.seq
	}
	seq = s.each(func(m *Message) bool {
		if f(m) {
			n++
		}
		return true
	})
	return n, seq
}
