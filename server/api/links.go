package api

import (
	"net/http"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/server/links"
)

// getLinks answers the message's links (latest and ?query= as for the
// message itself).
func (a *API) getLinks(w http.ResponseWriter, r *http.Request) error {
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	p := m.Parse()
	found := links.Find(p.HTML, p.Text)
	out := apitypes.Links{ID: m.ID, Links: make([]apitypes.Link, len(found))}
	for i, l := range found {
		out.Links[i] = apitypes.Link(l)
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}

// getCodes answers what ?pattern= (a Go regular expression; default a 4
// to 8 digit code) finds in the message's subject and bodies.
func (a *API) getCodes(w http.ResponseWriter, r *http.Request) error {
	pattern := r.URL.Query().Get("pattern")
	re, err := links.Compile(pattern)
	if err != nil {
		return httperr.BadRequest("parameter pattern: " + err.Error())
	}
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	p := m.Parse()
	found := links.Codes(re, m.Summary().Subject, p.Text, p.HTML)
	out := apitypes.Codes{ID: m.ID, Pattern: re.String(), Codes: make([]apitypes.Code, len(found))}
	for i, c := range found {
		out.Codes[i] = apitypes.Code(c)
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}
