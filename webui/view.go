package webui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/mailsink/mailsink/storage"
)

// viewCSP confines a message's own HTML: no script at all (the sandbox has
// no allow-scripts), no network but our own part URLs, and links that open
// in a new, unsandboxed tab. remoteImages adds http(s) to img-src only.
func viewCSP(remoteImages bool) string {
	img := "img-src data: 'self'"
	if remoteImages {
		img += " http: https:"
	}
	return "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; " +
		"style-src 'unsafe-inline' data:; " + img + "; font-src data:"
}

var (
	cidRef      = regexp.MustCompile(`(?i)\bcid:([^"'\s()<>]+)`)
	headOpen    = regexp.MustCompile(`(?i)<head(?:\s[^>]*)?>`)
	htmlOpen    = regexp.MustCompile(`(?i)<html(?:\s[^>]*)?>`)
	doctype     = regexp.MustCompile(`(?i)^\s*<!doctype[^>]*>`)
	metaRefresh = regexp.MustCompile(`(?i)<meta\b[^>]*http-equiv\s*=\s*["']?\s*refresh[^>]*>`)
)

// serveView answers /view/{id}.html (the HTML body for the inbox's iframe)
// and /view/{id}.txt (the text body).
func (h *Handler) serveView(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	id, kind, ok := strings.Cut(file, ".")
	if !ok || (kind != "html" && kind != "txt") {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	m, err := h.store.Get(id)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, "message not found")
		return
	} else if err != nil {
		h.log.Error("view: getting message", "id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	p := m.Parse()
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	if kind == "txt" {
		hd.Set("Content-Security-Policy", viewCSP(false))
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(p.Text)) // a failed write means the client left
		return
	}
	if p.HTML == "" {
		writeError(w, http.StatusNotFound, "message has no HTML part")
		return
	}
	hd.Set("Content-Security-Policy", viewCSP(r.URL.Query().Get("remote") == "1"))
	hd.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(prepareHTML(m.ID, p)))
}

// prepareHTML points cid: references at the part endpoint, drops meta
// refresh (the sandbox blocks it too; this is belt and braces) and makes
// links open outside the frame. It does not sanitise: the CSP and the
// sandbox are what keep the message's HTML inert.
func prepareHTML(id string, p *storage.Parsed) string {
	parts := map[string]string{}
	for _, list := range [][]storage.Attachment{p.Inline, p.Attachments} {
		for _, a := range list {
			if a.ContentID != "" {
				cid := strings.ToLower(strings.Trim(a.ContentID, "<>"))
				if _, dup := parts[cid]; !dup {
					parts[cid] = "/api/v1/message/" + url.PathEscape(id) + "/part/" + url.PathEscape(a.PartID)
				}
			}
		}
	}
	html := cidRef.ReplaceAllStringFunc(p.HTML, func(ref string) string {
		cid := ref[len("cid:"):]
		if u, err := url.PathUnescape(cid); err == nil {
			cid = u
		}
		if path, ok := parts[strings.ToLower(strings.Trim(cid, "<>"))]; ok {
			return path
		}
		return ref
	})
	html = metaRefresh.ReplaceAllString(html, "")

	const base = `<base target="_blank">`
	if loc := headOpen.FindStringIndex(html); loc != nil {
		return html[:loc[1]] + base + html[loc[1]:]
	}
	if loc := htmlOpen.FindStringIndex(html); loc != nil {
		return html[:loc[1]] + base + html[loc[1]:]
	}
	if loc := doctype.FindStringIndex(html); loc != nil {
		return html[:loc[1]] + base + html[loc[1]:]
	}
	return base + html
}

// writeError writes {"Error": msg}; msg is ours, never internal error text.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct{ Error string }{msg}) // a failed write means the client left
}
