package smtpd

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/storage"
)

// rawClient is a line-at-a-time SMTP client for ordering-sensitive tests.
type rawClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

// final reads a whole reply and returns its last line.
func (rc *rawClient) final() string {
	rc.t.Helper()
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			return "[" + err.Error() + "]"
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (rc *rawClient) cmd(line, want string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, line+"\r\n"); err != nil {
		rc.t.Fatal(err)
	}
	if got := rc.final(); !strings.HasPrefix(got, want) {
		rc.t.Fatalf("%s: got %q, want %q", line, got, want)
	}
}

// Shutdown loses nothing it acknowledged and acknowledges nothing new: a
// message being transferred finishes with 250 and is stored, a new
// transaction gets 421 4.3.2, a connection waiting for its next command
// gets go-smtp's 421 at once, and Shutdown returns when they are done.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	l, store := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthOptional}, Options{Hostname: "sink.test", Timeout: time.Minute})
	addr := l.Addr().String()

	inData := dialRaw(t, addr)
	inData.final()
	inData.cmd("EHLO a.test", "250")
	inData.cmd("MAIL FROM:<a@x.test>", "250")
	inData.cmd("RCPT TO:<b@x.test>", "250")
	inData.cmd("DATA", "354")
	io.WriteString(inData.c, "Subject: in flight\r\n\r\nhalf")

	idle := dialRaw(t, addr)
	idle.final()
	idle.cmd("EHLO a.test", "250")

	midTransaction := dialRaw(t, addr)
	midTransaction.final()
	midTransaction.cmd("EHLO a.test", "250")
	midTransaction.cmd("MAIL FROM:<a@x.test>", "250")

	// go-smtp calls Data just after writing 354; nothing signals that it
	// has, so look (bounded) until the session is in it.
	for i := 0; inDataCount(l) != 1; i++ {
		if i == 1000 {
			t.Fatal("the session never started reading the message")
		}
		time.Sleep(time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Shutdown(ctx) }()

	// The idle connection is told at once (go-smtp's idle 421) and closed.
	if got := idle.final(); !strings.HasPrefix(got, "421 ") {
		t.Fatalf("idle connection got %q, want 421", got)
	}
	if got := idle.final(); !strings.HasPrefix(got, "[") {
		t.Fatalf("idle connection still open after 421: %q", got)
	}
	// A connection between commands of a transaction is cut the same way.
	if got := midTransaction.final(); !strings.HasPrefix(got, "421 ") {
		t.Fatalf("mid-transaction connection got %q, want 421", got)
	}
	// The transfer in flight finishes and is acknowledged and stored.
	io.WriteString(inData.c, " and the rest\r\n.\r\n")
	if got := inData.final(); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("message in flight got %q, want 250", got)
	}
	// After it, the next transaction is refused and the connection closed.
	if _, err := io.WriteString(inData.c, "MAIL FROM:<a@x.test>\r\n"); err == nil {
		if got := inData.final(); !strings.HasPrefix(got, "421") {
			t.Fatalf("new transaction during shutdown got %q, want 421", got)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	m, err := store.Latest(nil)
	if err != nil || !strings.HasSuffix(m.Summary().Subject, "in flight") {
		t.Fatalf("message in flight not stored: %v", err)
	}
}

// inDataCount is how many connections are transferring a message.
func inDataCount(l *Listener) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for oc := range l.conns {
		n += int(oc.inData.Load())
	}
	return n
}

// An empty user name is a failed login, not a session stuck between a 235
// and MAIL's 530; the client may try again.
func TestEmptyUserNameIsRefused(t *testing.T) {
	t.Parallel()
	l, _ := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthRequired, CleartextAuth: true}, Options{Hostname: "sink.test", Timeout: time.Minute})
	rc := dialRaw(t, l.Addr().String())
	rc.final()
	rc.cmd("EHLO a.test", "250")
	for _, ir := range []string{"\x00\x00", "\x00\x00x", "user\x00\x00pw"} {
		rc.cmd("AUTH PLAIN "+b64(ir), "535 5.7.8")
	}
	rc.cmd("AUTH LOGIN", "334")
	rc.cmd(b64(""), "334")
	rc.cmd(b64("pw"), "535 5.7.8")
	rc.cmd("AUTH PLAIN "+b64("\x00user\x00pw"), "235")
	rc.cmd("MAIL FROM:<a@x.test>", "250")
}

// Message bytes still being received are capped over all connections: a
// transfer that would pass the cap gets 452 4.3.1, and nothing is lost
// from the others.
func TestDataInFlightIsBounded(t *testing.T) {
	t.Parallel()
	opts := Options{Hostname: "sink.test", Timeout: time.Minute, DataInFlight: NewByteBudget(64 << 10)} // one read buffer
	l, store := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthOptional}, opts)
	start := func() *rawClient {
		rc := dialRaw(t, l.Addr().String())
		rc.final()
		rc.cmd("EHLO a.test", "250")
		rc.cmd("MAIL FROM:<a@x.test>", "250")
		rc.cmd("RCPT TO:<b@x.test>", "250")
		rc.cmd("DATA", "354")
		return rc
	}
	stalled := start()
	io.WriteString(stalled.c, "Subject: stalled\r\n\r\nnot finished")
	for i := 0; inDataCount(l) != 1; i++ { // see TestShutdownDrains
		if i == 1000 {
			t.Fatal("the first transfer never started")
		}
		time.Sleep(time.Millisecond)
	}
	second := start()
	second.cmd("Subject: second\r\n\r\nx\r\n.", "452 4.3.1")
	io.WriteString(stalled.c, "\r\n.\r\n")
	if got := stalled.final(); !strings.HasPrefix(got, "250") {
		t.Fatalf("the stalled transfer got %q once finished", got)
	}
	second.cmd("MAIL FROM:<a@x.test>", "250")
	second.cmd("RCPT TO:<b@x.test>", "250")
	second.cmd("DATA", "354")
	second.cmd("Subject: second\r\n\r\nx\r\n.", "250")
	if n := store.Stats().Total; n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
}

// What one message's envelope may hold is bounded: the store keeps it.
func TestRecipientLimits(t *testing.T) {
	t.Parallel()
	l, _ := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthOptional}, Options{Hostname: "sink.test", Timeout: time.Minute, MaxLineLength: 2000})
	rc := dialRaw(t, l.Addr().String())
	rc.final()
	rc.cmd("EHLO a.test", "250")
	rc.cmd("MAIL FROM:<a@x.test>", "250")
	long := strings.Repeat("l", maxPath-len("@x.test")+1) + "@x.test"
	rc.cmd("RCPT TO:<"+long+">", "501 5.1.3")
	addr := strings.Repeat("r", 240) + "@x.test" // 247 bytes
	accepted := 0
	for ; accepted < 1000; accepted++ {
		if _, err := io.WriteString(rc.c, "RCPT TO:<"+addr+">\r\n"); err != nil {
			t.Fatal(err)
		}
		if got := rc.final(); !strings.HasPrefix(got, "250") {
			if !strings.HasPrefix(got, "452 4.5.3") {
				t.Fatalf("RCPT %d got %q", accepted+1, got)
			}
			break
		}
	}
	if want := maxRcptBytes / len(addr); accepted != want {
		t.Fatalf("%d recipients accepted, want %d", accepted, want)
	}
	rc.cmd("DATA", "354")
	rc.cmd("Subject: many\r\n\r\nx\r\n.", "250")
}

// The timeout covers a whole command line: a client that never finishes
// one, or trickles it, is cut off with go-smtp's 421 at the timeout. (go-smtp
// first answers the unfinished line as if it were whole: bufio hands it
// over when the read fails.)
func TestTimeoutCoversPartialLines(t *testing.T) {
	t.Parallel()
	l, _ := listen(t, ListenerConfig{TLS: TLSNone, Auth: AuthOptional}, Options{Hostname: "sink.test", Timeout: 300 * time.Millisecond})
	// untilCut reads replies until the connection closes; it returns the
	// last one before the close.
	untilCut := func(rc *rawClient) <-chan string {
		cut := make(chan string, 1)
		go func() {
			last := ""
			for {
				got := rc.final()
				if strings.HasPrefix(got, "[") {
					cut <- last
					return
				}
				last = got
			}
		}()
		return cut
	}
	t.Run("no line end", func(t *testing.T) {
		t.Parallel()
		rc := dialRaw(t, l.Addr().String())
		rc.final()
		cut := untilCut(rc)
		io.WriteString(rc.c, "NOOP")
		if got := <-cut; !strings.HasPrefix(got, "421 4.4.2") {
			t.Fatalf("last reply %q, want 421 4.4.2", got)
		}
	})
	t.Run("trickled", func(t *testing.T) {
		t.Parallel()
		rc := dialRaw(t, l.Addr().String())
		rc.final()
		cut := untilCut(rc)
		line := "EHLO a-rather-long-client-name.example.test\r\n"
		// One byte per 50 ms (the trickle is the behaviour under test):
		// 2.3 s for the line, against a 300 ms timeout.
		for i := 0; i < len(line); i++ {
			if _, err := rc.c.Write([]byte{line[i]}); err != nil {
				break // cut off
			}
			select {
			case got := <-cut:
				if !strings.HasPrefix(got, "421 4.4.2") {
					t.Fatalf("last reply %q, want 421 4.4.2", got)
				}
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		t.Fatalf("the whole line got through, then %q", <-cut)
	})
}

// listen starts a listener on a loopback port for the test, with a store
// of its own.
func listen(t *testing.T, cfg ListenerConfig, opts Options) (*Listener, *storage.Store) {
	t.Helper()
	store := storage.New(storage.Limits{})
	l, err := Listen("127.0.0.1:0", cfg, opts, store)
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Close() })
	return l, store
}

// go-smtp writes 354 before it calls Data: a drain that starts in between
// sets a deadline in the past (no transfer is counted yet), and Data's
// enterData must put the drain's own deadline back before its first read,
// or the message the client was told to send is cut off.
func TestDrainBetween354AndData(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	tr := storage.New(storage.Limits{}).Sessions().Start(storage.Transcript{})
	oc := &observedConn{Conn: server, closed: make(chan struct{})}
	oc.rec = newRecorder(tr, oc, 0, nil)
	defer server.Close()

	oc.drain(time.Now().Add(time.Minute)) // shutdown begins: nothing in DATA
	oc.enterData()                        // then go-smtp calls Data
	defer oc.leaveData()
	go client.Write([]byte("Subject: x\r\n"))
	buf := make([]byte, 64)
	if n, err := oc.Read(buf); err != nil || string(buf[:n]) != "Subject: x\r\n" {
		t.Fatalf("reading the message after the drain: %q, %v", buf[:n], err)
	}
}
