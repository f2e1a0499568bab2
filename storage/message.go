package storage

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned for an ID the store does not hold (never stored,
// deleted or evicted).
var ErrNotFound = errors.New("message not found")

// ErrTooLarge is returned by Add for a message bigger than the store's
// total byte limit: storing it would evict everything and still not fit.
var ErrTooLarge = errors.New("message larger than the store's byte limit")

// Address is a parsed mailbox, with its display name decoded to UTF-8.
// Field names match net/mail.Address so it encodes as Mailpit's clients expect.
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

// Message is one captured message. Its raw bytes, Envelope and delivery
// never change after Add; Read and its tags are guarded by the store. Its strings other
// than ID share memory with the raw bytes (pack.go): keeping one long after
// the message is gone keeps that memory too.
type Message struct {
	// First, what a search over every message reads, so that it is one
	// cache line per message: toKey is every recipient (To header names and
	// addresses, envelope recipients) lowercased in one string.
	toKey string
	read  atomic.Bool // written only under the store lock, read anywhere
	seq   uint64      // arrival order, strictly increasing
	// tags is nil for a message without tags (most): see tags.go. Like
	// read, it is written only under the store lock and read anywhere.
	tags atomic.Pointer[[]string]

	ID string
	// raw is the message as received. Nothing writes it after Add: the
	// header, envelope and search strings alias it, and Raw hands it out
	// as a string, so it is unexported and never given out as a []byte.
	raw      []byte
	kept     int64 // bytes the store's limit counts for it
	Envelope Envelope
	Header   HeaderSummary

	// delivery is shared by the messages of a session (its Received is
	// zero): eight strings fewer per message for the collector to visit.
	delivery *Delivery
	received time.Time

	// Room for the usual one recipient, one To address and one sender, so
	// they are not objects of their own for the collector (pack.go).
	inlineRcpt [1]string
	inlineTo   [1]Address
	inlineFrom Address

	detailsOnce sync.Once
	details     Details
	cache       *parseCache                  // the store's; nil for a Message made elsewhere
	dkim        atomic.Pointer[[]DKIMResult] // checked on first read (dkim.go)
}

// Delivery is how the message reached mailsink.
func (m *Message) Delivery() Delivery {
	d := *m.delivery
	d.Received = m.received
	return d
}

// Received is when DATA completed.
func (m *Message) Received() time.Time { return m.received }

// Raw returns the message exactly as received. It is the stored bytes
// themselves, not a copy: they never change after Add, so the string is
// immutable like any other, and being a string it cannot be used to change
// them. Like the other strings of a Message, it keeps the stored bytes
// (and the slab they were carved from, slab.go) alive as long as it is kept.
func (m *Message) Raw() string { return alias(m.raw) }

// Size is the raw message size in bytes.
func (m *Message) Size() int { return len(m.raw) }

// Details returns the facts that need a full MIME parse (attachment counts,
// snippet). They are computed once, on first use, so capture stays cheap.
func (m *Message) Details() Details {
	m.detailsOnce.Do(func() { m.details = detailsOf(m.Parse()) })
	return m.details
}

// Parse returns the full parsed view of the message. The store keeps raw
// bytes only, to stay small; views of the last few messages read are
// cached. The result is shared: do not modify it.
func (m *Message) Parse() *Parsed {
	if m.cache == nil {
		return Parse(m.Raw())
	}
	return m.cache.get(m)
}

// Read reports whether the message has been marked read.
func (m *Message) Read() bool { return m.read.Load() }

// Seq is the message's arrival sequence number: later messages have higher ones.
func (m *Message) Seq() uint64 { return m.seq }
