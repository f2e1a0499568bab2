package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// outcome is what happened to one message. Each is written by the one
// connection goroutine that sends the message, then read after all are done.
type outcome struct {
	sent    bool // acknowledged with 250
	err     error
	size    int
	sum     [sha256.Size]byte // of the bytes sent; only with -check
	latency time.Duration     // MAIL FROM up to the reply after the final dot

	visibleTried bool
	visible      time.Duration // 250 -> visible in the API
	visibleErr   error

	events       []time.Duration // with -ws: 250 -> "new" event, per socket that had it
	eventsMissed int             // sockets it did not reach within -ws-timeout
}

type loader struct {
	cfg config
	f   *factory
	tls *tls.Config
	api *peerAPI  // nil without -api
	ws  *browsers // nil without -ws
	out []outcome
}

// load sends cfg.total() messages over cfg.c connections and summarises.
func load(ctx context.Context, cfg config) (*Summary, error) {
	l := &loader{cfg: cfg, f: newFactory(cfg.size, cfg.attach)}
	if cfg.startTLS || cfg.implicitTLS {
		// A load tool talks to test sinks with self-signed certificates;
		// verifying them would prove nothing here, so any certificate is
		// accepted. Never copy this into code that talks to a real server.
		l.tls = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see above
	}
	if cfg.api != "" {
		api, err := newPeerAPI(ctx, cfg.api, cfg.apiKind, cfg.c)
		if err != nil {
			return nil, err
		}
		l.api = api
	}
	if cfg.ws > 0 {
		if l.api.kind == kindInbucket {
			return nil, fmt.Errorf("-ws: Inbucket has no /api/events WebSocket")
		}
		// Opened before the sink's process figures are read, so that
		// those count the messages, not the sockets.
		ws, err := openBrowsers(ctx, cfg.api, cfg.ws, cfg.timeout, cfg.wsTimeout)
		if err != nil {
			return nil, err
		}
		defer ws.close()
		l.ws = ws
	}
	total := cfg.total()
	l.out = make([]outcome, total)

	var before procSample
	if cfg.pid > 0 {
		var err error
		if before, err = readProc(cfg.pid); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	lo := 0
	for k := range cfg.c {
		n := total / cfg.c
		if k < total%cfg.c {
			n++
		}
		if n == 0 {
			continue
		}
		from, to := lo, lo+n
		wg.Go(func() { l.connection(ctx, from, to) })
		lo = to
	}
	wg.Wait()
	sum := l.summarize(time.Since(start))

	if cfg.pid > 0 {
		time.Sleep(cfg.settle)
		after, err := readProc(cfg.pid)
		if err != nil {
			return sum, err
		}
		sum.Sink = sinkStats(cfg.pid, before, after, sum.Accepted)
	}
	if cfg.check {
		c, err := l.verify(ctx)
		sum.Check = c
		if err != nil {
			return sum, fmt.Errorf("checking: %w", err)
		}
	}
	return sum, nil
}

// connection sends messages [lo, hi) one after the other over one SMTP
// connection, opening a new one after a connection-level failure.
func (l *loader) connection(ctx context.Context, lo, hi int) {
	var c *client
	defer func() {
		if c != nil && c.Quit() != nil {
			c.Close()
		}
	}()
	for i := lo; i < hi; i++ {
		o := &l.out[i]
		if err := ctx.Err(); err != nil {
			o.err = err
			continue
		}
		if c == nil {
			var err error
			if c, err = l.dial(); err != nil {
				o.err = fmt.Errorf("connecting: %w", err)
				continue
			}
		}
		raw := l.f.build(i)
		stuffed := dotStuff(raw)
		o.size = len(raw)
		if l.cfg.check {
			o.sum = sha256.Sum256(raw)
		}
		var ev *eventWatch
		if l.ws != nil {
			ev = l.ws.expect(l.f.rcpt(i))
		}
		var w *waiter
		timed := l.api != nil && l.cfg.visible
		if timed && l.api.kind == kindMailsink {
			w = l.api.startWait(ctx, l.f.rcpt(i), l.cfg.visibleTimeout)
			time.Sleep(l.cfg.waitLead) // let the sink subscribe before the message arrives
		}
		t0 := time.Now()
		err := l.send(c, i, raw, stuffed)
		acked := time.Now()
		o.latency = acked.Sub(t0)
		if err != nil {
			o.err = err
			if w != nil {
				w.cancel()
			}
			if ev != nil {
				l.ws.forget(l.f.rcpt(i))
			}
			var se *smtp.SMTPError
			if errors.As(err, &se) && c.Reset() == nil {
				continue // a refusal: the connection is still good
			}
			c.Close()
			c = nil
			continue
		}
		o.sent = true
		// The wait endpoint and the sockets were both listening while the
		// message went out; each records its own arrival time, so the
		// order of collecting them does not matter.
		if timed {
			l.visibleResult(ctx, o, i, w, acked)
		}
		if ev != nil {
			o.events, o.eventsMissed = l.ws.result(ctx, l.f.rcpt(i), ev, acked)
		}
	}
}

// visibleResult records how long after acked message i became visible in
// the API: through w, mailsink's wait asked before sending, or by polling.
func (l *loader) visibleResult(ctx context.Context, o *outcome, i int, w *waiter, acked time.Time) {
	o.visibleTried = true
	var seen time.Time
	if w != nil {
		seen, o.visibleErr = w.result()
	} else {
		seen, o.visibleErr = l.api.poll(ctx, l.f, i, acked.Add(l.cfg.visibleTimeout))
	}
	// The sink stores before it answers 250, so the wait can come back
	// before the client has read the 250: that counts as 0.
	o.visible = max(seen.Sub(acked), 0)
}

// client is a go-smtp client and, when the tool made the connection
// go-smtp talks over (plain or implicit TLS), that connection: the message
// content then goes out in one write instead of through go-smtp's
// byte-at-a-time dot-stuffing writer, which would make the tool, not the
// sink, the bottleneck for big messages.
type client struct {
	*smtp.Client
	conn net.Conn      // nil after STARTTLS: go-smtp holds the TLS connection
	rd   *bufio.Reader // replies to DATA and the content, read off conn
}

func (l *loader) dial() (*client, error) {
	d := &net.Dialer{Timeout: l.cfg.timeout}
	c := &client{}
	switch {
	case l.cfg.implicitTLS:
		conn, err := tls.DialWithDialer(d, "tcp", l.cfg.addr, l.tls)
		if err != nil {
			return nil, err
		}
		c.Client, c.conn = smtp.NewClient(conn), conn
	case l.cfg.startTLS:
		conn, err := d.Dial("tcp", l.cfg.addr)
		if err != nil {
			return nil, err
		}
		if c.Client, err = smtp.NewClientStartTLS(conn, l.tls); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	default:
		conn, err := d.Dial("tcp", l.cfg.addr)
		if err != nil {
			return nil, err
		}
		c.Client, c.conn = smtp.NewClient(conn), conn
	}
	if c.conn != nil {
		c.rd = bufio.NewReader(c.conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = l.cfg.timeout, l.cfg.timeout
	if l.cfg.auth != "" {
		user, pass, _ := strings.Cut(l.cfg.auth, ":")
		if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return c, nil
}

// send is one SMTP transaction: MAIL, RCPT, DATA, the message, the reply.
// stuffed is raw dot-stuffed and ended with the end marker.
func (l *loader) send(c *client, i int, raw, stuffed []byte) error {
	if err := c.Mail(sender, nil); err != nil {
		return err
	}
	if err := c.Rcpt(l.f.rcpt(i), nil); err != nil {
		return err
	}
	if c.conn == nil {
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}
	// go-smtp has read every reply so far and the sink says nothing
	// unasked, so the replies to DATA and the content are next on conn.
	c.conn.SetDeadline(time.Now().Add(l.cfg.timeout))
	defer c.conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(c.conn, "DATA\r\n"); err != nil {
		return err
	}
	if err := readReply(c.rd, 354); err != nil {
		return err
	}
	if _, err := c.conn.Write(stuffed); err != nil {
		return err
	}
	return readReply(c.rd, 250)
}

// readReply reads one reply, continuation lines included, and returns an
// *smtp.SMTPError unless its code is want.
func readReply(r *bufio.Reader, want int) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		code, err := strconv.Atoi(line[:min(3, len(line))])
		if err != nil {
			return fmt.Errorf("malformed reply %q", line)
		}
		if code != want {
			msg := ""
			if len(line) > 4 {
				msg = line[4:]
			}
			return &smtp.SMTPError{Code: code, Message: msg}
		}
		return nil
	}
}

// dotStuff returns raw as it goes over the wire after DATA: a dot doubled
// at the start of every line, and the end marker.
func dotStuff(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/64+5)
	if len(raw) > 0 && raw[0] == '.' {
		out = append(out, '.')
	}
	for {
		i := bytes.Index(raw, []byte("\r\n."))
		if i < 0 {
			break
		}
		out = append(out, raw[:i+3]...)
		out = append(out, '.')
		raw = raw[i+3:]
	}
	out = append(out, raw...)
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, "\r\n"...)
	}
	return append(out, ".\r\n"...)
}

// Summary is the result of one load run; -json prints it on one line.
type Summary struct {
	Label       string       `json:"label,omitempty"`
	Target      string       `json:"target"`
	Connections int          `json:"connections"`
	Messages    int          `json:"messages"` // attempted
	Accepted    int          `json:"accepted"` // acknowledged with 250
	Failures    int          `json:"failures"`
	Errors      []string     `json:"errors,omitempty"` // the most frequent, with counts
	Seconds     float64      `json:"seconds"`
	MsgsPerSec  float64      `json:"msgs_per_s"`
	MBPerSec    float64      `json:"mb_per_s"` // accepted message bytes, 1 MB = 10^6 bytes
	Bytes       int64        `json:"bytes"`    // accepted message bytes
	AvgMsgBytes int          `json:"avg_msg_bytes"`
	LatencyMS   Percentiles  `json:"latency_ms"` // whole SMTP transaction per message
	Visible     *Visible     `json:"visible_ms,omitempty"`
	Events      *Events      `json:"ws_event_ms,omitempty"`
	Sink        *SinkStats   `json:"sink,omitempty"`
	Check       *CheckResult `json:"check,omitempty"`
}

// Percentiles of a duration, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Visible is how long after its 250 a message showed in the sink's API.
type Visible struct {
	Method  string `json:"method"` // "wait" (mailsink's wait endpoint, asked before sending) or "poll" (list polled after the 250)
	Samples int    `json:"samples"`
	Missed  int    `json:"missed"` // not visible within -visible-timeout, or an API error
	Percentiles
}

// Events is, with -ws, how long after its 250 each message's "new" event
// reached each open WebSocket: one sample per socket and message.
type Events struct {
	Sockets int `json:"sockets"`
	Samples int `json:"samples"`
	Missed  int `json:"missed"` // not there within -ws-timeout of the 250, or the socket was lost
	Percentiles
}

func (l *loader) summarize(elapsed time.Duration) *Summary {
	s := &Summary{
		Label:       l.cfg.label,
		Target:      l.cfg.addr,
		Connections: l.cfg.c,
		Messages:    len(l.out),
		Seconds:     elapsed.Seconds(),
	}
	var lat, vis, events []time.Duration
	errCount := map[string]int{}
	missed, eventsMissed := 0, 0
	for _, o := range l.out {
		if !o.sent {
			s.Failures++
			if o.err != nil {
				errCount[o.err.Error()]++
			}
			continue
		}
		s.Accepted++
		s.Bytes += int64(o.size)
		lat = append(lat, o.latency)
		if o.visibleTried {
			if o.visibleErr != nil {
				missed++
				errCount["visible: "+o.visibleErr.Error()]++
			} else {
				vis = append(vis, o.visible)
			}
		}
		events = append(events, o.events...)
		if o.eventsMissed > 0 {
			eventsMissed += o.eventsMissed
			errCount[fmt.Sprintf("ws: \"new\" event missing on a socket %s after the 250", l.cfg.wsTimeout)] += o.eventsMissed
		}
	}
	s.MsgsPerSec = float64(s.Accepted) / s.Seconds
	s.MBPerSec = float64(s.Bytes) / 1e6 / s.Seconds
	if s.Accepted > 0 {
		s.AvgMsgBytes = int(s.Bytes / int64(s.Accepted))
	}
	s.LatencyMS = percentiles(lat)
	if l.api != nil && l.cfg.visible {
		method := "poll"
		if l.api.kind == kindMailsink {
			method = "wait"
		}
		s.Visible = &Visible{Method: method, Samples: len(vis), Missed: missed, Percentiles: percentiles(vis)}
	}
	if l.ws != nil {
		s.Events = &Events{Sockets: l.cfg.ws, Samples: len(events), Missed: eventsMissed, Percentiles: percentiles(events)}
		for _, err := range l.ws.lostErrors() {
			errCount["ws: socket lost: "+err.Error()]++
		}
	}
	msgs := slices.Collect(maps.Keys(errCount))
	slices.SortFunc(msgs, func(a, b string) int { return cmp.Or(errCount[b]-errCount[a], strings.Compare(a, b)) })
	for _, msg := range msgs[:min(len(msgs), 5)] {
		s.Errors = append(s.Errors, fmt.Sprintf("%d× %s", errCount[msg], msg))
	}
	return s
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := min(int(q*float64(len(d))), len(d)-1)
		return float64(d[i]) / float64(time.Millisecond)
	}
	return Percentiles{P50: at(0.50), P99: at(0.99), Max: at(1)}
}

func (s *Summary) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d messages accepted over %d connections in %.2fs\n", s.Target, s.Accepted, s.Messages, s.Connections, s.Seconds)
	fmt.Fprintf(&b, "  %.0f msgs/s, %.1f MB/s, %d bytes per message\n", s.MsgsPerSec, s.MBPerSec, s.AvgMsgBytes)
	fmt.Fprintf(&b, "  SMTP transaction p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", s.LatencyMS.P50, s.LatencyMS.P99, s.LatencyMS.Max)
	if v := s.Visible; v != nil {
		fmt.Fprintf(&b, "  250 -> visible in API (%s): p50 %.3f ms, p99 %.3f ms, max %.3f ms over %d; %d missed\n", v.Method, v.P50, v.P99, v.Max, v.Samples, v.Missed)
	}
	if e := s.Events; e != nil {
		fmt.Fprintf(&b, "  250 -> WebSocket \"new\" event, %d sockets: p50 %.3f ms, p99 %.3f ms, max %.3f ms over %d; %d missed\n", e.Sockets, e.P50, e.P99, e.Max, e.Samples, e.Missed)
	}
	if k := s.Sink; k != nil {
		fmt.Fprintf(&b, "  sink pid %d: CPU %.0f ms (%.1f µs per message); RSS %d -> %d KiB (%.0f bytes per message); peak RSS %d KiB\n",
			k.PID, k.CPUMillis, k.CPUMicrosPerMsg, k.RSSBeforeKB, k.RSSAfterKB, k.RSSGrowthPerMsg, k.PeakRSSKB)
	}
	if c := s.Check; c != nil {
		fmt.Fprintf(&b, "  check: %d checked, %d byte-exact, %d missing, %d duplicated, %d mismatched, %d rewritten (content intact), %d stored without a 250\n",
			c.Checked, c.Exact, c.Missing, c.Duplicated, c.Mismatched, c.Rewritten, c.StoredWithout250)
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict is the run's exit status: every message accepted, with -check
// every one found intact, and with -ws every event on every socket.
func (s *Summary) verdict() error {
	if s.Failures > 0 {
		return fmt.Errorf("%d of %d messages not accepted", s.Failures, s.Messages)
	}
	if c := s.Check; c != nil && !c.OK {
		return fmt.Errorf("check failed: %d missing, %d duplicated, %d mismatched, %d rewritten", c.Missing, c.Duplicated, c.Mismatched, c.Rewritten)
	}
	if e := s.Events; e != nil && e.Missed > 0 {
		return fmt.Errorf("-ws: %d of %d \"new\" events missing (%d sockets)", e.Missed, e.Missed+e.Samples, e.Sockets)
	}
	return nil
}
