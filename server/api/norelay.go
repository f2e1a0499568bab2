package api

import (
	"net/http"

	"github.com/mailsink/mailsink/server/httperr"
)

// Two Mailpit routes that a sink cannot honour, answered with a 400 that
// says why rather than the catch-all 404, which reads as a missing message:
// Mailpit clients call them (the npm mailpit-api has a method for each).

// release is Mailpit's relay of a captured message to a real SMTP server.
// mailsink never sends mail anywhere: that is the point of a sink.
func (a *API) release(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.lookup(r); err != nil {
		return err
	}
	return httperr.BadRequest("mailsink never relays mail: captured messages stay in the sink (Mailpit's release needs an SMTP relay, which mailsink does not have)")
}

// spamAssassinCheck is Mailpit's SpamAssassin report, which needs a spamd
// to ask; mailsink has no setting for one.
func (a *API) spamAssassinCheck(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.lookup(r); err != nil {
		return err
	}
	return httperr.BadRequest("no SpamAssassin daemon is configured: mailsink does not run SpamAssassin checks")
}
