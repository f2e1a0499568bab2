// Package gctune keeps the Go heap's spare room in proportion to what the
// process holds. Go's default (GOGC=100) lets the heap grow to twice the
// live data before collecting; for a store of pointer-free message bytes
// that doubles resident memory for little gain, since collecting costs in
// proportion to the pointers marked, not to the bytes held. The tuner sets
// the GC percentage after every collection so the heap may grow by a
// fraction of the live data (or a small floor), whichever is larger.
package gctune

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Options shape the heap's spare room: max(MinHeadroom, Fraction × live),
// never more than Go's default.
type Options struct {
	MinHeadroom int64   // bytes; default 4 MiB
	Fraction    float64 // of the live heap; default 0.15
}

// Tuner adjusts the GC percentage. Only one should run in a process.
type Tuner struct {
	opts   Options
	sample []metrics.Sample

	mu      sync.Mutex
	stopped bool
	done    chan struct{} // closed once stopped and the percentage is restored
	percent int           // last set
	orig    int
}

// Start begins tuning after the next collection, until ctx is done; then
// the GC percentage is restored.
func Start(ctx context.Context, o Options) *Tuner {
	if o.MinHeadroom <= 0 {
		o.MinHeadroom = 4 << 20
	}
	if o.Fraction <= 0 {
		o.Fraction = 0.15
	}
	t := &Tuner{opts: o, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, done: make(chan struct{})}
	t.orig = debug.SetGCPercent(100)
	t.percent = 100
	t.arm()
	context.AfterFunc(ctx, t.stop)
	return t
}

// Percent is the GC percentage last set.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

func (t *Tuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.orig)
	close(t.done)
}

// sentinel is garbage the moment it is made; its finalizer runs after the
// collection that finds it, which is the tuner's hook into each cycle. The
// pointer keeps it out of the tiny allocator, whose objects may never be
// finalized.
type sentinel struct{ t *Tuner }

func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{t}, func(s *sentinel) {
		if s.t.adjust() {
			s.t.arm()
		}
	})
}

// adjust sets the percentage for the live heap the last collection found;
// it reports whether tuning goes on.
func (t *Tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	live := int64(t.sample[0].Value.Uint64())
	p := percentFor(live, t.opts)
	if p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
	return true
}

// percentFor is the GC percentage that gives live bytes their spare room.
func percentFor(live int64, o Options) int {
	if live <= 0 {
		return 100
	}
	room := max(float64(o.MinHeadroom), float64(live)*o.Fraction)
	return int(min(max(math.Ceil(room*100/float64(live)), 1), 100))
}
