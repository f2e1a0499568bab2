package smtpd

import (
	"fmt"
	"strconv"
)

// TLSMode is how a listener offers TLS.
type TLSMode string

const (
	TLSNone             TLSMode = "none"              // cleartext only
	TLSStartTLS         TLSMode = "starttls"          // STARTTLS offered, optional
	TLSStartTLSRequired TLSMode = "starttls-required" // MAIL and AUTH get 530 before STARTTLS
	TLSImplicit         TLSMode = "implicit"          // TLS from the first byte (SMTPS)
)

// AuthMode is how a listener treats SMTP AUTH.
type AuthMode string

const (
	AuthOff         AuthMode = "off"         // not advertised, AUTH refused
	AuthOptional    AuthMode = "optional"    // advertised, any credentials accepted, not needed
	AuthRequired    AuthMode = "required"    // any credentials accepted, MAIL without AUTH gets 530
	AuthCredentials AuthMode = "credentials" // only configured user:password pairs; required
	AuthReject      AuthMode = "reject"      // every attempt gets 535
)

// ListenerConfig is one SMTP listener.
type ListenerConfig struct {
	Port int
	TLS  TLSMode
	Auth AuthMode
	// CleartextAuth allows AUTH before TLS. Default: true unless TLS is
	// starttls-required (so 587 answers 530 while 2525 lets a TLS-less
	// application authenticate).
	CleartextAuth bool
}

// Name is the listener's label in logs, transcripts and delivery facts.
func (l ListenerConfig) Name() string { return "smtp-" + strconv.Itoa(l.Port) }

// String renders the listener in the syntax ParseListener reads.
func (l ListenerConfig) String() string {
	s := fmt.Sprintf("%d:%s:%s", l.Port, l.TLS, l.Auth)
	if l.CleartextAuth != DefaultCleartextAuth(l.TLS) {
		if l.CleartextAuth {
			s += ":cleartext-auth"
		} else {
			s += ":tls-auth-only"
		}
	}
	return s
}

// DefaultCleartextAuth is whether AUTH is allowed before TLS unless told
// otherwise: everywhere but on starttls-required listeners.
func DefaultCleartextAuth(m TLSMode) bool { return m != TLSStartTLSRequired }
