// Command mailsink runs the SMTP test sink: it reads configuration from
// flags and MAILSINK_* variables and hands it to package server.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/gctune"
	"github.com/mailsink/mailsink/server/sendmail"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if code, ok := sendmailMode(ctx, os.Args); ok {
		stop()
		os.Exit(code)
	}
	if os.Getenv("GOGC") == "" { // a GOGC the user set wins
		gctune.Start(ctx, gctune.Options{})
	}
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code. It serves until ctx
// is done (SIGINT or SIGTERM in main).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "healthcheck" || args[0] == "readyz") { // readyz: Mailpit's name, in Compose files written for it
		return healthcheck(getenv, stderr)
	}
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			server.Usage(stdout)
			return 0
		case "-version", "--version":
			fmt.Fprintf(stdout, "mailsink %s (%s, %s/%s)\n", server.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		}
	}
	cfg, err := server.LoadConfig(args, getenv, stderr)
	if errors.Is(err, server.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailsink:", err)
		return 2
	}
	cfg.Container = inContainer(getenv)
	level := slog.LevelInfo
	if cfg.SMTPDebug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv := server.New(cfg, nil, log)
	if err := srv.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "mailsink:", err)
		return 1
	}
	fmt.Fprintf(stdout, "mailsink %s\n", server.Version)
	for _, line := range srv.Banner() {
		fmt.Fprintln(stdout, "  "+line)
	}
	log.Info("web inbox and API", "url", srv.InboxURL()) // for logs that never see the banner (docker logs, CI)
	code := 0
	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		fmt.Fprintln(stderr, "mailsink:", err)
		code = 1
	}
	// Docker sends SIGKILL 10 s after SIGTERM: finish well before.
	log.Info("shutting down; messages being received get " + shutdownGrace.String() + " to finish")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	return code
}

// sendmailMode runs `mailsink sendmail ...`, or the binary invoked through a
// link named sendmail (so it can be /usr/sbin/sendmail), and reports
// whether it did.
func sendmailMode(ctx context.Context, argv []string) (int, bool) {
	env := sendmail.Env{Name: "sendmail", Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now}
	switch {
	case len(argv) > 0 && filepath.Base(argv[0]) == "sendmail":
		argv = argv[1:]
	case len(argv) > 1 && argv[1] == "sendmail":
		env.Name, argv = "mailsink sendmail", argv[2:]
	default:
		return 0, false
	}
	env.Hostname, _ = os.Hostname() // "" becomes localhost
	env.User = loginName()
	return sendmail.Run(ctx, argv, env), true
}

// loginName is the invoking user's name, for the default sender; a
// container's user may have no passwd entry.
func loginName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, v := range []string{"LOGNAME", "USER"} {
		if n := os.Getenv(v); n != "" {
			return n
		}
	}
	return "nobody"
}

// shutdownGrace bounds a shutdown: new transactions are refused at once,
// messages in flight may finish within it.
const shutdownGrace = 7 * time.Second

// inContainer tells whether mailsink runs in a container: Docker leaves
// /.dockerenv, Podman /run/.containerenv and $container.
func inContainer(getenv func(string) string) bool {
	if getenv("container") != "" {
		return true
	}
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// healthcheck asks the local API whether it is alive: the container image
// has no curl.
func healthcheck(getenv func(string) string, stderr io.Writer) int {
	port := server.DefaultConfig().HTTPPort
	if v := getenv("MAILSINK_HTTP_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintf(stderr, "healthcheck: MAILSINK_HTTP_PORT %q is not a port\n", v)
			return 1
		}
		port = p
	}
	host := "127.0.0.1"
	if b := getenv("MAILSINK_BIND"); b != "" && b != "0.0.0.0" && b != "::" {
		host = b // bound to one address only: ask there
	}
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/livez"
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
