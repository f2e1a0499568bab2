package mailhog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

// Options configure the MailHog API.
type Options struct {
	Logger *slog.Logger // nil: discard
}

// Paging limits, as in MailHog's getStartLimit.
const (
	defaultLimit = 50
	maxLimit     = 250
)

type handler struct {
	store *storage.Store
	log   *slog.Logger
}

// New returns the MailHog API over store. It answers these routes and a
// JSON 404 for anything else it is given:
//
//	GET    /api/v2/messages?start=&limit=
//	GET    /api/v2/search?kind=from|to|containing&query=&start=&limit=
//	GET    /api/v1/messages/{id}
//	DELETE /api/v1/messages/{id}
//	GET    /api/v1/messages/{id}/download
//	GET    /api/v1/messages/{id}/mime/part/{index}/download
//
// The caller mounts it for /api/v2/ and /api/v1/messages/{id}[/...] only:
// /api/v1/messages itself is Mailpit's, and a "/api/v1/messages/" subtree
// pattern would redirect it here.
func New(store *storage.Store, opts Options) http.Handler {
	h := &handler{store: store, log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	route := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				httperr.Write(w, r, h.log, err)
			}
		})
	}
	route("GET /api/v2/messages", h.messages)
	route("GET /api/v2/search", h.search)
	route("GET /api/v1/messages/{id}", h.message)
	route("DELETE /api/v1/messages/{id}", h.delete)
	route("GET /api/v1/messages/{id}/download", h.download)
	route("GET /api/v1/messages/{id}/mime/part/{index}/download", h.downloadPart)
	route("/", func(w http.ResponseWriter, r *http.Request) error {
		return httperr.New(http.StatusNotFound, fmt.Sprintf("no MailHog API endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// Messages is MailHog's v2 list and search answer.
type Messages struct {
	Total int       `json:"total"` // messages held (list) or matched (search)
	Count int       `json:"count"` // len(Items)
	Start int       `json:"start"`
	Items []Message `json:"items"`
}

func (h *handler) messages(w http.ResponseWriter, r *http.Request) error {
	return h.list(w, r, nil)
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	query := strings.ToLower(q.Get("query"))
	if query == "" {
		return httperr.BadRequest("parameter query is required")
	}
	var f storage.Filter
	switch kind := q.Get("kind"); kind {
	case "from":
		f = func(m *storage.Message) bool {
			return contains(m.Envelope.From, query) || anyContains(storage.ReadHeader(m.Raw())["From"], query)
		}
	case "to":
		f = func(m *storage.Message) bool {
			return anyContains(m.Envelope.To, query) || anyContains(storage.ReadHeader(m.Raw())["To"], query)
		}
	case "containing":
		f = func(m *storage.Message) bool {
			raw := m.Raw()
			if contains(raw[bodyOffset(raw):], query) {
				return true
			}
			for _, vals := range storage.ReadHeader(raw) {
				if anyContains(vals, query) {
					return true
				}
			}
			return false
		}
	default:
		return httperr.BadParam("kind", kind, "from, to or containing")
	}
	return h.list(w, r, f)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, f storage.Filter) error {
	start, err := httperr.IntParam(r, "start", 0)
	if err != nil {
		return err
	}
	limit, err := httperr.IntParam(r, "limit", 0)
	if err != nil {
		return err
	}
	switch {
	case limit == 0:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}
	p := h.store.List(f, start, limit)
	// Messages, streamed one item at a time: MailHog's shape repeats every
	// body at each MIME level and carries the raw message too, so the
	// whole answer may be many times the store's bytes; one item is not.
	head, err := json.Marshal(Messages{Total: p.Matched, Count: len(p.Messages), Start: start})
	if err != nil {
		return fmt.Errorf("encoding a message list: %w", err)
	}
	httperr.StartJSON(w, http.StatusOK)
	io.WriteString(w, strings.TrimSuffix(string(head), `null}`)+`[`)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, m := range p.Messages {
		if i > 0 {
			io.WriteString(w, ",")
		}
		if enc.Encode(messageOf(m)) != nil {
			return nil // the client went away
		}
	}
	io.WriteString(w, "]}\n")
	return nil
}

// get is the message {id}, or a 404 naming it.
func (h *handler) get(r *http.Request) (*storage.Message, error) {
	id := r.PathValue("id")
	m, err := h.store.Get(id)
	return m, httperr.NotFoundAs("message "+strconv.Quote(id), err)
}

func (h *handler) message(w http.ResponseWriter, r *http.Request) error {
	m, err := h.get(r)
	if err != nil {
		return err
	}
	httperr.JSON(w, http.StatusOK, messageOf(m))
	return nil
}

// delete answers 200 with an empty body, as MailHog does; an unknown ID is
// a 404 (MailHog answers 500).
func (h *handler) delete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if len(h.store.Delete(id)) == 0 {
		return httperr.NotFound("message " + strconv.Quote(id))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// download serves the message exactly as received (MailHog rebuilds it
// from its header map, losing header order and repeated headers).
func (h *handler) download(w http.ResponseWriter, r *http.Request) error {
	m, err := h.get(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Length", strconv.Itoa(m.Size()))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.ID + ".eml"}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, m.Raw()) // an error here means the client went away: nothing to answer
	return nil
}

// downloadPart serves part {index} (from 0) of the message's MIME.Parts,
// base64-decoded when its Content-Transfer-Encoding is base64 and otherwise
// as sent, as MailHog does. Unlike MailHog it copies only the part's
// Content-Type and Content-Disposition onto the answer, not every header
// the sender wrote.
func (h *handler) downloadPart(w http.ResponseWriter, r *http.Request) error {
	v := r.PathValue("index")
	index, err := strconv.Atoi(v)
	if err != nil || index < 0 {
		return httperr.BadRequest(fmt.Sprintf("part index %q: want a whole number >= 0", v))
	}
	m, err := h.get(r)
	if err != nil {
		return err
	}
	msg := messageOf(m)
	if msg.MIME == nil || index >= len(msg.MIME.Parts) {
		return httperr.NotFound(fmt.Sprintf("part %d of message %q", index, m.ID))
	}
	part := msg.MIME.Parts[index]
	hdr := http.Header(part.Headers)
	body := []byte(part.Body)
	if strings.EqualFold(strings.TrimSpace(hdr.Get("Content-Transfer-Encoding")), "base64") {
		if body, err = decodeBase64(body); err != nil {
			return httperr.New(http.StatusUnprocessableEntity, fmt.Sprintf("part %d is not valid base64", index))
		}
	}
	ct := hdr.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii" // RFC 2045's default for a part
	}
	disp := hdr.Get("Content-Disposition")
	if disp == "" {
		disp = "attachment"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", disp)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Parts are attacker-controlled: never let one run as a page in our origin.
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.Write(body) // an error here means the client went away: nothing to answer
	return nil
}

// decodeBase64 decodes a transfer-encoded body, ignoring line breaks and
// other whitespace and tolerating missing padding.
func decodeBase64(b []byte) ([]byte, error) {
	clean := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, b)
	out, err := base64.StdEncoding.DecodeString(string(clean))
	if err != nil {
		out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(string(clean), "="))
	}
	return out, err
}

func contains(s, lowerNeedle string) bool {
	return strings.Contains(strings.ToLower(s), lowerNeedle)
}

func anyContains(list []string, lowerNeedle string) bool {
	for _, s := range list {
		if contains(s, lowerNeedle) {
			return true
		}
	}
	return false
}
