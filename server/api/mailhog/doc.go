// Package mailhog serves MailHog's HTTP API over mailsink's store, in
// MailHog's paths and JSON shapes, so that MailHog clients (the npm package
// mailhog, cypress-mailhog, PHP clients) work unchanged: the v2 list and
// search, and the v1 per-message routes (read, delete, download, download a
// MIME part).
//
// The shapes are rebuilt from the raw bytes on each request; nothing here
// is stored. It imports storage and server/httperr (the error answers and
// query parameters every handler shares) only, never server/api (the
// Mailpit-shaped native API), smtpd or webui: the server mounts it beside
// the native API.
package mailhog
