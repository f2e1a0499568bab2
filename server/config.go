package server

import (
	"errors"
	"flag"
	"fmt"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/httpauth"
	"github.com/mailsink/mailsink/server/smtpd"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The listener types live in smtpd, which serves them; these aliases keep
// configuration code readable.
type (
	TLSMode        = smtpd.TLSMode
	AuthMode       = smtpd.AuthMode
	ListenerConfig = smtpd.ListenerConfig
)

const (
	TLSNone             = smtpd.TLSNone
	TLSStartTLS         = smtpd.TLSStartTLS
	TLSStartTLSRequired = smtpd.TLSStartTLSRequired
	TLSImplicit         = smtpd.TLSImplicit
	AuthOff             = smtpd.AuthOff
	AuthOptional        = smtpd.AuthOptional
	AuthRequired        = smtpd.AuthRequired
	AuthCredentials     = smtpd.AuthCredentials
	AuthReject          = smtpd.AuthReject
)

var (
	tlsModes  = []TLSMode{TLSNone, TLSStartTLS, TLSStartTLSRequired, TLSImplicit}
	authModes = []AuthMode{AuthOff, AuthOptional, AuthRequired, AuthCredentials, AuthReject}
)

// DefaultListeners mirror how real providers use the ports, after one that
// any mailer can use unchanged: 1025 (Mailpit's and MailHog's default) offers
// no STARTTLS, so a client that takes STARTTLS whenever it is offered (and
// then verifies the certificate) sends in plaintext, and accepts any login
// or none.
func DefaultListeners() []ListenerConfig {
	return []ListenerConfig{
		{Port: 1025, TLS: TLSNone, Auth: AuthOptional, CleartextAuth: true},
		{Port: 25, TLS: TLSStartTLS, Auth: AuthOff, CleartextAuth: true},
		{Port: 587, TLS: TLSStartTLSRequired, Auth: AuthRequired, CleartextAuth: false},
		{Port: 465, TLS: TLSImplicit, Auth: AuthRequired, CleartextAuth: true},
		{Port: 2525, TLS: TLSStartTLS, Auth: AuthOptional, CleartextAuth: true},
	}
}

// FallbackPort is where a default listener on a privileged port goes when
// the process may not bind it: 25 -> 10025, 587 -> 10587, 465 -> 10465.
// (Adding 1000 would put 25 on 1025, the plaintext listener's port.)
func FallbackPort(port int) int { return port + 10000 }

// ParseListener reads "PORT:TLS:AUTH[:OPTION]", e.g. "2525:starttls:optional"
// or "587:starttls-required:credentials". TLS defaults to none and AUTH to
// off when omitted. OPTION is cleartext-auth or tls-auth-only.
func ParseListener(spec string) (ListenerConfig, error) {
	fields := strings.Split(strings.TrimSpace(spec), ":")
	if len(fields) > 4 {
		return ListenerConfig{}, fmt.Errorf("listener %q: want PORT:TLS:AUTH[:OPTION]", spec)
	}
	port, err := strconv.Atoi(fields[0])
	if err != nil || port < 0 || port > 65535 {
		return ListenerConfig{}, fmt.Errorf("listener %q: port %q is not a number from 0 to 65535", spec, fields[0])
	}
	l := ListenerConfig{Port: port, TLS: TLSNone, Auth: AuthOff}
	if len(fields) > 1 {
		if l.TLS, err = oneOf(TLSMode(strings.ToLower(fields[1])), tlsModes); err != nil {
			return ListenerConfig{}, fmt.Errorf("listener %q: TLS mode: %w", spec, err)
		}
	}
	if len(fields) > 2 {
		if l.Auth, err = oneOf(AuthMode(strings.ToLower(fields[2])), authModes); err != nil {
			return ListenerConfig{}, fmt.Errorf("listener %q: auth mode: %w", spec, err)
		}
	}
	l.CleartextAuth = smtpd.DefaultCleartextAuth(l.TLS)
	if len(fields) > 3 {
		switch strings.ToLower(fields[3]) {
		case "cleartext-auth":
			l.CleartextAuth = true
		case "tls-auth-only":
			l.CleartextAuth = false
		default:
			return ListenerConfig{}, fmt.Errorf("listener %q: option %q is not cleartext-auth or tls-auth-only", spec, fields[3])
		}
	}
	return l, nil
}

func oneOf[T ~string](v T, allowed []T) (T, error) {
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", fmt.Errorf("%q is not one of %s", v, strings.Join(names, ", "))
}

// ParseListeners reads a comma- or space-separated list of listener specs.
// "none" (or an empty list) means no SMTP listener at all.
func ParseListeners(list string) ([]ListenerConfig, error) {
	list = strings.TrimSpace(list)
	if list == "" || strings.EqualFold(list, "none") {
		return []ListenerConfig{}, nil
	}
	var out []ListenerConfig
	seen := map[int]bool{}
	for _, spec := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		l, err := ParseListener(spec)
		if err != nil {
			return nil, err
		}
		if l.Port != 0 && seen[l.Port] {
			return nil, fmt.Errorf("listener %q: port %d is listed twice", spec, l.Port)
		}
		seen[l.Port] = true
		out = append(out, l)
	}
	return out, nil
}

// ParseCredentials reads "user:password[,user:password...]".
func ParseCredentials(list string) (map[string]string, error) {
	creds := map[string]string{}
	for _, pair := range strings.Split(list, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		user, pass, ok := strings.Cut(pair, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("credential %q: want user:password", pair)
		}
		creds[user] = pass
	}
	return creds, nil
}

// Config is everything mailsink can be told. Zero values are not defaults:
// start from DefaultConfig.
type Config struct {
	Bind      string // address every listener binds, e.g. 127.0.0.1 or 0.0.0.0
	HTTPPort  int    // web UI and API
	Hostname  string // SMTP greeting and certificate name
	Listeners []ListenerConfig
	// ListenersChosen records that the user picked the listeners; only the
	// defaults fall back to FallbackPort when a privileged port is refused.
	ListenersChosen bool
	// Container says mailsink runs in a container, so the banner names the
	// ports as published on the host (set by main, not a setting).
	Container bool

	Credentials     map[string]string // for auth mode "credentials"
	TLSCert         string            // PEM file; empty: generate a self-signed one
	TLSKey          string
	TLSDir          string // keeps a CA and the server certificate it signed across restarts
	MaxMessageSize  int64  // per message, advertised as SIZE; 552 beyond
	MaxMessages     int    // store limit, oldest evicted first
	MaxStoreBytes   int64  // store limit on raw bytes, oldest evicted first
	MaxRecipients   int
	MaxConnections  int           // concurrent SMTP connections over all listeners; 421 beyond
	MaxCommands     int           // commands without delivering a message; the connection closes beyond
	MaxDataInFlight int64         // message bytes being received over all connections; 452 beyond
	MaxLineLength   int           // longest SMTP line, commands and message lines; 500 beyond
	MaxSessions     int           // session transcripts kept, oldest forgotten first
	Faults          []faults.Rule // fault rules active from the start
	SMTPTimeout     time.Duration // idle time per SMTP command before 421
	HTTPTimeout     time.Duration // to read a request and to write an answer (waits and WebSockets excepted)
	AllowedOrigins  []string      // extra browser Origins (and Hosts) allowed on the WebSocket and API writes
	SMTPDebug       bool          // log full SMTP conversations (includes secrets and bodies)
	TagsNoXTags     bool          // MAILSINK_TAGS_DISABLE=x-tags: X-Tags headers are not tags
	TagsNoPlus      bool          // MAILSINK_TAGS_DISABLE=plus-addresses: user+tag@ gives no tag
	DKIMKeys        string        // file of DNS TXT records holding DKIM public keys
	DKIMDNS         bool          // also look DKIM keys up in real DNS
	// LinkCheckAllowPrivate lets the link check reach loopback, private and
	// link-local addresses, which it refuses by default.
	LinkCheckAllowPrivate bool

	// Webhook calls (server/webhook); no URL: none.
	WebhookURL     string
	WebhookLimit   float64       // requests a second, retries included; 0: no limit
	WebhookDelay   time.Duration // after a message arrives, before its call
	WebhookTimeout time.Duration // per request
	WebhookQueue   int           // messages waiting at most

	// HTTP basic authentication (server/httpauth); none set: off.
	UIAuth               map[string]string // user -> password, for the inbox, API, WebSocket and /metrics
	UIAuthFile           string            // htpasswd file of bcrypt hashes, for the same
	SendAPIAuth          map[string]string // user -> password, the only ones /api/v1/send then accepts
	SendAPIAuthFile      string            // htpasswd file, for the same
	SendAPIAuthAcceptAny bool              // /api/v1/send takes any request, credentials or none
}

// DefaultConfig is what mailsink runs with when told nothing.
func DefaultConfig() Config {
	return Config{
		Bind:            "127.0.0.1",
		HTTPPort:        8025,
		Hostname:        "mailsink.localhost",
		Listeners:       DefaultListeners(),
		Credentials:     map[string]string{},
		MaxMessageSize:  25 << 20,
		MaxMessages:     10000,
		MaxStoreBytes:   512 << 20,
		MaxRecipients:   1000,
		MaxConnections:  1000,
		MaxCommands:     10000,
		MaxDataInFlight: 256 << 20,
		MaxLineLength:   2000,
		MaxSessions:     1000,
		SMTPTimeout:     60 * time.Second,
		HTTPTimeout:     60 * time.Second,
		WebhookLimit:    10,
		WebhookTimeout:  5 * time.Second,
		WebhookQueue:    1000,
	}
}

// setting is one configuration variable: its flag, its environment
// variable, its help, and how it is applied. The table is the single source
// for --help, the README's reference and the loader.
type setting struct {
	flag, env, help string
	set             func(c *Config, v string) error
	get             func(c Config) string
}

// Settings lists every setting; see LoadConfig.
func settings() []setting {
	return []setting{
		{"bind", "MAILSINK_BIND", "address every port binds (0.0.0.0 for all interfaces)",
			func(c *Config, v string) error {
				if net.ParseIP(strings.Trim(v, "[]")) == nil && v != "localhost" {
					return fmt.Errorf("%q is not an IP address", v)
				}
				c.Bind = strings.Trim(v, "[]")
				return nil
			}, func(c Config) string { return c.Bind }},
		{"http", "MAILSINK_HTTP_PORT", "web inbox and API port",
			func(c *Config, v string) error { return parsePort(v, &c.HTTPPort) },
			func(c Config) string { return strconv.Itoa(c.HTTPPort) }},
		{"smtp", "MAILSINK_SMTP", "SMTP listeners, PORT:TLS:AUTH[:OPTION] separated by commas or spaces; \"none\" for none",
			func(c *Config, v string) error {
				l, err := ParseListeners(v)
				if err != nil {
					return err
				}
				c.Listeners, c.ListenersChosen = l, true
				return nil
			}, func(c Config) string { return listenersString(c.Listeners) }},
		{"hostname", "MAILSINK_HOSTNAME", "name in the SMTP greeting and the generated certificate",
			func(c *Config, v string) error {
				if strings.TrimSpace(v) == "" || strings.ContainsAny(v, " \t\r\n") {
					return fmt.Errorf("%q is not a host name", v)
				}
				c.Hostname = v
				return nil
			}, func(c Config) string { return c.Hostname }},
		{"credentials", "MAILSINK_CREDENTIALS", "user:password pairs for auth mode credentials, comma-separated",
			func(c *Config, v string) (err error) { c.Credentials, err = ParseCredentials(v); return err },
			func(c Config) string { return "" }},
		{"tls-cert", "MAILSINK_TLS_CERT", "PEM certificate file (default: self-signed, generated at start)",
			func(c *Config, v string) error { c.TLSCert = v; return nil }, func(c Config) string { return c.TLSCert }},
		{"tls-key", "MAILSINK_TLS_KEY", "PEM private key file for --tls-cert",
			func(c *Config, v string) error { c.TLSKey = v; return nil }, func(c Config) string { return c.TLSKey }},
		{"tls-dir", "MAILSINK_TLS_DIR", "directory that keeps a CA (ca.pem, made once) and the server certificate it signs (cert.pem), so clients trust ca.pem once across restarts",
			func(c *Config, v string) error { c.TLSDir = v; return nil }, func(c Config) string { return c.TLSDir }},
		{"max-message-size", "MAILSINK_MAX_MESSAGE_SIZE", "largest message accepted, bytes (suffixes K, M, G); 552 beyond",
			func(c *Config, v string) error { return parseSize(v, &c.MaxMessageSize) },
			func(c Config) string { return FormatSize(c.MaxMessageSize) }},
		{"max-messages", "MAILSINK_MAX_MESSAGES", "messages kept; the oldest are evicted beyond (0: unlimited)",
			func(c *Config, v string) error { return parseCount(v, &c.MaxMessages) },
			func(c Config) string { return strconv.Itoa(c.MaxMessages) }},
		{"max-store-size", "MAILSINK_MAX_STORE_SIZE", "raw bytes kept over all messages (suffixes K, M, G); oldest evicted beyond (0: unlimited)",
			func(c *Config, v string) error { return parseSize(v, &c.MaxStoreBytes) },
			func(c Config) string { return FormatSize(c.MaxStoreBytes) }},
		{"max-recipients", "MAILSINK_MAX_RECIPIENTS", "RCPT TO per message; 452 beyond (0: unlimited)",
			func(c *Config, v string) error { return parseCount(v, &c.MaxRecipients) },
			func(c Config) string { return strconv.Itoa(c.MaxRecipients) }},
		{"max-connections", "MAILSINK_MAX_CONNECTIONS", "concurrent SMTP connections; 421 beyond (0: unlimited)",
			func(c *Config, v string) error { return parseCount(v, &c.MaxConnections) },
			func(c Config) string { return strconv.Itoa(c.MaxConnections) }},
		{"max-data-in-flight", "MAILSINK_MAX_DATA_IN_FLIGHT", "bytes of messages still being received, over all connections (suffixes K, M, G); 452 beyond (0: unlimited)",
			func(c *Config, v string) error { return parseSize(v, &c.MaxDataInFlight) },
			func(c Config) string { return FormatSize(c.MaxDataInFlight) }},
		{"max-commands", "MAILSINK_MAX_COMMANDS", "SMTP commands allowed without delivering a message (the count restarts at each accepted message); the connection is closed beyond (0: unlimited)",
			func(c *Config, v string) error { return parseCount(v, &c.MaxCommands) },
			func(c Config) string { return strconv.Itoa(c.MaxCommands) }},
		{"max-line-length", "MAILSINK_MAX_LINE_LENGTH", "longest SMTP line in bytes, commands and message lines; 500 beyond (0: unlimited)",
			func(c *Config, v string) error { return parseCount(v, &c.MaxLineLength) },
			func(c Config) string { return strconv.Itoa(c.MaxLineLength) }},
		{"max-sessions", "MAILSINK_MAX_SESSIONS", "SMTP session transcripts kept; the oldest are forgotten beyond",
			func(c *Config, v string) error {
				if err := parseCount(v, &c.MaxSessions); err != nil || c.MaxSessions == 0 {
					return fmt.Errorf("%q is not a whole number >= 1", v)
				}
				return nil
			},
			func(c Config) string { return strconv.Itoa(c.MaxSessions) }},
		{"faults", "MAILSINK_FAULTS", "fault rules active from the start: STAGE,key=value,... separated by \";\", or a JSON array (see README)",
			func(c *Config, v string) (err error) { c.Faults, err = faults.ParseRules(v); return err },
			func(c Config) string { return "" }},
		{"smtp-timeout", "MAILSINK_SMTP_TIMEOUT", "idle time allowed per SMTP command, e.g. 30s",
			func(c *Config, v string) error { return parseDuration(v, &c.SMTPTimeout) },
			func(c Config) string { return formatDuration(c.SMTPTimeout) }},
		{"http-timeout", "MAILSINK_HTTP_TIMEOUT", "time allowed to read an HTTP request and to write its answer (waits and WebSockets excepted), e.g. 60s; idle keep-alive connections close after it too",
			func(c *Config, v string) error { return parseDuration(v, &c.HTTPTimeout) },
			func(c Config) string { return formatDuration(c.HTTPTimeout) }},
		{"allowed-origins", "MAILSINK_ALLOWED_ORIGINS", "extra browser origins allowed to open the live WebSocket and change mail through the API, comma-separated (\"*\": any)",
			func(c *Config, v string) error {
				c.AllowedOrigins = nil
				for _, o := range strings.Split(v, ",") {
					if o = strings.TrimSpace(o); o != "" {
						c.AllowedOrigins = append(c.AllowedOrigins, o)
					}
				}
				return nil
			}, func(c Config) string { return strings.Join(c.AllowedOrigins, ",") }},
		{"smtp-debug", "MAILSINK_SMTP_DEBUG", "log every SMTP line, secrets and bodies included (true/false)",
			func(c *Config, v string) (err error) { c.SMTPDebug, err = strconv.ParseBool(v); return err },
			func(c Config) string { return strconv.FormatBool(c.SMTPDebug) }},
		{"tags-disable", "MAILSINK_TAGS_DISABLE", "tag sources to turn off, comma-separated: x-tags (the X-Tags header), plus-addresses (user+tag@example.test); as Mailpit's --tags-disable",
			func(c *Config, v string) error {
				c.TagsNoXTags, c.TagsNoPlus = false, false
				for _, f := range strings.Split(v, ",") {
					switch strings.ToLower(strings.TrimSpace(f)) {
					case "x-tags", "xtags":
						c.TagsNoXTags = true
					case "plus-addresses", "plus-addressing":
						c.TagsNoPlus = true
					case "":
					default:
						return fmt.Errorf("%q: want x-tags, plus-addresses or both", f)
					}
				}
				return nil
			},
			func(c Config) string {
				var off []string
				if c.TagsNoXTags {
					off = append(off, "x-tags")
				}
				if c.TagsNoPlus {
					off = append(off, "plus-addresses")
				}
				return strings.Join(off, ",")
			}},
		{"dkim-keys", "MAILSINK_DKIM_KEYS", "file of DNS TXT records with the DKIM public keys to check signatures against (sel._domainkey.example.test. IN TXT \"v=DKIM1; ...\")",
			func(c *Config, v string) error { c.DKIMKeys = v; return nil },
			func(c Config) string { return c.DKIMKeys }},
		{"dkim-dns", "MAILSINK_DKIM_DNS", "also look DKIM keys up in real DNS (true/false; default false: nothing is fetched)",
			func(c *Config, v string) (err error) { c.DKIMDNS, err = strconv.ParseBool(v); return err },
			func(c Config) string { return strconv.FormatBool(c.DKIMDNS) }},
		{"link-check-allow-private", "MAILSINK_LINK_CHECK_ALLOW_PRIVATE", "let the link check (/api/v1/message/{ID}/link-check) reach loopback, private and link-local addresses (true/false)",
			func(c *Config, v string) (err error) { c.LinkCheckAllowPrivate, err = strconv.ParseBool(v); return err },
			func(c Config) string { return strconv.FormatBool(c.LinkCheckAllowPrivate) }},

		// Webhooks.
		{"webhook-url", "MAILSINK_WEBHOOK_URL", "POST each captured message's summary as JSON to this http(s) URL (Mailpit's webhook)",
			func(c *Config, v string) error {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("%q is not an http:// or https:// URL", redactURL(v))
				}
				c.WebhookURL = v
				return nil
			}, func(c Config) string { return "" }},
		{"webhook-limit", "MAILSINK_WEBHOOK_LIMIT", "webhook requests per second, retries included; calls over it wait in the queue (0: unlimited)",
			func(c *Config, v string) error {
				n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || n < 0 || math.IsInf(n, 0) {
					return fmt.Errorf("%q is not a number >= 0", v)
				}
				c.WebhookLimit = n
				return nil
			}, func(c Config) string { return strconv.FormatFloat(c.WebhookLimit, 'g', -1, 64) }},
		{"webhook-delay", "MAILSINK_WEBHOOK_DELAY", "wait this long after a message arrives before its webhook call, e.g. 2s",
			func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return fmt.Errorf("%q is not a duration >= 0 such as 2s", v)
				}
				c.WebhookDelay = d
				return nil
			}, func(c Config) string { return formatDuration(c.WebhookDelay) }},
		{"webhook-timeout", "MAILSINK_WEBHOOK_TIMEOUT", "time allowed for one webhook request, e.g. 5s",
			func(c *Config, v string) error { return parseDuration(v, &c.WebhookTimeout) },
			func(c Config) string { return formatDuration(c.WebhookTimeout) }},
		{"webhook-queue", "MAILSINK_WEBHOOK_QUEUE", "messages waiting for their webhook call at most; beyond, calls are dropped and counted",
			func(c *Config, v string) error {
				if err := parseCount(v, &c.WebhookQueue); err != nil || c.WebhookQueue == 0 {
					return fmt.Errorf("%q is not a whole number >= 1", v)
				}
				return nil
			}, func(c Config) string { return strconv.Itoa(c.WebhookQueue) }},

		// HTTP authentication.
		{"ui-auth", "MAILSINK_UI_AUTH", "user:password pairs separated by spaces: HTTP basic authentication for the inbox, API, WebSocket and /metrics",
			func(c *Config, v string) (err error) { c.UIAuth, err = httpauth.ParsePairs(v); return err },
			func(c Config) string { return "" }},
		{"ui-auth-file", "MAILSINK_UI_AUTH_FILE", "htpasswd file of bcrypt hashes (htpasswd -B) for the same",
			func(c *Config, v string) error { c.UIAuthFile = v; return nil }, func(c Config) string { return c.UIAuthFile }},
		{"send-api-auth", "MAILSINK_SEND_API_AUTH", "user:password pairs separated by spaces: the only credentials POST /api/v1/send then accepts",
			func(c *Config, v string) (err error) { c.SendAPIAuth, err = httpauth.ParsePairs(v); return err },
			func(c Config) string { return "" }},
		{"send-api-auth-file", "MAILSINK_SEND_API_AUTH_FILE", "htpasswd file of bcrypt hashes for the same",
			func(c *Config, v string) error { c.SendAPIAuthFile = v; return nil }, func(c Config) string { return c.SendAPIAuthFile }},
		{"send-api-auth-accept-any", "MAILSINK_SEND_API_AUTH_ACCEPT_ANY", "POST /api/v1/send takes any request, with any credentials or none (true/false)",
			func(c *Config, v string) (err error) { c.SendAPIAuthAcceptAny, err = strconv.ParseBool(v); return err },
			func(c Config) string { return strconv.FormatBool(c.SendAPIAuthAcceptAny) }},
	}
}

// redactURL hides a password in a URL for an error message.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

func listenersString(ls []ListenerConfig) string {
	if len(ls) == 0 {
		return "none"
	}
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, ",")
}

func parsePort(v string, dst *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q is not a port number from 0 to 65535", v)
	}
	*dst = n
	return nil
}

func parseCount(v string, dst *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a whole number >= 0", v)
	}
	*dst = n
	return nil
}

// ParseSize reads a byte count with an optional K, M or G suffix (powers of 1024).
func ParseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "I")
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 25M", v)
	}
	return n * mult, nil
}

// FormatSize writes n the way ParseSize reads it, e.g. 25M.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseDuration reads a positive duration such as 30s.
func parseDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration such as 30s", v)
	}
	*dst = d
	return nil
}

// formatDuration writes 1m rather than 1m0s (and 10s as 10s).
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func parseSize(v string, dst *int64) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

// ErrHelp is returned by LoadConfig for -h/--help after printing usage.
var ErrHelp = flag.ErrHelp

// LoadConfig builds the configuration from defaults, then MAILSINK_*
// variables (through getenv), then command-line flags, which win. Usage goes
// to out on --help or a flag error.
func LoadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := DefaultConfig()
	for _, s := range settings() {
		if v := getenv(s.env); v != "" {
			if err := s.set(&c, v); err != nil {
				return c, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	fs := flag.NewFlagSet("mailsink", flag.ContinueOnError)
	fs.SetOutput(out)
	var secrets []func() error // see secretFlag
	for _, s := range settings() {
		set := func(v string) error { return s.set(&c, v) }
		if secretFlag(s.flag) {
			set = func(v string) error {
				secrets = append(secrets, func() error {
					if err := s.set(&c, v); err != nil {
						return fmt.Errorf("--%s: %w", s.flag, err)
					}
					return nil
				})
				return nil
			}
		}
		fs.Func(s.flag, s.help+" (env "+s.env+")", set)
	}
	fs.Usage = func() { Usage(out) }
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, apply := range secrets {
		if err := apply(); err != nil {
			return c, err
		}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return c, c.Validate()
}

// secretFlag is whether a flag's value may hold a password. The flag
// package repeats a refused value in its error; these are applied after
// parsing instead, so an error names the flag but never shows the value.
func secretFlag(name string) bool {
	switch name {
	case "credentials", "ui-auth", "send-api-auth", "webhook-url":
		return true
	}
	return false
}

// Validate checks settings that depend on each other.
func (c Config) Validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("MAILSINK_TLS_CERT and MAILSINK_TLS_KEY must be given together")
	}
	if c.SendAPIAuthAcceptAny && (len(c.SendAPIAuth) > 0 || c.SendAPIAuthFile != "") {
		return errors.New("MAILSINK_SEND_API_AUTH_ACCEPT_ANY and MAILSINK_SEND_API_AUTH(_FILE): give one or the other")
	}
	if c.TLSCert != "" && c.TLSDir != "" {
		return errors.New("MAILSINK_TLS_DIR and MAILSINK_TLS_CERT: give one or the other")
	}
	for _, l := range c.Listeners {
		if l.Auth == AuthCredentials && len(c.Credentials) == 0 {
			return fmt.Errorf("MAILSINK_SMTP: listener %s uses auth mode credentials but MAILSINK_CREDENTIALS is empty", l)
		}
		if l.Port != 0 && l.Port == c.HTTPPort {
			return fmt.Errorf("MAILSINK_SMTP: listener %s uses the HTTP port %d", l, c.HTTPPort)
		}
	}
	return nil
}

// Usage prints every setting with its flag, variable and default.
func Usage(out io.Writer) {
	fmt.Fprintf(out, "Usage: mailsink [flags]\n       mailsink healthcheck (or readyz)\n       mailsink sendmail [sendmail flags] [recipient ...] < message (see mailsink sendmail --help)\n       mailsink --version\n\nEvery flag can also be set by its environment variable; flags win.\n\n")
	def := DefaultConfig()
	for _, s := range settings() {
		d := s.get(def)
		if d != "" {
			d = " (default " + d + ")"
		}
		fmt.Fprintf(out, "  --%s, %s\n        %s%s\n", s.flag, s.env, s.help, d)
	}
	fmt.Fprintf(out, "\nListener syntax: PORT:TLS:AUTH[:OPTION]\n  TLS:    none, starttls, starttls-required, implicit\n  AUTH:   off, optional, required, credentials, reject\n  OPTION: cleartext-auth, tls-auth-only\n")
}

// EnvVars lists every MAILSINK_* variable mailsink reads.
func EnvVars() []string {
	var out []string
	for _, s := range settings() {
		out = append(out, s.env)
	}
	return out
}
