package server_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// loadCount is how many messages the no-loss test sends: 50,000 as the
// issue asks, fewer with -short, or MAILSINK_LOAD_MESSAGES.
func loadCount(t *testing.T) int {
	if v := os.Getenv("MAILSINK_LOAD_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("MAILSINK_LOAD_MESSAGES=%q", v)
		}
		return n
	}
	if testing.Short() {
		return 5_000
	}
	return 50_000
}

// TestNoLossUnderLoad sends messages over 64 concurrent connections and
// proves that every message acknowledged with 250 is stored byte-exact,
// exactly once.
func TestNoLossUnderLoad(t *testing.T) {
	t.Parallel()
	total := loadCount(t)
	const conns = 64
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) {
		c.MaxMessages = total + 1000
		c.MaxConnections = conns + 10
	}))
	var mu sync.Mutex
	acked := map[[32]byte]int{} // hash of each acknowledged message -> times acked
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(s.Addr(25))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Hello("load.test"); err != nil {
				errs <- err
				return
			}
			for i := w; i < total; i += conns {
				body := fmt.Sprintf("From: load@example.test\r\nTo: rcpt%d@example.test\r\nSubject: load %d\r\nMessage-ID: <%d@load.test>\r\n\r\nmessage number %d\r\n.leading dot\r\n", i, i, i, i)
				if err := send(c, "load@example.test", []string{fmt.Sprintf("rcpt%d@example.test", i)}, body); err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
					return
				}
				mu.Lock()
				acked[sha256.Sum256([]byte(body))]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stored := map[[32]byte]int{}
	page := s.Store.List(nil, 0, 0)
	for _, m := range page.Messages {
		stored[sha256.Sum256([]byte(m.Raw()))]++
	}
	if len(acked) != total {
		t.Fatalf("%d of %d messages acknowledged", len(acked), total)
	}
	for h, n := range acked {
		if stored[h] != n {
			t.Fatalf("a message acknowledged %d times is stored %d times", n, stored[h])
		}
	}
	if len(page.Messages) != total {
		t.Fatalf("stored %d messages, acknowledged %d", len(page.Messages), total)
	}
}

// TestMemoryFlatAtTheCap keeps delivering past the store's limit: the
// oldest are evicted and the live heap stays where it was at the cap.
func TestMemoryFlatAtTheCap(t *testing.T) {
	// Not parallel: runtime.MemStats is the heap of the whole test process,
	// which other tests' allocations would move. Serial tests run before any
	// parallel test is released, so nothing else runs meanwhile.
	const capacity = 2_000
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxMessages = capacity }))
	c := dial(t, s.Addr(25), nil, false)
	body := "From: a@example.test\r\nTo: b@example.test\r\nSubject: flat\r\n\r\n" +
		strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 40)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	sendN := func(n int) {
		for range n {
			if err := send(c, "a@example.test", []string{"b@example.test"}, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	sendN(capacity)
	atCap := heap()
	sendN(4 * capacity)
	after := heap()
	if st := s.Store.Stats(); st.Total != capacity || st.Evicted != 4*capacity {
		t.Fatalf("stats %+v", st)
	}
	// Allow some slack for the transcript ring and runtime noise.
	if after > atCap+atCap/4+(2<<20) {
		t.Fatalf("heap grew from %d KB at the cap to %d KB after 4x more messages", atCap>>10, after>>10)
	}
	t.Logf("heap at the cap %d KB, after %d more messages %d KB", atCap>>10, 4*capacity, after>>10)
}
