package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// BenchmarkSMTPDelivery measures the whole capture path: a client on a
// kept-open connection runs MAIL, RCPT, DATA for a ~5 KB message, and the
// sink parses the envelope, stores the message and publishes its event.
func BenchmarkSMTPDelivery(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			s := sinktest.Start(b, sinktest.WithConfig(func(c *server.Config) { c.MaxMessages = 10_000 }))
			body := "From: a@example.test\r\nTo: b@example.test\r\nSubject: bench\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 80)
			b.SetBytes(int64(len(body)))
			clients := make([]*smtp.Client, conns)
			for i := range clients {
				c, err := smtp.Dial(s.Addr(25))
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Hello("bench.test"); err != nil {
					b.Fatal(err)
				}
				clients[i] = c
				defer c.Close()
			}
			work := make(chan struct{}, 1024)
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			b.ResetTimer()
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					failed := false
					for range work { // keep draining after a failure so the producer never blocks
						if failed {
							continue
						}
						if err := send(c, "a@example.test", []string{"b@example.test"}, body); err != nil {
							errs <- err
							failed = true
						}
					}
				}()
			}
			for b.Loop() {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}
