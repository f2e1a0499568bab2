package api

import (
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/mailsink/mailsink/server/htmlcheck"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/server/linkcheck"
	"github.com/mailsink/mailsink/server/thumbnail"
	"github.com/mailsink/mailsink/storage"
)

// checks are the per-message tools beside Mailpit's message routes:
// thumbnails, the HTML check and the link check. Each is built once per
// API and does its work only when asked.
type checks struct {
	thumbs *thumbnail.Maker
	html   *htmlcheck.Checker
	links  *linkcheck.Checker
}

func newChecks(opts Options) checks {
	return checks{thumbs: thumbnail.New(2), html: htmlcheck.New(), links: linkcheck.New(opts.LinkCheck)}
}

// getThumb answers Mailpit's thumbnail of an image part: always a
// 180x120 JPEG, blank white for a part that is not an image mailsink
// decodes (X-Thumbnail-Blank says why), 404 for a part that is not there.
func (a *API) getThumb(w http.ResponseWriter, r *http.Request) error {
	m, part, err := a.lookupPart(r)
	if err != nil {
		return err
	}
	var res thumbnail.Result
	if mt, _, _ := mime.ParseMediaType(part.ContentType); !strings.HasPrefix(mt, "image/") {
		res.Blank, res.Reason = true, fmt.Sprintf("not an image part (%s)", part.ContentType)
		res.JPEG, err = thumbnail.Blank()
	} else {
		res, err = a.checks.thumbs.Make(r.Context(), part.Content)
	}
	if err != nil {
		return fmt.Errorf("thumbnail of part %q of message %q: %w", part.PartID, m.ID, err)
	}
	name := part.FileName
	if name == "" {
		name = part.ContentID
	}
	name = strings.TrimSuffix(name, path.Ext(name))
	if name == "" {
		name = "thumb"
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name + ".jpg"}))
	h.Set("X-Content-Type-Options", "nosniff")
	if res.Blank {
		h.Set("X-Thumbnail-Blank", strings.ToValidUTF8(res.Reason, "?"))
	}
	w.Write(res.JPEG)
	return nil
}

// htmlOf is the message's HTML body, or a 400 like Mailpit's when it has none.
func htmlOf(m *storage.Message) (string, error) {
	p := m.Parse()
	if p.HTML == "" {
		return "", httperr.BadRequest(fmt.Sprintf("message %q does not contain HTML", m.ID))
	}
	return p.HTML, nil
}

func (a *API) htmlCheck(w http.ResponseWriter, r *http.Request) error {
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	doc, err := htmlOf(m)
	if err != nil {
		return err
	}
	res, err := a.checks.html.Check(doc)
	if err != nil {
		return fmt.Errorf("HTML check of message %q: %w", m.ID, err)
	}
	httperr.JSON(w, http.StatusOK, res)
	return nil
}

func (a *API) linkCheck(w http.ResponseWriter, r *http.Request) error {
	// The check makes mailsink send requests: a page of another site (an
	// <img> in it, say) must not set it off. Browsers say where a request
	// comes from; clients that are not browsers say nothing.
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return httperr.New(http.StatusForbidden, "link check: requested by another site ("+site+"); only the inbox and non-browser clients may ask")
	}
	// Mailpit's clients send follow=true or follow=false.
	var follow bool
	switch v := r.URL.Query().Get("follow"); v {
	case "true", "1":
		follow = true
	case "false", "0", "":
	default:
		return httperr.BadParam("follow", v, "true or false")
	}
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	p := m.Parse()
	res := a.checks.links.Check(r.Context(), a.checks.links.Links(p.HTML, p.Text), follow)
	if res.Links == nil {
		res.Links = []linkcheck.Link{}
	}
	httperr.JSON(w, http.StatusOK, res)
	return nil
}
