package api

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/textproto"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/server/linkcheck"
	"github.com/mailsink/mailsink/storage"
)

// Options configure the API.
type Options struct {
	Logger  *slog.Logger
	CertPEM []byte // served at /api/v1/tls/certificate
	Version string
	Now     func() time.Time // for relative dates in queries; nil: time.Now
	Faults  *faults.Set      // edited by /api/v1/faults and /api/v1/chaos
	// Listeners lists and pauses the SMTP ports (/api/v1/listeners); nil:
	// none are shown.
	Listeners Listeners

	// POST /api/v1/send holds messages to the SMTP listeners' limits
	// (0: none) and names its Message-IDs after Hostname.
	MaxMessageSize int64
	MaxRecipients  int
	Hostname       string

	// LinkCheck bounds /api/v1/message/{ID}/link-check; by default it
	// refuses private and loopback addresses.
	LinkCheck linkcheck.Options

	// Webhook reports the webhook's counters for /api/v1/info; nil
	// without a webhook.
	Webhook func() apitypes.WebhookStats
}

// Listeners is the SMTP side as the API controls it: to simulate an
// outage, a port is paused and resumed.
type Listeners interface {
	List() []apitypes.Listener
	// Pause and Resume return ErrNoListener for a port with no listener;
	// other errors are the server's (a port taken meanwhile).
	Pause(port int, mode string) error
	Resume(port int) error
}

// ErrNoListener is a port mailsink does not listen on.
var ErrNoListener = errors.New("no SMTP listener on that port")

// API serves /api/v1/ and the health probes.
type API struct {
	store   *storage.Store
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	started time.Time
	checks  checks
	waiting atomic.Int64 // waits in progress, for Waiting
}

// maxBody caps request bodies, like Mailpit.
const maxBody = 5 << 20

// New returns the API handler over store.
func New(store *storage.Store, opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Faults == nil {
		opts.Faults = faults.NewSet()
	}
	a := &API{store: store, opts: opts, log: opts.Logger, mux: http.NewServeMux(), started: opts.Now(), checks: newChecks(opts)}
	// h registers a route; bodyLimit replaces maxBody (0: no limit).
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request) error, bodyLimit ...int64) {
		limit := int64(maxBody)
		if len(bodyLimit) > 0 {
			limit = bodyLimit[0]
		}
		a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if limit > 0 {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			if err := fn(w, r); err != nil {
				httperr.Write(w, r, a.log, err)
			}
		})
	}
	h("GET /api/v1/messages", a.listing(false))
	h("PUT /api/v1/messages", a.setRead)
	h("DELETE /api/v1/messages", a.deleteMessages)
	h("GET /api/v1/search", a.listing(true))
	h("DELETE /api/v1/search", a.deleteSearch)
	h("GET /api/v1/message/{id}", a.getMessage)
	h("GET /api/v1/message/{id}/raw", a.getRaw)
	h("GET /api/v1/message/{id}/headers", a.getHeaders)
	h("GET /api/v1/message/{id}/part/{part}", a.getPart)
	h("GET /api/v1/message/{id}/links", a.getLinks)
	h("GET /api/v1/message/{id}/codes", a.getCodes)
	h("POST /api/v1/send", a.send, a.sendBodyLimit())
	h("POST /api/v1/message/{id}/release", a.release)
	h("GET /api/v1/message/{id}/sa-check", a.spamAssassinCheck)
	h("GET /api/v1/message/{id}/part/{part}/thumb", a.getThumb)
	h("GET /api/v1/message/{id}/html-check", a.htmlCheck)
	h("GET /api/v1/message/{id}/link-check", a.linkCheck)
	h("GET /api/v1/wait", a.wait)
	h("GET /api/v1/info", a.info)
	h("GET /api/v1/webui", a.webUI)
	h("GET /api/v1/tags", a.getTags)
	h("PUT /api/v1/tags", a.setTags)
	h("PUT /api/v1/tags/{tag}", a.renameTag)
	h("DELETE /api/v1/tags/{tag}", a.deleteTag)
	h("GET /api/v1/faults", a.listFaults)
	h("POST /api/v1/faults", a.addFaults)
	h("DELETE /api/v1/faults", a.deleteFaults)
	h("DELETE /api/v1/faults/{id}", a.deleteFault)
	h("GET /api/v1/faults/{id}", a.getFault)
	h("POST /api/v1/faults/{id}/reset", a.resetFault)
	h("GET /api/v1/listeners", a.listListeners)
	h("POST /api/v1/listeners/{port}/pause", a.pauseListener)
	h("POST /api/v1/listeners/{port}/resume", a.resumeListener)
	h("GET /api/v1/chaos", a.getChaos)
	h("PUT /api/v1/chaos", a.putChaos)
	h("GET /api/v1/sessions", a.listSessions)
	h("DELETE /api/v1/sessions", a.deleteSessions)
	h("GET /api/v1/session/{id}", a.getSession)
	h("GET /api/v1/sessions/{id}", a.getSession)
	h("GET /api/v1/tls/certificate", a.certificate)
	h("GET /api/v1/certificate", a.certificate) // the path transcripts name
	h("GET /api/v1/openapi.json", a.openapi)
	h("GET /livez", ok)
	h("GET /readyz", ok)
	h("/api/", func(w http.ResponseWriter, r *http.Request) error {
		return httperr.New(http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	return a
}

// Waiting is how many GET /api/v1/wait calls are waiting now.
func (a *API) Waiting() int { return int(a.waiting.Load()) }

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// openapiDoc describes every route above and MailHog's; server/openapi_test.go
// checks real answers against it.
//
//go:embed openapi.json
var openapiDoc string

// Handlers that stream a body do not return its write error: once the
// status is out, a failed write means the client went away and there is
// nothing left to answer.

func (a *API) openapi(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, openapiDoc)
	return nil
}

func ok(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
	return nil
}

// paging reads the start and limit parameters; limit 0 means all.
func paging(r *http.Request, defLimit int) (start, limit int, err error) {
	if start, err = httperr.IntParam(r, "start", 0); err != nil {
		return 0, 0, err
	}
	if limit, err = httperr.IntParam(r, "limit", defLimit); err != nil {
		return 0, 0, err
	}
	return start, limit, nil
}

// page lists the messages f selects from start, at most limit (0: all).
func (a *API) page(f storage.Filter, start, limit int) apitypes.MessagesSummary {
	return a.summary(a.store.List(f, start, limit), start)
}

// summary is the list answer for p, a page of the store from start.
func (a *API) summary(p storage.Page, start int) apitypes.MessagesSummary {
	st := a.store.Stats()
	out := apitypes.MessagesSummary{
		Total: st.Total, Unread: st.Unread, Count: len(p.Messages),
		MessagesCount: p.Matched, MessagesUnread: p.Unread, Start: start,
		Tags: a.store.TagNames(), Messages: make([]apitypes.Summary, 0, len(p.Messages)), Evicted: st.Evicted,
	}
	for _, m := range p.Messages {
		out.Messages = append(out.Messages, summaryOf(m.Summary()))
	}
	return out
}

// listing serves a page of messages matching the query parameter, which
// search requires and the plain list takes as an option.
func (a *API) listing(queryRequired bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := a.queryFilter(r, queryRequired)
		if err != nil {
			return err
		}
		start, limit, err := paging(r, 50)
		if err != nil {
			return err
		}
		httperr.JSON(w, http.StatusOK, a.page(f, start, limit))
		return nil
	}
}

// queryFilter compiles the "query" parameter; required says a missing one
// is a client error.
func (a *API) queryFilter(r *http.Request, required bool) (storage.Filter, error) {
	q := r.URL.Query().Get("query")
	if required && strings.TrimSpace(q) == "" {
		return nil, httperr.BadRequest("parameter query is required")
	}
	loc := time.Local
	if tz := r.URL.Query().Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, httperr.BadParam("tz", tz, "a time zone name such as Europe/Berlin")
		}
		loc = l
	}
	f, err := storage.ParseQuery(q, a.opts.Now(), loc)
	var qe *storage.QueryError
	if errors.As(err, &qe) {
		return nil, httperr.BadRequest(fmt.Sprintf("parameter query=%q: %s", qe.Query, qe.Problem))
	}
	return f, err
}

func (a *API) deleteSearch(w http.ResponseWriter, r *http.Request) error {
	f, err := a.queryFilter(r, true)
	if err != nil {
		return err
	}
	a.store.DeleteMatching(f)
	return ok(w, r)
}

// idsBody is Mailpit's {"IDs":[...]} request body, with the fields of PUT.
type idsBody struct {
	IDs    []string
	Read   bool
	Search string
}

// readIDs decodes an optional JSON body; an empty body is the zero value.
func readIDs(w http.ResponseWriter, r *http.Request) (idsBody, error) {
	var b idsBody
	data, err := readBody(w, r)
	if err != nil || empty(data) {
		return b, err
	}
	return b, decodeStrict(data, &b, `{"IDs":["..."]}`)
}

func (a *API) deleteMessages(w http.ResponseWriter, r *http.Request) error {
	b, err := readIDs(w, r)
	if err != nil {
		return err
	}
	if len(b.IDs) == 0 {
		a.store.DeleteMatching(nil)
	} else {
		a.store.Delete(b.IDs...)
	}
	// 200 with an empty body, not Mailpit's "ok": MailHog's clients share
	// this route and JSON-parse any body they get; Mailpit's read it as text.
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) setRead(w http.ResponseWriter, r *http.Request) error {
	b, err := readIDs(w, r)
	if err != nil {
		return err
	}
	var f storage.Filter
	switch {
	case len(b.IDs) > 0 && b.Search != "":
		return httperr.BadRequest("request body: give IDs or Search, not both")
	case len(b.IDs) > 0:
		want := map[string]bool{}
		for _, id := range b.IDs {
			want[id] = true
		}
		f = func(m *storage.Message) bool { return want[m.ID] }
	case b.Search != "":
		var qe *storage.QueryError
		f, err = storage.ParseQuery(b.Search, a.opts.Now(), time.Local)
		if errors.As(err, &qe) {
			return httperr.BadRequest(fmt.Sprintf("request body: Search %q: %s", qe.Query, qe.Problem))
		} else if err != nil {
			return err
		}
	}
	a.store.SetRead(f, b.Read)
	return ok(w, r)
}

// lookup resolves {id}, including "latest" (optionally with ?query=).
func (a *API) lookup(r *http.Request) (*storage.Message, error) {
	id := r.PathValue("id")
	if id == "latest" {
		f, err := a.queryFilter(r, false)
		if err != nil {
			return nil, err
		}
		m, err := a.store.Latest(f)
		if q := r.URL.Query().Get("query"); q != "" {
			return m, httperr.NotFoundAs(fmt.Sprintf("message matching query %q", q), err)
		}
		return m, httperr.NotFoundAs("latest message", err)
	}
	m, err := a.store.Get(id)
	return m, httperr.NotFoundAs("message "+strconv.Quote(id), err)
}

func attachments(list []storage.Attachment) []apitypes.Attachment {
	out := make([]apitypes.Attachment, 0, len(list))
	for _, p := range list {
		a := apitypes.Attachment{PartID: p.PartID, FileName: p.FileName, ContentType: p.ContentType, ContentID: p.ContentID, Size: p.Size}
		m, s1, s256 := md5.Sum(p.Content), sha1.Sum(p.Content), sha256.Sum256(p.Content)
		a.Checksums.MD5, a.Checksums.SHA1, a.Checksums.SHA256 = hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:])
		out = append(out, a)
	}
	return out
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	a.store.SetRead(func(x *storage.Message) bool { return x == m }, true) // Mailpit marks read on open
	s := m.Summary()
	p := m.Parse()
	date := p.Date
	if date.IsZero() {
		date = m.Received()
	}
	out := apitypes.Message{
		ID: m.ID, MessageID: s.MessageID, Read: true, From: addressOf(s.From),
		To: addresses(s.To), Cc: addresses(s.Cc), Bcc: addresses(s.Bcc), ReplyTo: addresses(s.ReplyTo),
		ReturnPath: p.ReturnPath, Subject: s.Subject, Date: date, Tags: s.Tags, Username: s.Username,
		Text: p.Text, HTML: p.HTML, Size: s.Size, Inline: attachments(p.Inline), Attachments: attachments(p.Attachments),
		Envelope: apitypes.Envelope(s.Envelope), Delivery: apitypes.Delivery(s.Delivery), Errors: p.Errors,
		ListUnsubscribe: apitypes.ListUnsubscribe{Links: []string{}},
		DKIM:            dkimOf(m.DKIM()),
	}
	if out.ReturnPath == "" {
		out.ReturnPath = m.Envelope.From
	}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	if lu := p.Header.Get("List-Unsubscribe"); lu != "" {
		out.ListUnsubscribe.Header = lu
		out.ListUnsubscribe.HeaderPost = p.Header.Get("List-Unsubscribe-Post")
		for _, l := range strings.Split(lu, ",") {
			if l = strings.Trim(strings.TrimSpace(l), "<>"); l != "" {
				out.ListUnsubscribe.Links = append(out.ListUnsubscribe.Links, l)
			}
		}
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getRaw(w http.ResponseWriter, r *http.Request) error {
	dl, err := httperr.BoolParam(r, "dl")
	if err != nil {
		return err
	}
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(m.Size()))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if dl {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.ID + ".eml"}))
	}
	io.WriteString(w, m.Raw()) // the status is out: a failed write has no one to tell
	return nil
}

func (a *API) getHeaders(w http.ResponseWriter, r *http.Request) error {
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	h := storage.ReadHeader(m.Raw())
	out := make(map[string][]string, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := make([]string, len(h[k]))
		for i, v := range h[k] {
			vals[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
		out[textproto.CanonicalMIMEHeaderKey(k)] = vals
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}

// lookupPart finds the message {id} and its part {part}.
func (a *API) lookupPart(r *http.Request) (*storage.Message, storage.Attachment, error) {
	m, err := a.lookup(r)
	if err != nil {
		return nil, storage.Attachment{}, err
	}
	partID := r.PathValue("part")
	part, found := m.Parse().Part(partID)
	if !found {
		return nil, storage.Attachment{}, httperr.NotFound(fmt.Sprintf("part %q of message %q", partID, m.ID))
	}
	return m, part, nil
}

func (a *API) getPart(w http.ResponseWriter, r *http.Request) error {
	dl, err := httperr.BoolParam(r, "dl")
	if err != nil {
		return err
	}
	_, part, err := a.lookupPart(r)
	if err != nil {
		return err
	}
	ct := part.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(part.Content)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Parts are attacker-controlled: never let one run as a page in our origin.
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
	disp := "inline"
	if dl {
		disp = "attachment"
	}
	name := part.FileName
	if name == "" {
		name = "part-" + part.PartID
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name}))
	w.Write(part.Content)
	return nil
}

func (a *API) info(w http.ResponseWriter, r *http.Request) error {
	st := a.store.Stats()
	var out apitypes.Info
	out.Version, out.LatestVersion, out.Database, out.DatabaseSize = a.opts.Version, "disabled", ":memory:", st.Bytes
	out.Messages, out.Unread, out.Tags, out.StoreBytes = st.Total, st.Unread, a.store.TagCounts(), st.Bytes
	out.RuntimeStats.Uptime = int(time.Since(a.started).Seconds())
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem) // stops the world for microseconds: fine for an info call
	out.RuntimeStats.Memory = mem.Sys - mem.HeapReleased
	out.RuntimeStats.MessagesDeleted = st.Deleted
	out.RuntimeStats.MessagesEvicted = st.Evicted
	out.RuntimeStats.SMTPAccepted = st.Accepted
	out.RuntimeStats.SMTPAcceptedSize = st.AcceptedBytes
	out.RuntimeStats.SMTPRejected = st.Rejected
	lim := a.store.Limits()
	out.StoreLimits.MaxMessages, out.StoreLimits.MaxBytes = lim.MaxMessages, lim.MaxBytes
	out.Listeners = a.listeners()
	if a.opts.Webhook != nil {
		wh := a.opts.Webhook()
		out.Webhook = &wh
	}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}

func (a *API) certificate(w http.ResponseWriter, r *http.Request) error {
	if len(a.opts.CertPEM) == 0 {
		return httperr.New(http.StatusNotFound, "no TLS certificate configured")
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(a.opts.CertPEM)
	return nil
}
