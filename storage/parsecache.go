package storage

import "sync"

// parseCache keeps the parsed views of the few most recently read
// messages: opening one in the inbox reads it several times (message,
// parts, thumbnails, HTML view) and a large MIME tree is slow to parse.
// It is small and bounded so memory stays near the raw bytes.
type parseCache struct {
	mu      sync.Mutex
	entries []parseEntry // most recent last
	size    int          // entries at most
	bytes   int          // raw bytes of the cached messages
	dkim    dkimState    // how signatures are checked, also read lazily
}

// maxCachedBytes bounds the raw size of the messages whose views are kept
// (a view holds about as much again, decoded): part of the constant the
// README adds to the store's limits.
const maxCachedBytes = 32 << 20

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
	n := m.Size()
	if n > maxCachedBytes/2 {
		return p // too big to keep: parsed again on the next read
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.entries) > 0 && (len(c.entries) >= c.size || c.bytes+n > maxCachedBytes) {
		c.bytes -= c.entries[0].m.Size()
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, parseEntry{m, p})
	c.bytes += n
	return p
}

// forget drops a deleted or evicted message so its view can be collected.
func (c *parseCache) forget(m *Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.m == m {
			c.bytes -= m.Size()
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
			return
		}
	}
}
