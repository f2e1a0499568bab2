package server_test

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/gorilla/websocket"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

// The baseline the limits must keep: mixed sizes over DATA and BDAT, in
// cleartext, STARTTLS and implicit TLS, while API clients flood the list
// and search routes and inbox WebSockets connect and never read. Every
// message acknowledged with 250 is stored byte-exact, exactly once.
func TestMixedLoadLosesNothing(t *testing.T) {
	t.Parallel()
	perSender := 60
	if testing.Short() {
		perSender = 15
	}
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.MaxMessages = 100000 }))
	stop := make(chan struct{})
	var floods sync.WaitGroup

	// Stuck WebSockets: subscribed, never reading.
	for range 5 {
		hdr := http.Header{"Origin": {s.URL}}
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "http")+"/api/events", hdr)
		if err != nil {
			t.Fatalf("WebSocket: %v", err)
		}
		defer ws.Close()
	}
	// API floods.
	for _, path := range []string{"/api/v1/messages?limit=50", "/api/v1/search?query=load", "/api/v2/messages?limit=5"} {
		floods.Add(1)
		go func() {
			defer floods.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(s.URL + path)
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}

	var mu sync.Mutex
	acked := map[[32]byte]int{}
	ack := func(body string) {
		mu.Lock()
		acked[sha256.Sum256([]byte(body))]++
		mu.Unlock()
	}
	body := func(r *rand.Rand, id string) string {
		size := 1 << 10
		if r.IntN(4) == 0 {
			size = 1<<10 + r.IntN(200<<10)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Subject: load %s\r\nTo: load@example.test\r\n\r\n", id)
		for b.Len() < size {
			b.WriteString("0123456789abcdefghijklmnopqrstuvwxyz.0123456789abcdefghijklmnopqrstuvwxyz\r\n")
		}
		return b.String()
	}
	tlsCfg := tlsConfig(s)
	authedSender := func(r *rand.Rand, id string, dial func() (*smtp.Client, error)) error {
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", "app", "x")); err != nil {
			return err
		}
		for i := range perSender {
			b := body(r, fmt.Sprint(id, i))
			if err := send(c, "a@example.test", []string{"load@example.test"}, b); err != nil {
				return err
			}
			ack(b)
		}
		return nil
	}
	senders := []struct {
		name string
		run  func(r *rand.Rand, id string) error
	}{
		{"cleartext DATA", func(r *rand.Rand, id string) error {
			c, err := smtp.Dial(s.Addr(25))
			if err != nil {
				return err
			}
			defer c.Close()
			for i := range perSender {
				b := body(r, fmt.Sprint(id, i))
				if err := send(c, "a@example.test", []string{"load@example.test"}, b); err != nil {
					return err
				}
				ack(b)
			}
			return nil
		}},
		{"STARTTLS", func(r *rand.Rand, id string) error {
			return authedSender(r, id, func() (*smtp.Client, error) { return smtp.DialStartTLS(s.Addr(587), tlsCfg) })
		}},
		{"implicit TLS", func(r *rand.Rand, id string) error {
			return authedSender(r, id, func() (*smtp.Client, error) { return smtp.DialTLS(s.Addr(465), tlsCfg) })
		}},
		{"BDAT", func(r *rand.Rand, id string) error {
			var conn net.Conn
			conn, err := tls.Dial("tcp", s.Addr(465), tlsCfg)
			if err != nil {
				return err
			}
			defer conn.Close()
			rd := bufio.NewReader(conn)
			final := func(want string) error {
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						return err
					}
					if len(line) < 4 || line[3] != '-' {
						if !strings.HasPrefix(line, want) {
							return fmt.Errorf("got %q, want %s", line, want)
						}
						return nil
					}
				}
			}
			if err := final("220"); err != nil {
				return err
			}
			fmt.Fprintf(conn, "EHLO bdat.test\r\nAUTH PLAIN %s\r\n", "AGFwcAB4")
			if err := final("250"); err != nil {
				return err
			}
			if err := final("235"); err != nil {
				return err
			}
			for i := range perSender {
				b := body(r, fmt.Sprint(id, i))
				half := len(b) / 2
				// Pipelined, two chunks, the first with no line end at its edge.
				fmt.Fprintf(conn, "MAIL FROM:<a@example.test>\r\nRCPT TO:<load@example.test>\r\nBDAT %d\r\n%sBDAT %d LAST\r\n%s", half, b[:half], len(b)-half, b[half:])
				for _, want := range []string{"250", "250", "250", "250"} {
					if err := final(want); err != nil {
						return err
					}
				}
				ack(b)
			}
			return nil
		}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(senders))
	for n, sd := range senders {
		for k := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(n), uint64(k)))
				if err := sd.run(r, fmt.Sprintf("%d-%d-", n, k)); err != nil {
					errs <- fmt.Errorf("%s: %w", sd.name, err)
				}
			}()
		}
	}
	wg.Wait()
	close(stop)
	floods.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stored := map[[32]byte]int{}
	for _, m := range s.Store.List(func(m *storage.Message) bool { return true }, 0, 0).Messages {
		stored[sha256.Sum256([]byte(m.Raw()))]++
	}
	mu.Lock()
	defer mu.Unlock()
	for h, n := range acked {
		if stored[h] != n {
			t.Fatalf("a message acknowledged %d times is stored %d times", n, stored[h])
		}
	}
	if len(stored) != len(acked) {
		t.Fatalf("%d distinct messages stored, %d acknowledged", len(stored), len(acked))
	}
	t.Logf("%d messages over %d connections with 5 stuck WebSockets and 3 API floods", len(acked), 4*len(senders))
}
