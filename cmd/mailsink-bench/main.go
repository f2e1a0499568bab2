// Command mailsink-bench loads an SMTP sink and measures it: messages over
// many connections, each SMTP transaction timed; with the sink's HTTP API,
// how soon an accepted message becomes visible there, how soon (-ws) its
// event reaches every one of N open inbox WebSockets, and (-check) whether
// every message acknowledged with 250 is stored byte-exact, once. It works
// against mailsink, Mailpit and Inbucket alike, so .ci/compare.sh can put
// them side by side.
//
// Two more modes serve that script: -serve-discard runs a bare go-smtp
// server that throws every message away (the practical limit a sink is
// compared with), and -table turns the script's result lines into the
// comparison table.
//
// It imports nothing of mailsink's: it measures the product from outside.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is every flag; one mode runs from it.
type config struct {
	addr        string
	n, c, per   int
	size        int
	attach      int
	startTLS    bool
	implicitTLS bool
	auth        string // user:pass
	timeout     time.Duration

	api            string
	apiKind        string
	visible        bool
	visibleTimeout time.Duration
	waitLead       time.Duration
	ws             int // WebSockets to /api/events held open during the run
	wsTimeout      time.Duration
	check          bool
	allowRewritten bool

	pid    int
	settle time.Duration

	jsonOut bool
	label   string

	serveDiscard string
	cpuprofile   string
	table        string
}

const usageText = `mailsink-bench loads an SMTP sink and measures it.

  mailsink-bench -addr 127.0.0.1:1025 -c 16 -per 50 -json
  mailsink-bench -addr 127.0.0.1:1025 -n 50000 -c 64 -api http://127.0.0.1:8025 -check
  mailsink-bench -addr 127.0.0.1:1025 -c 1 -n 200 -api http://127.0.0.1:8025   # 250 -> visible latency
  mailsink-bench -addr 127.0.0.1:1025 -c 1 -n 500 -api http://127.0.0.1:8025 -ws 100   # ... and -> WebSocket event, 100 tabs open
  mailsink-bench -serve-discard 127.0.0.1:2500 [-cpuprofile cpu.out]         # the baseline
  mailsink-bench -table results.jsonl                                         # compare.sh's table

Flags:
`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("mailsink-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:1025", "SMTP `host:port` to load")
	fs.IntVar(&cfg.n, "n", 1000, "total messages, spread over the connections")
	fs.IntVar(&cfg.c, "c", 16, "concurrent SMTP connections")
	fs.IntVar(&cfg.per, "per", 0, "messages per connection (instead of -n: total = c × per)")
	fs.IntVar(&cfg.size, "size", 5400, "message size in bytes, headers and text body (without the attachment)")
	fs.IntVar(&cfg.attach, "attach", 0, "attachment size in bytes, sent base64-encoded in a multipart/mixed message (0: none)")
	fs.BoolVar(&cfg.startTLS, "starttls", false, "STARTTLS before sending (any certificate is accepted)")
	fs.BoolVar(&cfg.implicitTLS, "implicit-tls", false, "TLS from the first byte, as on port 465 (any certificate is accepted)")
	fs.StringVar(&cfg.auth, "auth", "", "AUTH PLAIN as `user:pass`")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per dial and SMTP command")
	fs.StringVar(&cfg.api, "api", "", "sink API base `URL` (http://host:port): measure 250 -> visible latency; needed by -check")
	fs.StringVar(&cfg.apiKind, "api-kind", "auto", "API flavour: mailsink, mailpit, inbucket or auto (probe)")
	fs.BoolVar(&cfg.visible, "visible", true, "with -api: time 250 -> visible in the API for every message (-visible=false for -check alone)")
	fs.DurationVar(&cfg.visibleTimeout, "visible-timeout", 10*time.Second, "give up on a message not visible in the API after this long")
	fs.DurationVar(&cfg.waitLead, "wait-lead", time.Millisecond, "with mailsink's wait endpoint: pause between sending the wait request and the message")
	fs.IntVar(&cfg.ws, "ws", 0, "with -api: hold `N` WebSockets to /api/events open, as N inbox tabs would, and time 250 -> \"new\" event on every one")
	fs.DurationVar(&cfg.wsTimeout, "ws-timeout", 5*time.Second, "with -ws: an event not on a socket this long after its 250 is missing, and fails the run")
	fs.BoolVar(&cfg.check, "check", false, "after sending, fetch every message through the API and prove each one acknowledged with 250 is stored byte-exact (SHA-256), none twice")
	fs.BoolVar(&cfg.allowRewritten, "allow-rewritten", false, "with -check: accept a message stored with trace headers prepended or with LF line endings, its content intact (Mailpit and Inbucket do that)")
	fs.IntVar(&cfg.pid, "pid", 0, "sink process `ID`: report its CPU time (utime+stime) and memory (VmRSS, VmHWM) from /proc around the load")
	fs.DurationVar(&cfg.settle, "settle", 300*time.Millisecond, "with -pid: wait this long after the last message before reading /proc, so work the sink does after the 250 is counted")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the summary as JSON")
	fs.StringVar(&cfg.label, "label", "", "free text copied into the JSON summary (compare.sh: sink:phase:round)")
	fs.StringVar(&cfg.serveDiscard, "serve-discard", "", "run a bare go-smtp server on `host:port` that discards every message, until SIGINT/SIGTERM")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the tool (or, with -serve-discard, of the baseline server) to `file`")
	fs.StringVar(&cfg.table, "table", "", "print the comparison table from a `file` of JSON summaries (one per line) and exit")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.validate()
}

func (cfg *config) validate() error {
	switch {
	case cfg.serveDiscard != "" || cfg.table != "":
		return nil
	case cfg.c < 1:
		return errors.New("-c: want 1 or more connections")
	case cfg.per < 0, cfg.per == 0 && cfg.n < 1:
		return errors.New("-n or -per: want 1 or more messages")
	case cfg.size < 0 || cfg.attach < 0:
		return errors.New("-size and -attach: want 0 or more bytes")
	case cfg.startTLS && cfg.implicitTLS:
		return errors.New("-starttls and -implicit-tls: choose one")
	case cfg.auth != "" && !strings.Contains(cfg.auth, ":"):
		return errors.New("-auth: want user:pass")
	case cfg.check && cfg.api == "":
		return errors.New("-check needs -api")
	case cfg.ws < 0:
		return errors.New("-ws: want 0 or more sockets")
	case cfg.ws > 0 && cfg.api == "":
		return errors.New("-ws needs -api")
	case cfg.ws > 0 && cfg.wsTimeout <= 0:
		return errors.New("-ws-timeout: want a positive duration")
	}
	switch cfg.apiKind {
	case "auto", kindMailsink, kindMailpit, kindInbucket:
	default:
		return fmt.Errorf("-api-kind %q: want mailsink, mailpit, inbucket or auto", cfg.apiKind)
	}
	cfg.api = strings.TrimRight(cfg.api, "/")
	return nil
}

func (cfg *config) total() int {
	if cfg.per > 0 {
		return cfg.c * cfg.per
	}
	return cfg.n
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailsink-bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch {
	case cfg.table != "":
		err = printTable(cfg.table, stdout)
	case cfg.serveDiscard != "":
		err = serveDiscard(ctx, cfg.serveDiscard, cfg.cpuprofile, stdout)
	default:
		var sum *Summary
		if cfg.cpuprofile != "" {
			stopProfile, perr := startCPUProfile(cfg.cpuprofile)
			if perr != nil {
				fmt.Fprintln(stderr, "mailsink-bench:", perr)
				return 1
			}
			defer stopProfile()
		}
		sum, err = load(ctx, cfg)
		if sum != nil {
			if werr := sum.write(stdout, cfg.jsonOut); werr != nil && err == nil {
				err = werr
			}
			if err == nil {
				err = sum.verdict()
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailsink-bench:", err)
		return 1
	}
	return 0
}
