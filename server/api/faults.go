package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

func (a *API) listFaults(w http.ResponseWriter, r *http.Request) error {
	rules := a.opts.Faults.Rules()
	if rules == nil {
		rules = []faults.Rule{}
	}
	httperr.JSON(w, http.StatusOK, apitypes.FaultRules{Rules: rules})
	return nil
}

// addFaults takes one rule object or an array of them and answers with the
// rules as stored (with IDs).
func (a *API) addFaults(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	var rules []faults.Rule
	const want = `{"Stage":"rcpt","Reply":"550 5.1.1 User unknown"} or an array of them`
	if trimmed := strings.TrimSpace(string(data)); strings.HasPrefix(trimmed, "[") {
		err = decodeStrict(data, &rules, want)
	} else {
		var one faults.Rule
		err = decodeStrict(data, &one, want)
		rules = []faults.Rule{one}
	}
	if err != nil {
		return err
	}
	added, err := a.opts.Faults.Add(rules...)
	if err != nil {
		return httperr.BadRequest(err.Error())
	}
	httperr.JSON(w, http.StatusCreated, apitypes.FaultRules{Rules: added})
	return nil
}

func (a *API) deleteFaults(w http.ResponseWriter, r *http.Request) error {
	a.opts.Faults.RemoveIf(nil)
	return ok(w, r)
}

func (a *API) deleteFault(w http.ResponseWriter, r *http.Request) error {
	if id := r.PathValue("id"); !a.opts.Faults.Remove(id) {
		return httperr.NotFound("fault rule " + strconv.Quote(id))
	}
	return ok(w, r)
}

func (a *API) getFault(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	for _, rule := range a.opts.Faults.Rules() {
		if rule.ID == id {
			httperr.JSON(w, http.StatusOK, rule)
			return nil
		}
	}
	return httperr.NotFound("fault rule " + strconv.Quote(id))
}

func (a *API) resetFault(w http.ResponseWriter, r *http.Request) error {
	if id := r.PathValue("id"); !a.opts.Faults.Reset(id) {
		return httperr.NotFound("fault rule " + strconv.Quote(id))
	}
	return ok(w, r)
}

// chaosIDs are the fault rules that stand for Mailpit's chaos triggers.
var chaosStages = []struct {
	id    string
	stage faults.Stage
	text  string
	def   int
}{
	{"chaos-sender", faults.Mail, "Chaos sender error", 451},
	{"chaos-recipient", faults.Rcpt, "Chaos recipient error", 451},
	{"chaos-authentication", faults.Auth, "Chaos authentication error", 535},
}

func (a *API) getChaos(w http.ResponseWriter, r *http.Request) error {
	httperr.JSON(w, http.StatusOK, a.chaos())
	return nil
}

func (a *API) chaos() apitypes.ChaosTriggers {
	var out apitypes.ChaosTriggers
	triggers := []*apitypes.ChaosTrigger{&out.Sender, &out.Recipient, &out.Authentication}
	for i, c := range chaosStages {
		*triggers[i] = apitypes.ChaosTrigger{ErrorCode: c.def}
	}
	for _, rule := range a.opts.Faults.Rules() {
		for i, c := range chaosStages {
			// A rule that only has a chaos ID (a drop or a delay added
			// through /api/v1/faults) is no Mailpit trigger.
			if rep, hasReply := rule.ParsedReply(); rule.ID == c.id && hasReply {
				*triggers[i] = apitypes.ChaosTrigger{ErrorCode: rep.Code, Probability: int(rule.Probability*100 + 0.5)}
			}
		}
	}
	return out
}

// putChaos replaces the chaos triggers, as Mailpit's PUT does: omitted
// triggers reset to 0%.
func (a *API) putChaos(w http.ResponseWriter, r *http.Request) error {
	var in apitypes.ChaosTriggers
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if !empty(data) {
		if err := decodeStrict(data, &in, `{"Sender":{"ErrorCode":451,"Probability":10},...}`); err != nil {
			return err
		}
	}
	triggers := []apitypes.ChaosTrigger{in.Sender, in.Recipient, in.Authentication}
	var rules []faults.Rule
	for i, c := range chaosStages {
		t := triggers[i]
		if t.ErrorCode == 0 {
			t.ErrorCode = c.def
		}
		if t.ErrorCode < 400 || t.ErrorCode > 599 || t.Probability < 0 || t.Probability > 100 {
			return httperr.BadRequest(fmt.Sprintf("chaos trigger %d: ErrorCode must be 400-599 and Probability 0-100", i))
		}
		if t.Probability == 0 {
			continue
		}
		rules = append(rules, faults.Rule{ID: c.id, Stage: c.stage, Reply: fmt.Sprintf("%d %s", t.ErrorCode, c.text), Probability: float64(t.Probability) / 100})
	}
	for _, r := range rules { // validate before touching the live set
		if err := r.Validate(); err != nil {
			return httperr.BadRequest(err.Error())
		}
	}
	a.opts.Faults.RemoveIf(func(r faults.Rule) bool { return strings.HasPrefix(r.ID, "chaos-") })
	if _, err := a.opts.Faults.Add(rules...); err != nil {
		return httperr.BadRequest(err.Error())
	}
	httperr.JSON(w, http.StatusOK, a.chaos())
	return nil
}

// listSessions answers newest first, optionally filtered by listener port
// (?port=), client address prefix (?client=), message ID (?message=) and
// whether a fault fired (?faulted=1) or the session had an error
// (?errors=1, apitypes.Verdict); ?limit= (default 100).
func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	port, err := httperr.IntParam(r, "port", 0)
	if err != nil {
		return err
	}
	limit, err := httperr.IntParam(r, "limit", 100)
	if err != nil {
		return err
	}
	faulted, err := httperr.BoolParam(r, "faulted")
	if err != nil {
		return err
	}
	errorsOnly, err := httperr.BoolParam(r, "errors")
	if err != nil {
		return err
	}
	withLines := true // ?lines=0: summaries, for a list that opens one at a time
	if r.URL.Query().Has("lines") {
		if withLines, err = httperr.BoolParam(r, "lines"); err != nil {
			return err
		}
	}
	q := r.URL.Query()
	client, msg := q.Get("client"), q.Get("message")
	list := a.store.Sessions().List(func(t *storage.Transcript) bool {
		if port != 0 && t.Port != port {
			return false
		}
		if client != "" && !strings.HasPrefix(t.ClientAddr, client) && !strings.HasPrefix(strings.TrimPrefix(t.ClientAddr, "["), client) {
			return false
		}
		if faulted && len(t.Faults) == 0 {
			return false
		}
		if errorsOnly && !failed(t) {
			return false
		}
		if msg != "" {
			for _, id := range t.MessageIDs {
				if id == msg {
					return true
				}
			}
			return false
		}
		return true
	})
	total := len(list)
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	out := apitypes.Sessions{Total: total, Sessions: make([]*apitypes.Transcript, len(list))}
	for i, t := range list {
		out.Sessions[i] = TranscriptOf(t, withLines)
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}

// failed reports whether a session had an error (apitypes.Verdict).
func failed(t *storage.Transcript) bool {
	var v apitypes.Verdict
	for _, l := range t.Lines {
		if v.Add(l.Dir, l.Text); v.ErrorCount > 0 {
			return true
		}
	}
	return false
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t, err := a.store.Sessions().Get(id)
	if err != nil {
		return httperr.NotFoundAs("session "+strconv.Quote(id), err)
	}
	httperr.JSON(w, http.StatusOK, TranscriptOf(t, true))
	return nil
}

func (a *API) deleteSessions(w http.ResponseWriter, r *http.Request) error {
	a.store.Sessions().Clear()
	return ok(w, r)
}
