package webui

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/mailsink/mailsink/server/httperr"
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
	if err := h.view(w, r); err != nil {
		httperr.Write(w, r, h.log, err)
	}
}

func (h *Handler) view(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	id, kind, ok := strings.Cut(file, ".")
	if !ok || (kind != "html" && kind != "txt") {
		return httperr.New(http.StatusNotFound, "view "+strconv.Quote(file)+" not found: want ID.html or ID.txt")
	}
	remote, err := httperr.BoolParam(r, "remote")
	if err != nil {
		return err
	}
	m, err := h.store.Get(id)
	if err != nil {
		return httperr.NotFoundAs("message "+strconv.Quote(id), err)
	}
	p := m.Parse()
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	if kind == "txt" {
		hd.Set("Content-Security-Policy", viewCSP(false))
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(p.Text)) // a failed write means the client left
		return nil
	}
	if p.HTML == "" {
		return httperr.NotFound("HTML part of message " + strconv.Quote(id))
	}
	hd.Set("Content-Security-Policy", viewCSP(remote))
	hd.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(prepareHTML(m.ID, p)))
	return nil
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
