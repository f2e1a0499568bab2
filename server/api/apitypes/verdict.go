package apitypes

import "strings"

// Verdict says whether a session went wrong, and why, from its transcript
// lines. The API's transcripts and the inbox's live session frames carry
// it, and each line says whether it is one of the errors (ErrorLine): the
// inbox shows what the server decided and has no rule of its own.
type Verdict struct {
	// ErrorCount counts the session's errors: 4xx and 5xx replies (a
	// multi-line one once), errors go-smtp answered itself ("error: ..."),
	// and mailsink's notes on a TLS mistake that ends a session without any
	// reply (a handshake that failed, TLS spoken to a plaintext port).
	ErrorCount int
	LastError  string // the last of them
	// Reason is what to tell a person: the first note on a TLS mistake or a
	// failed login when there is one, which says what to do, else LastError.
	Reason string
	// Explained says Reason is such a note, which says what to do.
	Explained bool
}

// Add takes the transcript's lines in order: Dir "C", "S" or "*".
func (v *Verdict) Add(dir, text string) {
	switch {
	case dir == "S" && IsErrorReply(text) && !(len(text) > 3 && text[3] == '-'):
		v.ErrorCount++
		v.LastError = text
		if !v.Explained {
			v.Reason = text
		}
	case dir == "*" && IsTLSMistake(text):
		v.ErrorCount++
		v.LastError = text
		if !v.Explained {
			v.Reason, v.Explained = text, true
		}
	case dir == "*" && strings.HasPrefix(text, "authentication failed"):
		if !v.Explained {
			v.Reason, v.Explained = text, true
		}
	}
}

// ErrorLine reports whether a transcript line is one of a session's errors,
// or part of one: a server line IsErrorReply, or a note IsTLSMistake.
func ErrorLine(dir, text string) bool {
	return (dir == "S" && IsErrorReply(text)) || (dir == "*" && IsTLSMistake(text))
}

// IsErrorReply reports whether a server line is a 4xx or 5xx reply (or a
// continuation line of one), or an error go-smtp answered itself.
func IsErrorReply(line string) bool {
	if strings.HasPrefix(line, "error: ") {
		return true
	}
	if len(line) < 3 || (line[0] != '4' && line[0] != '5') || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '-'
}

// IsTLSMistake reports whether a note from mailsink records a TLS mistake
// that ends a session, often without a single error reply: a failed
// handshake (a client that does not trust the certificate, plaintext on an
// implicit-TLS port) or a TLS handshake sent to a port that expects SMTP.
func IsTLSMistake(note string) bool {
	return strings.HasPrefix(note, "TLS handshake failed") || strings.HasPrefix(note, "the client started a TLS handshake")
}
