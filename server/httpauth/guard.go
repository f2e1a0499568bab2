package httpauth

import (
	"log/slog"
	"net/http"

	"github.com/mailsink/mailsink/server/httperr"
)

// Policy says which credentials guard what. Its zero value guards nothing:
// authentication is off by default.
type Policy struct {
	// UI guards everything served (inbox, API, WebSocket, /metrics) but
	// the probes and the certificate (see open); nil leaves them open.
	UI *Users
	// Send, when set, is the only credential /api/v1/send accepts (as
	// Mailpit's MP_SEND_API_AUTH); nil: the send route is guarded by UI.
	Send *Users
	// SendAcceptAny opens /api/v1/send to any request, with or without
	// credentials (Mailpit's MP_SEND_API_AUTH_ACCEPT_ANY).
	SendAcceptAny bool
	Logger        *slog.Logger
}

// SendPath is the route Policy.Send guards.
const SendPath = "/api/v1/send"

// open reports whether no credential guards path: the health probes,
// which container runtimes and `mailsink healthcheck` call without any,
// and the TLS certificate, which every TLS port presents to anyone who
// connects. (The mux cleans paths before routing, so "/livez/../api/v1/"
// is redirected, never served, unguarded.)
func open(path string) bool {
	switch path {
	case "/livez", "/readyz", "/api/v1/tls/certificate", "/api/v1/certificate":
		return true
	}
	return false
}

// Enabled reports whether the policy guards anything.
func (p Policy) Enabled() bool { return p.UI != nil || p.Send != nil || p.SendAcceptAny }

// Wrap returns next behind the policy; with nothing to guard, next itself.
func (p Policy) Wrap(next http.Handler) http.Handler {
	if !p.Enabled() {
		return next
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		users := p.UI
		switch {
		case open(r.URL.Path):
			users = nil
		case r.URL.Path == SendPath && p.SendAcceptAny:
			users = nil
		case r.URL.Path == SendPath && p.Send != nil:
			users = p.Send
		}
		if users != nil {
			name, pass, ok := r.BasicAuth()
			if !ok || !users.Check(name, pass) {
				// The same answer for no credentials, an unknown user and
				// a wrong password.
				w.Header().Set("WWW-Authenticate", `Basic realm="mailsink", charset="UTF-8"`)
				httperr.Write(w, r, p.Logger, httperr.New(http.StatusUnauthorized, "authentication required"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
