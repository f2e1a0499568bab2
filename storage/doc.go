// Package storage owns captured mail: the Message with its raw bytes,
// envelope and delivery facts, its read flag and tags, the in-memory Store
// that keeps it within count and byte limits, the parsed views built with
// enmime, and the event fan-out that tells subscribers what changed.
//
// It is the bottom layer: it imports nothing else of mailsink and knows
// nothing of SMTP or HTTP.
package storage
