// Package api owns mailsink's JSON HTTP API under /api/v1/: listing,
// reading, searching, tagging, waiting for and deleting captured mail. Paths and
// field names follow Mailpit's API v1 so Mailpit clients work unchanged;
// mailsink's additions (envelope, delivery facts, wait) sit beside them.
//
// Its answers' types are in apitypes, so the Go client needs only those;
// its errors and query parameters go through server/httperr. It reads the
// store only; it never imports the SMTP side or the web UI. The per-message
// tools (thumbnails, HTML and link checks) are packages of their own
// (server/thumbnail, server/htmlcheck, server/linkcheck) that it calls; the
// HTML check's and link check's answers are those packages' types.
package api
