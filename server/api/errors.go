package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mailsink/mailsink/storage"
)

// badRequest is a client mistake; its text is safe to show.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func errBadRequest(msg string) error { return badRequest{msg} }

type errorBody struct {
	Error string
}

// writeError maps err to a status: ErrNotFound 404, client mistakes 400,
// anything else 500 without echoing internal text.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	var br badRequest
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{"message not found"})
	case errors.As(err, &br):
		writeJSON(w, http.StatusBadRequest, errorBody{br.msg})
	case errors.As(err, &mbe):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{"request body too large"})
	default:
		log.Error("API request failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{"internal error"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}
