// Package webui owns the browser inbox: the static HTML, CSS and JavaScript
// modules embedded in the binary, the sandboxed rendering of a message's
// HTML body under /view/, and the /api/events WebSocket that streams store
// events to open tabs as Mailpit's frames.
//
// The JavaScript is plain ES modules, no build step: static/app.js wires
// the views (inbox.js and message.js for messages, sessions.js for SMTP
// sessions) that share state.js, one list helper (list.js) and the
// address router (router.js).
//
// It reads the store directly and never imports the JSON API (server/api)
// or any transport of mail: the browser calls /api/v1/ for data, which the
// server mounts next to this handler. Its errors are answered through
// server/httperr, as the API's are, and a session is an error session by
// apitypes.Verdict, the API's rule.
package webui
