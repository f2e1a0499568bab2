package gctune

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	o := Options{MinHeadroom: 4 << 20, Fraction: 0.15}
	tests := []struct {
		live int64
		want int
	}{
		{0, 100},
		{1 << 20, 100},  // small heaps keep Go's default
		{8 << 20, 50},   // the 4 MiB floor
		{20 << 20, 20},  // still the floor
		{27 << 20, 15},  // the fraction takes over
		{100 << 20, 15}, // and holds for big stores
		{10 << 30, 15},
		{1<<62 - 1, 15}, // no overflow
	}
	for _, tt := range tests {
		if got := percentFor(tt.live, o); got != tt.want {
			t.Errorf("percentFor(%d MiB) = %d, want %d", tt.live>>20, got, tt.want)
		}
	}
}

// With 64 MiB of pointer-free data held, the tuner lowers the GC
// percentage after the next collection, so the heap goal sits within the
// configured headroom of the live heap; stopping restores the original.
func TestTunerKeepsHeadroomProportional(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tu := Start(ctx, Options{MinHeadroom: 4 << 20, Fraction: 0.15})
	held := make([][]byte, 64)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	for range 50 { // the finalizer runs after a collection, on its own goroutine
		runtime.GC()
		if tu.Percent() < 100 {
			break
		}
	}
	if p := tu.Percent(); p < 14 || p > 17 {
		t.Fatalf("percent %d with ~64 MiB live, want about 15", p)
	}
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	goal, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if float64(goal) > float64(live)*1.2+float64(2<<20) {
		t.Fatalf("heap goal %d MiB for %d MiB live: more than 15%% headroom", goal>>20, live>>20)
	}
	runtime.KeepAlive(held)
	cancel()
	select { // context.AfterFunc stops it on another goroutine
	case <-tu.done:
	case <-time.After(time.Second):
		t.Fatal("not stopped a second after the context ended")
	}
}
