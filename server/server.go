// Package server assembles mailsink: it binds every SMTP listener and the
// HTTP port, wires them to one store, and shuts them down together.
//
// Subpackages own the parts: smtpd (SMTP), api (JSON API; its bodies in
// api/apitypes, MailHog's in api/mailhog), httperr (the error answers every
// handler shares), client (Go client of the API), sinktest (in-process
// sink for Go tests). The web inbox lives in the top-level webui package.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailsink/mailsink/server/api"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/api/mailhog"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/httpauth"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/server/linkcheck"
	"github.com/mailsink/mailsink/server/metrics"
	"github.com/mailsink/mailsink/server/smtpd"
	"github.com/mailsink/mailsink/server/webhook"
	"github.com/mailsink/mailsink/storage"
	"github.com/mailsink/mailsink/webui"
)

// Version is reported by the API and the banner; set it at link time with
// -ldflags "-X github.com/mailsink/mailsink/server.Version=...".
var Version = "0.1.0"

// Server is a running mailsink: SMTP listeners, the API and the inbox.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *storage.Store

	listeners []*smtpd.Listener
	httpLn    net.Listener
	http      *http.Server
	ui        *webui.Handler
	certPEM   []byte
	faults    *faults.Set
	notes     []string        // things the user should know, e.g. port fallbacks
	certNote  string          // where the certificate is kept, for the banner
	webhook   *webhook.Sender // nil without MAILSINK_WEBHOOK_URL

	httpCtx    context.Context
	httpCancel context.CancelFunc

	wg      sync.WaitGroup
	errOnce sync.Once
	errc    chan error
}

// New prepares a server; nothing is bound until Start. store may be nil for
// a fresh one sized by cfg.
func New(cfg Config, store *storage.Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if store == nil {
		store = storage.New(storage.Limits{MaxMessages: cfg.MaxMessages, MaxBytes: cfg.MaxStoreBytes})
	}
	store.Sessions().SetSessionLimit(max(cfg.MaxSessions, 1), 500)
	store.SetTagSources(!cfg.TagsNoXTags, !cfg.TagsNoPlus)
	return &Server{cfg: cfg, log: log, store: store, errc: make(chan error, 1), faults: faults.NewSet()}
}

// Faults is the server's fault rule set.
func (s *Server) Faults() *faults.Set { return s.faults }

// Store is the server's message store.
func (s *Server) Store() *storage.Store { return s.store }

// Start binds every port synchronously (a busy port is an error here) and
// then serves in the background. On error nothing stays bound.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if _, err := s.faults.Add(s.cfg.Faults...); err != nil {
		return fmt.Errorf("MAILSINK_FAULTS: %w", err)
	}
	if err := s.setDKIM(); err != nil {
		return err
	}
	cert, certPEM, certNote, err := certificate(s.cfg)
	if err != nil {
		return err
	}
	s.certPEM, s.certNote = certPEM, certNote
	auth, err := s.authPolicy()
	if err != nil {
		return err
	}
	if auth.UI != nil {
		s.notes = append(s.notes, "HTTP basic authentication guards the inbox, the API and /metrics (MAILSINK_UI_AUTH)")
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	opts := smtpd.Options{
		Hostname:       s.cfg.Hostname,
		TLSConfig:      tlsCfg,
		Credentials:    s.cfg.Credentials,
		MaxMessageSize: s.cfg.MaxMessageSize,
		MaxRecipients:  s.cfg.MaxRecipients,
		Timeout:        s.cfg.SMTPTimeout,
		Conns:          smtpd.NewConnLimit(s.cfg.MaxConnections),
		MaxCommands:    s.cfg.MaxCommands,
		DataInFlight:   smtpd.NewByteBudget(s.cfg.MaxDataInFlight),
		MaxLineLength:  s.cfg.MaxLineLength,
		Faults:         s.faults,
		Logger:         s.log,
	}
	if s.cfg.SMTPDebug {
		opts.Debug = slogWriter{s.log}
	}
	for _, lc := range s.cfg.Listeners {
		l, err := smtpd.Listen(s.addr(lc.Port), lc, opts, s.store)
		if err != nil && !s.cfg.ListenersChosen && lc.Port < 1024 && errors.Is(err, syscall.EACCES) {
			alt := lc
			alt.Port = FallbackPort(lc.Port)
			l, err = smtpd.Listen(s.addr(alt.Port), alt, opts, s.store)
			if err == nil {
				s.notes = append(s.notes, fmt.Sprintf("port %d needs privileges; listening on %d instead (set MAILSINK_SMTP to choose ports)", lc.Port, alt.Port))
			}
		}
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
	}

	if s.cfg.WebhookURL != "" {
		s.webhook, err = webhook.New(s.store, webhook.Options{
			URL: s.cfg.WebhookURL, Limit: s.cfg.WebhookLimit, Delay: s.cfg.WebhookDelay,
			Timeout: s.cfg.WebhookTimeout, Queue: s.cfg.WebhookQueue, UserAgent: "mailsink/" + Version, Logger: s.log,
		})
		if err != nil {
			return fmt.Errorf("MAILSINK_WEBHOOK_URL: %w", err)
		}
		s.notes = append(s.notes, "Webhook: each captured message is POSTed to "+redactURL(s.cfg.WebhookURL))
	}

	s.httpLn, err = net.Listen("tcp", s.addr(s.cfg.HTTPPort))
	if err != nil {
		return fmt.Errorf("binding HTTP port %s: %w", s.addr(s.cfg.HTTPPort), err)
	}
	s.httpCtx, s.httpCancel = context.WithCancel(context.WithoutCancel(ctx))
	lc := listenerControl{ls: s.listeners}
	s.ui = webui.New(s.store, webui.Options{AllowedOrigins: s.cfg.AllowedOrigins, Logger: s.log, Version: Version, Listeners: lc.List})
	lc.changed = s.ui.ListenersChanged
	mux := http.NewServeMux()
	apiOpts := api.Options{Logger: s.log, CertPEM: certPEM, Version: Version, Faults: s.faults, Listeners: lc,
		MaxMessageSize: s.cfg.MaxMessageSize, MaxRecipients: s.cfg.MaxRecipients, Hostname: s.cfg.Hostname,
		LinkCheck: linkcheck.Options{AllowPrivate: s.cfg.LinkCheckAllowPrivate, UserAgent: "mailsink/" + Version + " link check"}}
	if s.webhook != nil {
		apiOpts.Webhook = func() apitypes.WebhookStats { return apitypes.WebhookStats(s.webhook.Stats()) }
	}
	a := api.New(s.store, apiOpts)
	mux.Handle("/api/v1/", a)
	// MailHog's API beside it: /api/v1/messages/{id}... (MailHog) does not
	// collide with /api/v1/message/{id} (Mailpit). Not a "/api/v1/messages/"
	// subtree: that would redirect Mailpit's /api/v1/messages to it.
	mh := mailhog.New(s.store, mailhog.Options{Logger: s.log})
	mux.Handle("/api/v2/", mh)
	mux.Handle("/api/v1/messages/{id}", mh)
	mux.Handle("/api/v1/messages/{id}/", mh)
	mux.Handle("/livez", a)
	mux.Handle("/readyz", a)
	mux.Handle("GET /metrics", s.metricsHandler(a))
	mux.Handle("/", s.ui)
	s.http = &http.Server{
		Handler:           s.guard(auth.Wrap(mux)),
		ReadHeaderTimeout: min(10*time.Second, s.cfg.HTTPTimeout),
		// A body trickled in, or shorter than its Content-Length, ends at
		// ReadTimeout (the handler answers 400); the wait endpoint moves its
		// own write deadline, WebSockets set theirs per frame.
		ReadTimeout: s.cfg.HTTPTimeout,
		// The write deadline is set once the headers are read, so a body
		// read that takes the whole ReadTimeout would leave its 400 no time
		// at all: the answer gets a timeout of its own after that.
		WriteTimeout: 2 * s.cfg.HTTPTimeout,
		IdleTimeout:  s.cfg.HTTPTimeout,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// Requests end when the server shuts down (long waits included), not
		// when the caller's context does: Shutdown decides.
		BaseContext: func(net.Listener) context.Context { return s.httpCtx },
	}

	if s.webhook != nil {
		s.webhook.Start() // subscribes now: the first message is seen
	}
	for _, l := range s.listeners {
		s.serve(l.Serve)
	}
	s.serve(func() error {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving HTTP: %w", err)
		}
		return nil
	})
	return nil
}

func (s *Server) addr(port int) string {
	return net.JoinHostPort(s.cfg.Bind, strconv.Itoa(port))
}

func (s *Server) serve(fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil {
			s.errOnce.Do(func() { s.errc <- err })
		}
	}()
}

// Err delivers the first error that stopped a listener while serving.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops accepting, lets sessions finish until ctx is done, then
// closes whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// SMTP first, every listener at once: stop accepting, refuse new
	// transactions, let messages in flight finish within ctx. The API keeps
	// answering meanwhile, so a test can still read what was acknowledged.
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Shutdown(ctx); err != nil {
				fail(fmt.Errorf("shutting down %s: %w", l.Config().Name(), err))
			}
		}()
	}
	wg.Wait()
	// Webhook calls of what was accepted may go out meanwhile, for a moment.
	hookDone := make(chan struct{})
	go func() {
		defer close(hookDone)
		if s.webhook == nil {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, webhookGrace)
		defer cancel()
		if err := s.webhook.Shutdown(hctx); err != nil {
			s.log.Warn("shutting down", "err", err)
		}
	}()
	defer func() { <-hookDone }()
	if s.http != nil {
		s.httpCancel() // ends pending waits, so they do not hold shutdown
		if s.ui != nil {
			s.ui.Close() // hijacked WebSockets are not ended by http.Server.Shutdown
		}
		if err := s.http.Shutdown(ctx); err != nil {
			fail(fmt.Errorf("shutting down HTTP: %w", err))
			s.http.Close()
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *Server) closeAll() {
	if s.webhook != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.webhook.Shutdown(ctx) // never started, or given no time: only stops it
	}
	for _, l := range s.listeners {
		l.Close()
	}
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	if s.ui != nil {
		s.ui.Close()
	}
}

// webhookGrace bounds how long a shutdown lets queued webhook calls go out.
const webhookGrace = 2 * time.Second

// authPolicy reads the HTTP credentials the configuration names; a
// password file with anything but bcrypt hashes is an error here.
func (s *Server) authPolicy() (httpauth.Policy, error) {
	p := httpauth.Policy{SendAcceptAny: s.cfg.SendAPIAuthAcceptAny, Logger: s.log}
	var err error
	if p.UI, err = httpauth.New(s.cfg.UIAuth, s.cfg.UIAuthFile); err != nil {
		return p, fmt.Errorf("MAILSINK_UI_AUTH_FILE: %w", err)
	}
	if p.Send, err = httpauth.New(s.cfg.SendAPIAuth, s.cfg.SendAPIAuthFile); err != nil {
		return p, fmt.Errorf("MAILSINK_SEND_API_AUTH_FILE: %w", err)
	}
	return p, nil
}

// metricsHandler serves /metrics from counters the parts keep anyway.
func (s *Server) metricsHandler(a *api.API) http.Handler {
	src := metrics.Sources{
		Store:  s.store.Stats,
		Limits: s.store.Limits(),
		Listeners: func() []smtpd.Stats {
			out := make([]smtpd.Stats, len(s.listeners))
			for i, l := range s.listeners {
				out[i] = l.Stats()
			}
			return out
		},
		WebSocketClients: s.ui.Clients,
		Waits:            a.Waiting,
	}
	if s.webhook != nil {
		src.Webhook = s.webhook.Stats
	}
	return metrics.Handler(src)
}

// guard refuses what a page on another site could make a browser do here:
// writes from a foreign Origin (CSRF: a form can POST text/plain without a
// preflight) and, while bound to loopback only, requests naming a foreign
// Host (DNS rebinding, which would let such a page read captured mail).
func (s *Server) guard(next http.Handler) http.Handler {
	ip := net.ParseIP(s.cfg.Bind)
	loopbackOnly := s.cfg.Bind == "localhost" || (ip != nil && ip.IsLoopback())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackOnly && !s.hostAllowed(r.Host) {
			httperr.Write(w, r, s.log, httperr.New(http.StatusForbidden, fmt.Sprintf("host %q is not served; mailsink answers to localhost, loopback addresses and MAILSINK_HOSTNAME (or list it in MAILSINK_ALLOWED_ORIGINS)", r.Host)))
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !webui.OriginAllowed(r, s.cfg.AllowedOrigins) {
				httperr.Write(w, r, s.log, httperr.New(http.StatusForbidden, "cross-origin request refused; list the origin in MAILSINK_ALLOWED_ORIGINS to allow it"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.EqualFold(host, s.cfg.Hostname) {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(a, hostport) || strings.HasSuffix(strings.ToLower(a), "://"+strings.ToLower(hostport)) {
			return true
		}
	}
	return false
}

// BoundListener describes one SMTP listener as bound.
type BoundListener struct {
	Addr   net.Addr
	Config ListenerConfig
}

// Listeners returns the bound SMTP listeners, in configuration order.
func (s *Server) Listeners() []BoundListener {
	out := make([]BoundListener, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = BoundListener{Addr: l.Addr(), Config: l.Config()}
	}
	return out
}

// HTTPAddr is the bound web/API address.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// URL is the web inbox and API base URL.
func (s *Server) URL() string { return "http://" + s.HTTPAddr().String() }

// CertificatePEM is the certificate a client should trust: the one the TLS
// listeners present, or with MAILSINK_TLS_DIR the CA that signed it.
func (s *Server) CertificatePEM() []byte { return s.certPEM }

// Banner is the startup text: one line per listener and the URL, then notes.
// Bound to every interface (0.0.0.0, as in the container image), it names
// localhost, which a browser can open, rather than 0.0.0.0, which it cannot.
func (s *Server) Banner() []string {
	host := s.cfg.Bind
	ip := net.ParseIP(host)
	everywhere := ip != nil && ip.IsUnspecified()
	if everywhere {
		host = "localhost"
	}
	var out []string
	for _, l := range s.Listeners() {
		addr := net.JoinHostPort(host, strconv.Itoa(l.Config.Port)) // as configured: not [::]
		hint := ""
		if l.Config.TLS == TLSNone && (l.Config.Auth == AuthOptional || l.Config.Auth == AuthOff) {
			hint = "<- any mailer, host and port alone"
		}
		out = append(out, strings.TrimRight(fmt.Sprintf("SMTP %-22s TLS %-17s AUTH %-8s %s", addr, l.Config.TLS, l.Config.Auth, hint), " "))
	}
	if len(out) == 0 {
		out = append(out, "SMTP (no listeners configured)")
	}
	_, httpPort, _ := net.SplitHostPort(s.HTTPAddr().String())
	base := strings.TrimSuffix(s.InboxURL(), "/")
	out = append(out, "Web inbox and API: "+base+"/")
	if s.usesTLS() {
		out = append(out, "TLS certificate to trust: "+base+"/api/v1/tls/certificate"+s.certNote)
	}
	switch {
	case everywhere && s.cfg.Container:
		out = append(out, "In a container: these are the container's ports; open them on the host as published (docker run -p "+httpPort+":"+httpPort+" ...), under the service name from other containers")
	case everywhere:
		out = append(out, "Listening on every interface ("+s.cfg.Bind+"): from another machine, use this one's name instead of localhost")
	}
	return append(out, s.notes...)
}

// InboxURL is the web inbox's address (the API's too) as a browser on this
// machine opens it: localhost when bound to every interface.
func (s *Server) InboxURL() string {
	host := s.cfg.Bind
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(s.HTTPAddr().String())
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// usesTLS reports whether any listener serves the certificate.
func (s *Server) usesTLS() bool {
	for _, l := range s.listeners {
		if l.Config().TLS != TLSNone {
			return true
		}
	}
	return false
}

// slogWriter logs go-smtp's raw protocol trace line by line.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("smtp", "data", string(p))
	return len(p), nil
}
