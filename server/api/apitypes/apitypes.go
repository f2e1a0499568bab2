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
	Errors          []string     // MIME problems found while parsing; the raw message is kept as is
	DKIM            []DKIMResult // one per DKIM-Signature, checked on first read; [] unsigned
}

// DKIMResult is the check of one DKIM-Signature.
type DKIMResult struct {
	Domain     string // d=
	Identifier string // i=
	Result     string // pass, fail or temperror
	Reason     string // why not pass, e.g. "body hash did not verify"
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

// Info is Mailpit's AppInformation plus mailsink's store counters.
type Info struct {
	Version       string
	LatestVersion string // "disabled": mailsink never looks for updates (it fetches nothing from outside)
	Database      string // ":memory:": mail is kept in memory only
	DatabaseSize  int64  // bytes the store holds (StoreBytes)
	Messages      int
	Unread        int
	Tags          map[string]int // messages per tag
	RuntimeStats  struct {
		Uptime           int    // seconds since start
		Memory           uint64 // bytes the Go runtime holds from the OS and has not returned
		MessagesDeleted  uint64
		MessagesEvicted  uint64 // mailsink: removed to respect the store limits
		SMTPAccepted     uint64
		SMTPAcceptedSize int64
		SMTPRejected     uint64 // messages refused at or after DATA
		SMTPIgnored      uint64 // always 0: mailsink ignores no duplicates
	}
	StoreLimits struct {
		MaxMessages int
		MaxBytes    int64
	}
	StoreBytes int64
	Listeners  []Listener // the SMTP ports and whether each is paused

	// mailsink: webhook calls (MAILSINK_WEBHOOK_URL); absent without one.
	Webhook *WebhookStats `json:",omitempty"`
}

// Listener is one SMTP port as GET /api/v1/listeners shows it.
type Listener struct {
	Name   string // e.g. "smtp-587"
	Port   int
	Addr   string // the bound address
	TLS    string // none, starttls, starttls-required, implicit
	Auth   string // off, optional, required, credentials, reject
	Paused bool
	// While paused: how it fails (refuse, 421 or hang) and since when.
	PauseMode   string    `json:",omitempty"`
	PausedSince time.Time `json:",omitzero"`
}

// Listeners is the body of GET /api/v1/listeners.
type Listeners struct {
	Listeners []Listener
}

// Pause is the optional body of POST /api/v1/listeners/{port}/pause.
type Pause struct {
	Mode string // refuse (default), 421 or hang
}

// WebUIConfig is Mailpit's web UI configuration (GET /api/v1/webui), as
// mailsink answers it: it relays nothing and runs no spam checks.
type WebUIConfig struct {
	Label        string
	MessageRelay struct {
		Enabled            bool
		SMTPServer         string
		ReturnPath         string
		AllowedRecipients  string
		BlockedRecipients  string
		OverrideFrom       string
		PreserveMessageIDs bool
		RecipientAllowlist string // Mailpit's deprecated name of AllowedRecipients
	}
	SpamAssassin        bool
	Rspamd              bool
	ChaosEnabled        bool
	DuplicatesIgnored   bool
	HideDeleteAllButton bool
}

// SetTagsRequest is the body of PUT /api/v1/tags: Tags replace the tags of
// the messages IDs names; none removes them.
type SetTagsRequest struct {
	IDs  []string
	Tags []string
}

// RenameTagRequest is the body of PUT /api/v1/tags/{tag}.
type RenameTagRequest struct {
	Name string
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
	// Lines is left out of a listing asked for with ?lines=0 and of the
	// inbox's live frames; LineCount says how many there are.
	Lines     []TranscriptLine `json:",omitzero"`
	LineCount int
	// ErrorCount, LastError, Reason and Explained are the session's
	// Verdict, from all its lines: ErrorCount > 0 is an error session (GET
	// /api/v1/sessions?errors=1 lists those).
	ErrorCount int
	LastError  string
	Reason     string
	Explained  bool
}

// TranscriptLine is one command, reply or note.
type TranscriptLine struct {
	At    time.Time
	Dir   string // "C" client, "S" server, "*" note from mailsink
	Text  string
	Error bool `json:",omitempty"` // one of the session's errors, or part of one (ErrorLine)
}

// Links is the body of GET /api/v1/message/{ID}/links.
type Links struct {
	ID    string // the message's, also when asked for "latest"
	Links []Link
}

// Link is one distinct URL of a message.
type Link struct {
	URL   string
	Text  string   // its anchor text in the HTML; "" for a bare URL in text
	Parts []string // where it appears: "html", "text"
}

// Codes is the body of GET /api/v1/message/{ID}/codes.
type Codes struct {
	ID      string
	Pattern string // the pattern used (the default when none was given)
	Codes   []Code
}

// Code is one distinct match of the pattern.
type Code struct {
	Code  string // the first capture group, or the whole match without one
	Match string
	Part  string // subject, text or html (the HTML's visible text)
}
