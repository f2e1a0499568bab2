// Package httperr owns how mailsink's HTTP handlers answer a failure: a
// status and the JSON body {"Error": "..."} (apitypes.ErrorBody, the shape
// Mailpit's clients read) whose text is ours and safe to show, never an
// internal error's. The native API, the MailHog API, the web UI and the
// server's host and origin guard all answer through Write, and read query
// parameters through IntParam and BoolParam, so a bad value is a 400 that
// names the parameter instead of a silent default.
//
// It imports storage (to answer its ErrNotFound) and apitypes only. It
// must never import a handler package (server/api, its mailhog, webui,
// server): they share it without importing each other.
package httperr

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/storage"
)

// Error is a failure answered with Status and Text, which the client sees.
// Err, if any, is the cause: for errors.Is and the log, never shown.
type Error struct {
	Status int
	Text   string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Text + ": " + e.Err.Error()
	}
	return e.Text
}

func (e *Error) Unwrap() error { return e.Err }

// New is an answer with status and text; text must be safe to show.
func New(status int, text string) error { return &Error{Status: status, Text: text} }

// BadRequest is a client mistake, answered 400 with text.
func BadRequest(text string) error { return New(http.StatusBadRequest, text) }

// BadParam is a 400 for query parameter name holding value, saying what
// was wanted: `parameter limit="x": want a whole number >= 0`.
func BadParam(name, value, want string) error {
	return BadRequest(fmt.Sprintf("parameter %s=%q: want %s", name, value, want))
}

// NotFound is a 404 saying what was not found, e.g. NotFound(`session "x"`)
// answers `session "x" not found`.
func NotFound(what string) error {
	return &Error{Status: http.StatusNotFound, Text: what + " not found", Err: storage.ErrNotFound}
}

// NotFoundAs returns err, except that storage.ErrNotFound becomes
// NotFound(what): the store cannot know whether it was asked for a
// message, a session or a part.
func NotFoundAs(what string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return NotFound(what)
	}
	return err
}

// Write answers err: an *Error with its status and text; storage's
// ErrNotFound that no handler named with 404 "not found"; a body past
// http.MaxBytesReader's limit with 413; anything else with 500 "internal
// error", logged with the request, its text never shown. The wait
// endpoint's 408 (apitypes.WaitTimeout) is the one error answer that adds
// fields beside Error; it is written with JSON.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var he *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		if he.Status >= 500 {
			logFailure(log, r, err)
		}
		JSON(w, he.Status, apitypes.ErrorBody{Error: he.Text})
	case errors.Is(err, storage.ErrNotFound):
		JSON(w, http.StatusNotFound, apitypes.ErrorBody{Error: "not found"})
	case errors.As(err, &mbe):
		JSON(w, http.StatusRequestEntityTooLarge, apitypes.ErrorBody{Error: "request body too large"})
	default:
		logFailure(log, r, err)
		JSON(w, http.StatusInternalServerError, apitypes.ErrorBody{Error: "internal error"})
	}
}

func logFailure(log *slog.Logger, r *http.Request, err error) {
	if log != nil {
		log.Error("HTTP request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// JSON answers v as JSON with status, uncached and not to be sniffed. The
// handlers' successful JSON answers go through it too, so that every JSON
// answer carries the same headers.
func JSON(w http.ResponseWriter, status int, v any) {
	StartJSON(w, status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// IntParam reads a whole number >= 0 from query parameter name; absent or
// empty is def.
func IntParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, BadParam(name, v, "a whole number >= 0")
	}
	return n, nil
}

// BoolParam reads a flag from query parameter name: 1 is true; 0, empty
// or absent is false; anything else is a 400, not a silent false. Only 1
// and 0, as openapi.json documents and Mailpit's clients send.
func BoolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "1":
		return true, nil
	case "0", "":
		return false, nil
	default:
		return false, BadParam(name, v, "1 or 0")
	}
}

// StartJSON writes the headers and status of a JSON answer whose body the
// caller streams.
func StartJSON(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
}
