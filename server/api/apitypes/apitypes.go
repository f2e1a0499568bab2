// Package apitypes owns the JSON bodies of mailsink's HTTP API under
// /api/v1/: what server/api writes and server/client decodes. Field names
// are Mailpit's wherever Mailpit has the field, so Mailpit clients read
// them unchanged; openapi.json in server/api describes them.
//
// It exists so that a program using the Go client does not compile the
// server: it imports the standard library and server/faults (pure,
// standard library only, whose Rule is the wire form of a fault rule) and
// nothing else. It must never import storage (which brings enmime),
// server/api or any transport. The types that mirror storage's (Address,
// Envelope, Delivery, Summary, Transcript) are copies on purpose; server/api
// converts, and its tests fail when the two drift apart.
package apitypes

import (
	"time"

	"github.com/mailsink/mailsink/server/faults"
)

// ErrorBody is every error answer: {"Error": "..."}.
type ErrorBody struct {
	Error string
}

// Address is a mailbox, its display name decoded to UTF-8.
type Address struct {
	Name    string
	Address string
}

// Envelope is what the SMTP client said, as opposed to what the headers
// claim: Bcc recipients exist only here.
type Envelope struct {
	From string   // MAIL FROM reverse-path, "" for the null sender
	To   []string // every accepted RCPT TO, in order
}

// Delivery records how a message reached mailsink.
type Delivery struct {
	Listener      string    // listener name, e.g. "smtp-587"
	Port          int       // listener port the client connected to
	ClientAddr    string    // remote address, host:port
	Helo          string    // HELO/EHLO name the client gave
	TLS           bool      // whether the session was encrypted at DATA
	TLSVersion    string    // e.g. "TLS 1.3"
	TLSCipher     string    // e.g. "TLS_AES_128_GCM_SHA256"
	AuthMechanism string    // e.g. "PLAIN"; empty without AUTH
	AuthUser      string    // authenticated identity; the password is never kept
	SessionID     string    // SMTP session transcript ID, if any
	Received      time.Time // when DATA completed
}

// Summary is a message as it appears in lists: Mailpit's MessageSummary,
// plus mailsink's Envelope and Delivery.
type Summary struct {
	ID          string
	MessageID   string
	Read        bool
	From        *Address
	To          []Address
	Cc          []Address
	Bcc         []Address // the Bcc header's addresses and envelope recipients no header names
	ReplyTo     []Address
	Subject     string
	Created     time.Time
	Username    string
	Tags        []string
	Size        int
	Attachments int
	Snippet     string
	Envelope    Envelope
	Delivery    Delivery
}

// MessagesSummary is Mailpit's list response.
type MessagesSummary struct {
	Total          int       `json:"total"`
	Unread         int       `json:"unread"`
	Count          int       `json:"count"`
	MessagesCount  int       `json:"messages_count"`
	MessagesUnread int       `json:"messages_unread"`
	Start          int       `json:"start"`
	Tags           []string  `json:"tags"`
	Messages       []Summary `json:"messages"`
	// mailsink: messages evicted since start to respect the store limits.
	Evicted uint64 `json:"evicted"`
}

// Message is Mailpit's message view plus mailsink's envelope, delivery and
// parse errors.
type Message struct {
	ID              string
	MessageID       string
	Read            bool
	From            *Address
	To, Cc, Bcc     []Address
	ReplyTo         []Address
	ReturnPath      string
	Subject         string
	ListUnsubscribe ListUnsubscribe
	Date            time.Time
	Tags            []string
	Username        string
	Text            string
	HTML            string
	Size            int
	Inline          []Attachment
	Attachments     []Attachment
	Envelope        Envelope
	Delivery        Delivery
	Errors          []string // MIME problems found while parsing; the raw message is kept as is
}

// ListUnsubscribe is Mailpit's List-Unsubscribe view.
type ListUnsubscribe struct {
	Header     string
	Links      []string
	Errors     string
	HeaderPost string
}

// Attachment is Mailpit's attachment view.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        int
	Checksums   struct{ MD5, SHA1, SHA256 string }
}

// Info is Mailpit's AppInformation subset plus mailsink's store counters.
type Info struct {
	Version      string
	Messages     int
	Unread       int
	Tags         map[string]int
	RuntimeStats struct {
		Uptime           int
		MessagesDeleted  uint64
		MessagesEvicted  uint64
		SMTPAccepted     uint64
		SMTPAcceptedSize int64
	}
	StoreLimits struct {
		MaxMessages int
		MaxBytes    int64
	}
	StoreBytes int64

	// mailsink: webhook calls (MAILSINK_WEBHOOK_URL); absent without one.
	Webhook *WebhookStats `json:",omitempty"`
}

// WebhookStats count the webhook calls since start.
type WebhookStats struct {
	Queued    int    // messages waiting for their call now
	Delivered uint64 // calls the receiver answered 2xx
	Failed    uint64 // messages given up: a 4xx answer, or every attempt failed
	Retries   uint64 // attempts after a first one
	Timeouts  uint64 // attempts that got no answer within MAILSINK_WEBHOOK_TIMEOUT
	Dropped   uint64 // messages whose call was never made: the queue was full, or they were gone first
}

// WaitTimeout is the body of a wait that ran out of time (408).
type WaitTimeout struct {
	Error   string
	Matched int // messages matching the query when time ran out
	Count   int // messages the caller waited for
}

// FaultRules is the body of GET and POST /api/v1/faults.
type FaultRules struct {
	Rules []faults.Rule
}

// ChaosTrigger is one of Mailpit's chaos triggers. Probability is a
// percentage, as in Mailpit.
type ChaosTrigger struct {
	ErrorCode   int
	Probability int
}

// ChaosTriggers is the body of GET and PUT /api/v1/chaos.
type ChaosTriggers struct {
	Sender         ChaosTrigger
	Recipient      ChaosTrigger
	Authentication ChaosTrigger
}

// Sessions is the body of GET /api/v1/sessions.
type Sessions struct {
	Total    int
	Sessions []*Transcript
}

// Transcript is the record of one SMTP connection, also one that delivered
// nothing: who connected where, what was said, and which messages it left.
// AUTH secrets are masked and message content is elided.
type Transcript struct {
	ID         string
	Started    time.Time
	Ended      time.Time // zero while the connection is open
	Active     bool
	Listener   string
	Port       int
	ClientAddr string
	Helo       string
	TLS        bool
	TLSVersion string
	TLSCipher  string
	AuthUser   string
	MessageIDs []string // messages accepted in this session (the first as many as lines are kept)
	Faults     []string // fault rules that fired, e.g. "rcpt: 550 5.1.1 User unknown"
	Lines      []TranscriptLine
	// ErrorCount, LastError and Reason are the session's Verdict, from all
	// its lines: ErrorCount > 0 is an error session (GET
	// /api/v1/sessions?errors=1 lists those).
	ErrorCount int
	LastError  string
	Reason     string
}

// TranscriptLine is one command, reply or note.
type TranscriptLine struct {
	At   time.Time
	Dir  string // "C" client, "S" server, "*" note from mailsink
	Text string
}
