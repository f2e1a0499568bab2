package storage

import "sync"

// EventType says what changed in the store.
type EventType string

const (
	EventNew      EventType = "new"      // Message was added
	EventDelete   EventType = "delete"   // IDs were deleted by a client
	EventTruncate EventType = "truncate" // everything was deleted; IDs lists it
	EventEvict    EventType = "evict"    // IDs were evicted to respect the limits
	EventUpdate   EventType = "update"   // IDs were marked Read (or unread)
	EventTags     EventType = "tags"     // IDs' tags changed; Tags holds each one's new list
)

// Event is one change to the store.
type Event struct {
	Type    EventType
	Message *Message   // EventNew
	IDs     []string   // the other types
	Read    bool       // EventUpdate
	Tags    [][]string // EventTags: Tags[i] is IDs[i]'s tags after the change, sorted; [] for none

	Transcript *Transcript // EventSessionStart, EventSessionEnd: a copy
}

// Subscription receives store events on C until it is closed, by Close or
// because it fell behind: the store never waits for a subscriber. A closed
// subscription's owner should resynchronise from a listing.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	hub     *hub
	dropped bool // guarded by hub.mu
}

// Close ends the subscription. It is safe to call more than once.
func (sub *Subscription) Close() { sub.hub.remove(sub) }

// Dropped reports whether the store dropped the subscription for falling
// behind (as opposed to Close).
func (sub *Subscription) Dropped() bool {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	return sub.dropped
}

type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscribe returns a subscription with room for buffer pending events.
func (s *Store) Subscribe(buffer int) *Subscription {
	c := make(chan Event, max(buffer, 1))
	sub := &Subscription{C: c, c: c, hub: &s.hub}
	s.hub.mu.Lock()
	if s.hub.subs == nil {
		s.hub.subs = map[*Subscription]struct{}{}
	}
	s.hub.subs[sub] = struct{}{}
	s.hub.mu.Unlock()
	return sub
}

// publish hands e to every subscriber without blocking; a subscriber whose
// buffer is full is dropped.
func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.c <- e:
		default:
			sub.dropped = true
			h.removeLocked(sub)
		}
	}
}

func (h *hub) remove(sub *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(sub)
}

func (h *hub) removeLocked(sub *Subscription) {
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		close(sub.c)
	}
}

// Subscribers is how many subscriptions are open (browser tabs, waits).
func (s *Store) Subscribers() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.subs)
}
