// Package webui owns the browser inbox: the static HTML, CSS and JavaScript
// modules embedded in the binary, the sandboxed rendering of a message's
// HTML body under /view/, and the /api/events WebSocket that streams store
// events to open tabs as Mailpit's frames.
//
// It reads the store directly and never imports the JSON API (server/api)
// or any transport of mail: the browser calls /api/v1/ for data, which the
// server mounts next to this handler. Its errors are answered through
// server/httperr, as the API's are, and a session is an error session by
// apitypes.Verdict, the API's rule.
package webui
