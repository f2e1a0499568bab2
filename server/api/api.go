package api

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/storage"
)

// Options configure the API.
type Options struct {
	Logger  *slog.Logger
	CertPEM []byte // served at /api/v1/tls/certificate
	Version string
	Now     func() time.Time // for relative dates in queries; nil: time.Now
	Faults  *faults.Set      // edited by /api/v1/faults and /api/v1/chaos
}

// API serves /api/v1/ and the health probes.
type API struct {
	store   *storage.Store
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	started time.Time
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
	a := &API{store: store, opts: opts, log: opts.Logger, mux: http.NewServeMux(), started: opts.Now()}
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := fn(w, r); err != nil {
				WriteError(w, a.log, err)
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
	h("GET /api/v1/wait", a.wait)
	h("GET /api/v1/info", a.info)
	h("GET /api/v1/faults", a.listFaults)
	h("POST /api/v1/faults", a.addFaults)
	h("DELETE /api/v1/faults", a.deleteFaults)
	h("DELETE /api/v1/faults/{id}", a.deleteFault)
	h("GET /api/v1/chaos", a.getChaos)
	h("PUT /api/v1/chaos", a.putChaos)
	h("GET /api/v1/sessions", a.listSessions)
	h("DELETE /api/v1/sessions", a.deleteSessions)
	h("GET /api/v1/session/{id}", a.getSession)
	h("GET /api/v1/sessions/{id}", a.getSession)
	h("GET /api/v1/tls/certificate", a.certificate)
	h("GET /api/v1/openapi.json", a.openapi)
	h("GET /livez", ok)
	h("GET /readyz", ok)
	h("/api/", func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusNotFound, ErrorBody{fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path)})
		return nil
	})
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// openapiDoc describes every route above and MailHog's; server/openapi_test.go
// checks real answers against it.
//
//go:embed openapi.json
var openapiDoc string

func (a *API) openapi(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := io.WriteString(w, openapiDoc)
	return err
}

func ok(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, "ok")
	return err
}

// MessagesSummary is Mailpit's list response.
type MessagesSummary struct {
	Total          int               `json:"total"`
	Unread         int               `json:"unread"`
	Count          int               `json:"count"`
	MessagesCount  int               `json:"messages_count"`
	MessagesUnread int               `json:"messages_unread"`
	Start          int               `json:"start"`
	Tags           []string          `json:"tags"`
	Messages       []storage.Summary `json:"messages"`
	// mailsink: messages evicted since start to respect the store limits.
	Evicted uint64 `json:"evicted"`
}

// IntParam reads a whole number >= 0 from the query; absent is def.
func IntParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, BadRequest(fmt.Sprintf("parameter %s=%q: want a whole number >= 0", name, v))
	}
	return n, nil
}

// page lists the messages f selects, paged by the start and limit
// parameters; it also returns the store's arrival sequence at that moment.
func (a *API) page(r *http.Request, f storage.Filter) (MessagesSummary, uint64, error) {
	start, err := IntParam(r, "start", 0)
	if err != nil {
		return MessagesSummary{}, 0, err
	}
	limit, err := IntParam(r, "limit", 50)
	if err != nil {
		return MessagesSummary{}, 0, err
	}
	p := a.store.List(f, start, limit)
	st := a.store.Stats()
	out := MessagesSummary{
		Total: st.Total, Unread: st.Unread, Count: len(p.Messages),
		MessagesCount: p.Matched, MessagesUnread: p.Unread, Start: start,
		Tags: []string{}, Messages: make([]storage.Summary, 0, len(p.Messages)), Evicted: st.Evicted,
	}
	for _, m := range p.Messages {
		out.Messages = append(out.Messages, m.Summary())
	}
	return out, p.Seq, nil
}

// listing serves a page of messages matching the query parameter, which
// search requires and the plain list takes as an option.
func (a *API) listing(queryRequired bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := a.queryFilter(r, queryRequired)
		if err != nil {
			return err
		}
		out, _, err := a.page(r, f)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, out)
		return nil
	}
}

// queryFilter compiles the "query" parameter; required says a missing one
// is a client error.
func (a *API) queryFilter(r *http.Request, required bool) (storage.Filter, error) {
	q := r.URL.Query().Get("query")
	if required && strings.TrimSpace(q) == "" {
		return nil, BadRequest("parameter query is required")
	}
	loc := time.Local
	if tz := r.URL.Query().Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, BadRequest(fmt.Sprintf("parameter tz=%q: unknown time zone", tz))
		}
		loc = l
	}
	f, err := storage.ParseQuery(q, a.opts.Now(), loc)
	var qe *storage.QueryError
	if errors.As(err, &qe) {
		return nil, BadRequest(qe.Error())
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
func readIDs(r *http.Request) (idsBody, bool, error) {
	var b idsBody
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return b, false, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return b, false, nil
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, false, BadRequest("request body: want JSON such as {\"IDs\":[\"...\"]}: " + err.Error())
	}
	return b, true, nil
}

func (a *API) deleteMessages(w http.ResponseWriter, r *http.Request) error {
	b, _, err := readIDs(r)
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
	b, _, err := readIDs(r)
	if err != nil {
		return err
	}
	var f storage.Filter
	switch {
	case len(b.IDs) > 0 && b.Search != "":
		return BadRequest("request body: give IDs or Search, not both")
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
			return BadRequest(qe.Error())
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
		return a.store.Latest(f)
	}
	return a.store.Get(id)
}

// Message is Mailpit's message view plus mailsink's envelope, delivery and
// parse errors.
type Message struct {
	ID              string
	MessageID       string
	Read            bool
	From            *storage.Address
	To, Cc, Bcc     []storage.Address
	ReplyTo         []storage.Address
	ReturnPath      string
	Subject         string
	ListUnsubscribe ListUnsubscribe
	Date            time.Time
	Tags            []string
	Username        string
	Text            string
	HTML            string
	Size            int
	Inline          []Attachment
	Attachments     []Attachment
	Envelope        storage.Envelope
	Delivery        storage.Delivery
	Errors          []string // MIME problems found while parsing; the raw message is kept as is
}

// ListUnsubscribe is Mailpit's List-Unsubscribe view.
type ListUnsubscribe struct {
	Header     string
	Links      []string
	Errors     string
	HeaderPost string
}

// Attachment is Mailpit's attachment view.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        int
	Checksums   struct{ MD5, SHA1, SHA256 string }
}

func attachments(list []storage.Attachment) []Attachment {
	out := make([]Attachment, 0, len(list))
	for _, p := range list {
		a := Attachment{PartID: p.PartID, FileName: p.FileName, ContentType: p.ContentType, ContentID: p.ContentID, Size: p.Size}
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
	out := Message{
		ID: m.ID, MessageID: s.MessageID, Read: true, From: s.From, To: s.To, Cc: s.Cc, Bcc: s.Bcc, ReplyTo: s.ReplyTo,
		ReturnPath: p.ReturnPath, Subject: s.Subject, Date: date, Tags: []string{}, Username: s.Username,
		Text: p.Text, HTML: p.HTML, Size: s.Size, Inline: attachments(p.Inline), Attachments: attachments(p.Attachments),
		Envelope: s.Envelope, Delivery: s.Delivery, Errors: p.Errors,
		ListUnsubscribe: ListUnsubscribe{Links: []string{}},
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
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getRaw(w http.ResponseWriter, r *http.Request) error {
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(m.Size()))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("dl") == "1" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.ID + ".eml"}))
	}
	_, err = io.WriteString(w, m.Raw())
	return err
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
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getPart(w http.ResponseWriter, r *http.Request) error {
	m, err := a.lookup(r)
	if err != nil {
		return err
	}
	part, found := m.Parse().Part(r.PathValue("part"))
	if !found {
		WriteJSON(w, http.StatusNotFound, ErrorBody{"part not found"})
		return nil
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
	if r.URL.Query().Get("dl") == "1" {
		disp = "attachment"
	}
	name := part.FileName
	if name == "" {
		name = "part-" + part.PartID
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name}))
	_, err = w.Write(part.Content)
	return err
}

// Info is Mailpit's AppInformation subset plus mailsink's store counters.
type Info struct {
	Version      string
	Messages     int
	Unread       int
	Tags         map[string]int
	RuntimeStats struct {
		Uptime           int
		MessagesDeleted  uint64
		MessagesEvicted  uint64
		SMTPAccepted     uint64
		SMTPAcceptedSize int64
	}
	StoreLimits struct {
		MaxMessages int
		MaxBytes    int64
	}
	StoreBytes int64
}

func (a *API) info(w http.ResponseWriter, r *http.Request) error {
	st := a.store.Stats()
	var out Info
	out.Version = a.opts.Version
	out.Messages, out.Unread, out.Tags, out.StoreBytes = st.Total, st.Unread, map[string]int{}, st.Bytes
	out.RuntimeStats.Uptime = int(time.Since(a.started).Seconds())
	out.RuntimeStats.MessagesDeleted = st.Deleted
	out.RuntimeStats.MessagesEvicted = st.Evicted
	out.RuntimeStats.SMTPAccepted = st.Accepted
	out.RuntimeStats.SMTPAcceptedSize = st.AcceptedBytes
	lim := a.store.Limits()
	out.StoreLimits.MaxMessages, out.StoreLimits.MaxBytes = lim.MaxMessages, lim.MaxBytes
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) certificate(w http.ResponseWriter, r *http.Request) error {
	if len(a.opts.CertPEM) == 0 {
		WriteJSON(w, http.StatusNotFound, ErrorBody{"no TLS certificate configured"})
		return nil
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, err := w.Write(a.opts.CertPEM)
	return err
}
