package webui_test

// startSink is the only place the browser test learns how to run mailsink.
// For now it serves the UI next to a minimal stand-in for the JSON API,
// backed by the same store; it is meant to be rewritten to start the real
// server (server/sinktest) once that exists, keeping the sink type.

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mailsink/mailsink/storage"
	"github.com/mailsink/mailsink/webui"
)

// sink is a running mailsink as the browser test needs it.
type sink struct {
	URL   string         // base URL: the inbox at /, the API at /api/v1/
	Store *storage.Store // where test messages are added
}

func startSink(t *testing.T) *sink {
	t.Helper()
	store := storage.New(storage.Limits{})
	ui := webui.New(store, webui.Options{Logger: slog.New(slog.NewTextHandler(tWriter{t}, nil))})
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", fakeAPI(store))
	mux.Handle("/", ui)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ui.Close()
		srv.Close()
	})
	return &sink{URL: srv.URL, Store: store}
}

// fakeAPI implements the endpoints the inbox calls, in Mailpit's shapes.
func fakeAPI(store *storage.Store) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	message := func(w http.ResponseWriter, r *http.Request) *storage.Message {
		m, err := store.Get(r.PathValue("id"))
		if errors.Is(err, storage.ErrNotFound) {
			http.Error(w, `{"Error":"message not found"}`, http.StatusNotFound)
			return nil
		}
		return m
	}
	list := func(w http.ResponseWriter, r *http.Request, f storage.Filter) {
		start, _ := strconv.Atoi(r.FormValue("start")) // a stand-in: bad numbers mean 0
		limit, _ := strconv.Atoi(r.FormValue("limit"))
		p := store.List(f, start, limit)
		st := store.Stats()
		sums := []storage.Summary{}
		for _, m := range p.Messages {
			sums = append(sums, m.Summary())
		}
		writeJSON(w, map[string]any{
			"total": st.Total, "unread": st.Unread, "count": len(sums),
			"messages_count": p.Matched, "messages_unread": p.Unread,
			"start": start, "tags": []string{}, "messages": sums,
		})
	}
	mux.HandleFunc("GET /api/v1/messages", func(w http.ResponseWriter, r *http.Request) { list(w, r, nil) })
	mux.HandleFunc("GET /api/v1/search", func(w http.ResponseWriter, r *http.Request) {
		terms := strings.Fields(strings.ToLower(r.FormValue("query")))
		list(w, r, func(m *storage.Message) bool {
			for _, term := range terms {
				if p, ok := strings.CutPrefix(term, "port:"); ok {
					if strconv.Itoa(m.Delivery.Port) != p {
						return false
					}
				} else if !strings.Contains(strings.ToLower(m.Header.Subject+" "+string(m.Raw)), term) {
					return false
				}
			}
			return true
		})
	})
	mux.HandleFunc("GET /api/v1/message/{id}", func(w http.ResponseWriter, r *http.Request) {
		m := message(w, r)
		if m == nil {
			return
		}
		store.SetRead(func(x *storage.Message) bool { return x == m }, true)
		p, s := m.Parse(), m.Summary()
		date := m.Header.Date
		if date.IsZero() {
			date = m.Delivery.Received
		}
		writeJSON(w, map[string]any{
			"ID": m.ID, "MessageID": s.MessageID, "From": s.From, "To": s.To, "Cc": s.Cc, "Bcc": s.Bcc,
			"ReplyTo": s.ReplyTo, "Subject": s.Subject, "Date": date, "Text": p.Text, "HTML": p.HTML,
			"Size": s.Size, "Inline": nonNil(p.Inline), "Attachments": nonNil(p.Attachments),
			"Envelope": s.Envelope, "Delivery": s.Delivery,
		})
	})
	mux.HandleFunc("GET /api/v1/message/{id}/raw", func(w http.ResponseWriter, r *http.Request) {
		if m := message(w, r); m != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(m.Raw)
		}
	})
	mux.HandleFunc("GET /api/v1/message/{id}/headers", func(w http.ResponseWriter, r *http.Request) {
		if m := message(w, r); m != nil {
			writeJSON(w, storage.ReadHeader(m.Raw))
		}
	})
	mux.HandleFunc("GET /api/v1/message/{id}/part/{part}", func(w http.ResponseWriter, r *http.Request) {
		m := message(w, r)
		if m == nil {
			return
		}
		a, ok := m.Parse().Part(r.PathValue("part"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.ContentType)
		w.Header().Set("Content-Security-Policy", "sandbox")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(a.Content)
	})
	// selection reads {"IDs":[...],"Read":bool}; no IDs selects all, as in Mailpit.
	selection := func(r *http.Request) (storage.Filter, bool) {
		var body struct {
			IDs  []string
			Read bool
		}
		_ = json.NewDecoder(r.Body).Decode(&body) // Mailpit: no body means all
		if len(body.IDs) == 0 {
			return nil, body.Read
		}
		want := map[string]bool{}
		for _, id := range body.IDs {
			want[id] = true
		}
		return func(m *storage.Message) bool { return want[m.ID] }, body.Read
	}
	mux.HandleFunc("DELETE /api/v1/messages", func(w http.ResponseWriter, r *http.Request) {
		f, _ := selection(r)
		store.DeleteMatching(f)
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("PUT /api/v1/messages", func(w http.ResponseWriter, r *http.Request) {
		f, read := selection(r)
		store.SetRead(f, read)
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}

func nonNil(a []storage.Attachment) []storage.Attachment {
	if a == nil {
		return []storage.Attachment{}
	}
	return a
}
