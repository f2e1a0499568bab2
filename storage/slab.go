package storage

import "sync"

// Message bytes are carved out of shared slabs rather than allocated one
// by one: the collector then has a few hundred big pointer-free objects to
// deal with instead of one per message, and nothing is lost to size-class
// rounding. A message's bytes keep their whole slab alive; since the store
// evicts oldest first, slabs die whole under sustained load. Deleting most
// but not all messages of a slab keeps the slab: the waste is at most a slab
// or two (128 KiB each) per surviving message, which is why slabs are small.
const (
	slabSize   = 128 << 10
	maxSlabbed = 16 << 10 // bigger requests get their own allocation
)

type slabs struct {
	mu  sync.Mutex
	cur []byte // unused room of the current slab
}

// alloc returns an empty slice with room for n bytes, which nothing else
// will ever be given.
func (s *slabs) alloc(n int) []byte {
	if n > maxSlabbed {
		return make([]byte, 0, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) < n {
		s.cur = make([]byte, slabSize)
	}
	b := s.cur[:0:n]
	s.cur = s.cur[n:]
	return b
}
