package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mailsink/mailsink/server/httperr"
)

// readBody reads a request body. A body that stops short of its
// Content-Length (the read times out or the client hangs up) is a client
// mistake, answered 400; one over the size limit 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	if err == nil {
		return data, nil
	}
	var ne net.Error
	if errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &ne) && ne.Timeout()) {
		// The server's write timeout runs out with its read timeout: give
		// the answer a moment of its own.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Second))
		return nil, httperr.BadRequest("request body: incomplete (fewer bytes than its Content-Length arrived in time)")
	}
	return nil, err // 413 for an oversized body, see httperr
}

// decodeStrict decodes JSON into v, refusing fields v does not have: a
// misspelt key must not change what a request means (a DELETE whose
// "IDs" is spelt "ID" would otherwise delete every message). want is an
// example of the expected body for the error text.
func decodeStrict(data []byte, v any, want string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httperr.BadRequest("request body: want JSON such as " + want + ": " + err.Error())
	}
	if dec.More() {
		return httperr.BadRequest("request body: want one JSON value such as " + want)
	}
	return nil
}

// empty reports whether a body holds nothing but white space.
func empty(data []byte) bool { return len(bytes.TrimSpace(data)) == 0 }
