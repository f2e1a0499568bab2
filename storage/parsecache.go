package storage

import "sync"

// parseCache keeps the parsed views of the few most recently read
// messages: opening one in the inbox reads it several times (message,
// parts, thumbnails, HTML view) and a large MIME tree is slow to parse.
// It is small and bounded so memory stays near the raw bytes.
type parseCache struct {
	mu      sync.Mutex
	entries []parseEntry // most recent last
	size    int
}

type parseEntry struct {
	m *Message
	p *Parsed
}

func (c *parseCache) get(m *Message) *Parsed {
	c.mu.Lock()
	for i, e := range c.entries {
		if e.m == m {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			return e.p
		}
	}
	c.mu.Unlock()
	p := Parse(m.Raw()) // outside the lock: parsing may take a while
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, parseEntry{m, p})
	return p
}

// forget drops a deleted or evicted message so its view can be collected.
func (c *parseCache) forget(m *Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.m == m {
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
			return
		}
	}
}
