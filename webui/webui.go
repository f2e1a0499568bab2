package webui

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

//go:embed static
var staticFiles embed.FS

// uiCSP is the policy of the inbox page itself: only our own scripts,
// styles and frames, nothing inline, no plugins, no <base> games.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// Options tune the handler. The zero value is usable.
type Options struct {
	// AllowedOrigins lists extra Origins ("https://host:port", or a bare
	// "host:port") allowed to open the WebSocket; "*" allows any. A
	// same-origin request (Origin host equals the request Host) and a
	// request without Origin (not a browser) are always allowed.
	AllowedOrigins []string
	Logger         *slog.Logger
	Version        string // sent in "stats" frames, as Mailpit sends its own
	// Listeners reports the SMTP ports and whether each is paused, sent in
	// "listeners" frames at connect and after ListenersChanged; nil: none.
	Listeners func() []apitypes.Listener

	PingPeriod    time.Duration // WebSocket ping interval; default 30s
	WriteTimeout  time.Duration // deadline of one WebSocket write; default 10s
	StatsInterval time.Duration // least time between two "stats" frames; default 250ms
}

// Handler serves the inbox, /view/ and /api/events. Close ends the live
// WebSockets, which http.Server.Shutdown does not wait for.
type Handler struct {
	store    *storage.Store
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	upgrader websocket.Upgrader

	mu     sync.Mutex
	closed bool
	quit   chan struct{} // closed by Close
	// listeners is closed, and replaced, when a listener is paused or
	// resumed: every connection then sends a "listeners" frame.
	listeners chan struct{}
	conns     sync.WaitGroup

	clients atomic.Int64 // live WebSockets, for Clients
}

var _ http.Handler = (*Handler)(nil)

// New returns the web UI handler for store. The server mounts it at "/".
func New(store *storage.Store, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PingPeriod <= 0 {
		opts.PingPeriod = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = 250 * time.Millisecond
	}
	h := &Handler{
		store: store,
		opts:  opts,
		log:   opts.Logger,
		mux:   http.NewServeMux(),
		quit:  make(chan struct{}),

		listeners: make(chan struct{}),
	}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		CheckOrigin:     h.checkOrigin,
		Error:           h.handshakeError,
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic("webui: embedded static directory missing: " + err.Error()) // a build error, not a runtime one
	}
	files := http.FileServerFS(static)
	h.mux.Handle("GET /", uiHeaders(files))
	h.mux.HandleFunc("GET /view/{file}", h.serveView)
	h.mux.HandleFunc("GET /api/events", h.serveEvents)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close ends every live WebSocket with a "going away" close frame, refuses
// new ones, and waits for their goroutines. It is safe to call more than once.
func (h *Handler) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.quit)
	}
	h.mu.Unlock()
	h.conns.Wait()
}

// Clients is how many inbox WebSockets are open now.
func (h *Handler) Clients() int { return int(h.clients.Load()) }

// track registers a live connection; it reports false once Close was called.
func (h *Handler) track() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns.Add(1)
	return true
}

// handshakeError answers a refused WebSocket handshake (a foreign Origin,
// not a WebSocket request) like every other error, keeping the version
// header gorilla's own answer carries.
func (h *Handler) handshakeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	w.Header().Set("Sec-Websocket-Version", "13")
	httperr.Write(w, r, h.log, httperr.New(status, reason.Error()))
}

func uiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", uiCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// ListenersChanged tells every open inbox that a listener was paused or
// resumed.
func (h *Handler) ListenersChanged() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.listeners)
	h.listeners = make(chan struct{})
}

func (h *Handler) listenersChanged() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listeners
}
