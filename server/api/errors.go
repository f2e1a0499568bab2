package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/storage"
)

// badRequest is a client mistake; its text is safe to show.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// BadRequest is a client mistake answered with 400 and msg, which must be
// safe to show.
func BadRequest(msg string) error { return badRequest{msg} }

// ErrorBody is every error answer: {"Error": "..."}.
type ErrorBody = apitypes.ErrorBody

// WriteError maps err to a status: ErrNotFound 404, client mistakes 400,
// anything else 500 without echoing internal text.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var br badRequest
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, storage.ErrNotFound):
		WriteJSON(w, http.StatusNotFound, ErrorBody{Error: "message not found"})
	case errors.As(err, &br):
		WriteJSON(w, http.StatusBadRequest, ErrorBody{Error: br.msg})
	case errors.As(err, &mbe):
		WriteJSON(w, http.StatusRequestEntityTooLarge, ErrorBody{Error: "request body too large"})
	default:
		log.Error("API request failed", "err", err)
		WriteJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal error"})
	}
}

// WriteJSON answers v as JSON with status, uncached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}
