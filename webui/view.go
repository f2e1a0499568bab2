package webui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

// viewCSP confines a message's own HTML: no script at all (the sandbox has
// no allow-scripts), and links that open in a new, unsandboxed tab. Images
// may come only from this message's own parts (what cid: references are
// rewritten to): not 'self', or an <img> could GET any route of mailsink
// when the message is merely opened, a link check among them.
// remoteImages adds http(s) to img-src only.
func viewCSP(r *http.Request, id string, remoteImages bool) string {
	// An http source also matches https (CSP 3), for a TLS proxy in front.
	img := "img-src data: http://" + r.Host + "/api/v1/message/" + url.PathEscape(id) + "/part/"
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
	baseTag     = regexp.MustCompile(`(?i)<base\b[^>]*>`)
)

// serveView answers Mailpit's testing routes: /view/{ID}.html (the HTML
// body, also the inbox's iframe), /view/{ID}.txt (the text body), and
// /view/{ID} (the message in the inbox, by a redirect). {ID} may be
// "latest", with ?query= a search as /api/v1/search reads it.
func (h *Handler) serveView(w http.ResponseWriter, r *http.Request) {
	if err := h.view(w, r); err != nil {
		httperr.Write(w, r, h.log, err)
	}
}

func (h *Handler) view(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	id, kind, _ := strings.Cut(file, ".")
	if kind != "" && kind != "html" && kind != "txt" {
		return httperr.New(http.StatusNotFound, "view "+strconv.Quote(file)+" not found: want ID.html, ID.txt or ID")
	}
	remote, err := httperr.BoolParam(r, "remote")
	if err != nil {
		return err
	}
	embed, err := httperr.BoolParam(r, "embed")
	if err != nil {
		return err
	}
	m, err := h.resolve(r, id)
	if kind == "" {
		// Mailpit opens the message in its UI; so does mailsink, where
		// the inbox's address for a message is #/message/{ID}. Nothing
		// found opens the inbox.
		to := "/"
		if err == nil {
			to = "/#/message/" + url.PathEscape(m.ID)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		w.Header().Set("Location", to)
		w.WriteHeader(http.StatusFound) // no body: nothing reads it
		return nil
	}
	if err != nil {
		return err
	}
	p := m.Parse()
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	if kind == "txt" {
		hd.Set("Content-Security-Policy", viewCSP(r, m.ID, false))
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(p.Text)) // a failed write means the client left
		return nil
	}
	if p.HTML == "" {
		return httperr.NotFound("HTML part of message " + strconv.Quote(m.ID))
	}
	doc := prepareHTML(m.ID, p)
	if embed {
		doc = embedLinks(doc)
	}
	hd.Set("Content-Security-Policy", viewCSP(r, m.ID, remote))
	hd.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(doc))
	return nil
}

// resolve finds the message {ID} names: an ID, or "latest", the newest
// message or the newest matching ?query=.
func (h *Handler) resolve(r *http.Request, id string) (*storage.Message, error) {
	if id != "latest" {
		m, err := h.store.Get(id)
		return m, httperr.NotFoundAs("message "+strconv.Quote(id), err)
	}
	q := r.URL.Query().Get("query")
	f, err := storage.ParseQuery(q, time.Now(), time.Local)
	var qe *storage.QueryError
	if errors.As(err, &qe) {
		return nil, httperr.BadRequest(fmt.Sprintf("parameter query=%q: %s", qe.Query, qe.Problem))
	} else if err != nil {
		return nil, err
	}
	m, err := h.store.Latest(f)
	if q != "" {
		return m, httperr.NotFoundAs(fmt.Sprintf("message matching query %q", q), err)
	}
	return m, httperr.NotFoundAs("latest message", err)
}

// embedLinks is Mailpit's embed=1: the document parsed and written out
// whole, every link opening a new tab without a referrer or an opener.
// Mailpit also adds a script that posts the page's height to the parent;
// the sandbox runs no script, so mailsink does not.
func embedLinks(doc string) string {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return doc // html.Parse fails only on a failed read
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.A {
			setAttr(n, "target", "_blank")
			setAttr(n, "rel", "noreferrer noopener")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	var b strings.Builder
	if err := html.Render(&b, root); err != nil {
		return doc
	}
	return b.String()
}

func setAttr(n *html.Node, key, val string) {
	for i := range n.Attr {
		if n.Attr[i].Namespace == "" && n.Attr[i].Key == key {
			n.Attr[i].Val = val
			return
		}
	}
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}

// prepareHTML points cid: references at the part endpoint, drops meta
// refresh (the sandbox blocks it too; this is belt and braces) and the
// message's own <base>, as Mailpit does, and makes links open outside the
// frame. It does not sanitise: the CSP and the
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
	doc := cidRef.ReplaceAllStringFunc(p.HTML, func(ref string) string {
		cid := ref[len("cid:"):]
		if u, err := url.PathUnescape(cid); err == nil {
			cid = u
		}
		if path, ok := parts[strings.ToLower(strings.Trim(cid, "<>"))]; ok {
			return path
		}
		return ref
	})
	doc = metaRefresh.ReplaceAllString(doc, "")
	doc = baseTag.ReplaceAllString(doc, "") // a <base href> would re-aim relative links

	const base = `<base target="_blank">`
	if loc := headOpen.FindStringIndex(doc); loc != nil {
		return doc[:loc[1]] + base + doc[loc[1]:]
	}
	if loc := htmlOpen.FindStringIndex(doc); loc != nil {
		return doc[:loc[1]] + base + doc[loc[1]:]
	}
	if loc := doctype.FindStringIndex(doc); loc != nil {
		return doc[:loc[1]] + base + doc[loc[1]:]
	}
	return base + doc
}
