// Package smtpd owns the SMTP side of mailsink: one go-smtp server per
// configured listener, each with its TLS and AUTH policy, sessions that
// build the envelope and delivery facts, and the hand-off of every accepted
// message to the store. It never relays anything.
//
// It imports storage and never the HTTP side.
package smtpd
