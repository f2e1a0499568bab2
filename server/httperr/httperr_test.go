package httperr_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

func TestWrite(t *testing.T) {
	tooLarge := func() error {
		r := httptest.NewRequest("POST", "/", strings.NewReader("0123456789"))
		_, err := io.ReadAll(http.MaxBytesReader(httptest.NewRecorder(), r.Body, 4))
		return err
	}()
	tests := []struct {
		name   string
		err    error
		status int
		text   string
		logged bool
	}{
		{"not found, named", httperr.NotFound(`session "x"`), 404, `session "x" not found`, false},
		{"store miss, named", httperr.NotFoundAs(`message "x"`, fmt.Errorf("get: %w", storage.ErrNotFound)), 404, `message "x" not found`, false},
		{"store miss nobody named", fmt.Errorf("get: %w", storage.ErrNotFound), 404, "not found", false},
		{"bad parameter", httperr.BadParam("limit", "x", "a whole number >= 0"), 400, `parameter limit="x": want a whole number >= 0`, false},
		{"wrapped answer", fmt.Errorf("context: %w", httperr.New(http.StatusForbidden, "refused")), 403, "refused", false},
		{"body too large", tooLarge, 413, "request body too large", false},
		{"internal", errors.New("disk on fire at /secret/path"), 500, "internal error", true},
		{"our 5xx", httperr.New(http.StatusServiceUnavailable, "mailsink is shutting down"), 503, "mailsink is shutting down", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logBuf, nil))
			w := httptest.NewRecorder()
			httperr.Write(w, httptest.NewRequest("GET", "/api/v1/x", nil), log, tt.err)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", w.Header())
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 1 || body["Error"] != tt.text {
				t.Errorf("body %s (%v), want only {\"Error\": %q}", w.Body, err, tt.text)
			}
			if logged := logBuf.Len() > 0; logged != tt.logged {
				t.Errorf("logged %v, want %v: %s", logged, tt.logged, logBuf.String())
			}
			if tt.logged && !strings.Contains(logBuf.String(), "/api/v1/x") {
				t.Errorf("log does not name the request: %s", logBuf.String())
			}
		})
	}
}

func TestNotFoundIsStoreNotFound(t *testing.T) {
	if !errors.Is(httperr.NotFound("part 1"), storage.ErrNotFound) {
		t.Error("NotFound does not match storage.ErrNotFound")
	}
	other := errors.New("other")
	if httperr.NotFoundAs("message", other) != other {
		t.Error("NotFoundAs changed an error that is not ErrNotFound")
	}
	if httperr.NotFoundAs("message", nil) != nil {
		t.Error("NotFoundAs(nil) is not nil")
	}
}

func TestParams(t *testing.T) {
	req := func(q string) *http.Request { return httptest.NewRequest("GET", "/x?"+q, nil) }
	for _, tt := range []struct {
		query string
		want  int
		bad   bool
	}{
		{"", 7, false}, {"n=", 7, false}, {"n=0", 0, false}, {"n=42", 42, false},
		{"n=-1", 0, true}, {"n=abc", 0, true}, {"n=1.5", 0, true}, {"n=99999999999999999999", 0, true},
	} {
		got, err := httperr.IntParam(req(tt.query), "n", 7)
		if tt.bad {
			var he *httperr.Error
			if !errors.As(err, &he) || he.Status != 400 || !strings.Contains(he.Text, "parameter n=") {
				t.Errorf("IntParam(%q) = %d, %v; want a 400 naming n", tt.query, got, err)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("IntParam(%q) = %d, %v; want %d", tt.query, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		query string
		want  bool
		bad   bool
	}{
		{"", false, false}, {"dl=", false, false}, {"dl=1", true, false}, {"dl=0", false, false},
		{"dl=true", false, true}, {"dl=yes", false, true}, {"dl=2", false, true},
	} {
		got, err := httperr.BoolParam(req(tt.query), "dl")
		if tt.bad {
			var he *httperr.Error
			if !errors.As(err, &he) || he.Status != 400 || !strings.Contains(he.Text, "parameter dl=") {
				t.Errorf("BoolParam(%q) = %v, %v; want a 400 naming dl", tt.query, got, err)
			}
		} else if err != nil || got != tt.want {
			t.Errorf("BoolParam(%q) = %v, %v; want %v", tt.query, got, err, tt.want)
		}
	}
}
