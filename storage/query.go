package storage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// QueryError says what is wrong with a search query.
type QueryError struct {
	Query, Problem string
}

func (e *QueryError) Error() string { return fmt.Sprintf("search query %q: %s", e.Query, e.Problem) }

// ParseQuery compiles a search in Mailpit's syntax into a Filter. Terms are
// separated by spaces and all must match; "quoted phrases" stay together;
// a leading - or ! negates a term. Matching is case-insensitive substring.
//
//	from: to: cc: bcc: reply-to: addressed: subject: message-id:
//	is:read is:unread is:tagged has:attachment has:inline tag:NAME
//	before:DATE after:DATE larger:SIZE smaller:SIZE
//	port:N (listener port) auth:USER (SMTP AUTH user)
//	dkim:pass dkim:fail dkim:none (checked on first need) and free text
//
// to: also matches envelope recipients and from: the envelope sender, so
// Bcc and envelope-only addresses can be asserted. Dates are YYYY-MM-DD,
// RFC 3339 or a duration back from now such as 10m; loc is used for dates
// without a zone. tag: matches a whole tag name, ignoring case, as Mailpit
// does (quote a name with spaces: tag:"two words"). An empty query matches
// everything.
func ParseQuery(q string, now time.Time, loc *time.Location) (Filter, error) {
	tokens, err := tokenize(q)
	if err != nil {
		return nil, &QueryError{q, err.Error()}
	}
	var terms []Filter
	for _, tok := range tokens {
		f, err := compileTerm(tok, now, loc)
		if err != nil {
			return nil, &QueryError{q, err.Error()}
		}
		terms = append(terms, f)
	}
	if len(terms) == 0 {
		return nil, nil
	}
	return func(m *Message) bool {
		for _, t := range terms {
			if !t(m) {
				return false
			}
		}
		return true
	}, nil
}

func tokenize(q string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, has := false, false
	for _, r := range q {
		switch {
		case r == '"':
			inQuote = !inQuote
			has = true
		case (r == ' ' || r == '\t' || r == '\n') && !inQuote:
			if has {
				out = append(out, cur.String())
			}
			cur.Reset()
			has = false
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if has {
		out = append(out, cur.String())
	}
	return out, nil
}

func compileTerm(tok string, now time.Time, loc *time.Location) (Filter, error) {
	negate := false
	if len(tok) > 1 && (tok[0] == '-' || tok[0] == '!') {
		negate, tok = true, tok[1:]
	}
	f, err := positiveTerm(tok, now, loc)
	if err != nil || !negate {
		return f, err
	}
	return func(m *Message) bool { return !f(m) }, nil
}

func positiveTerm(tok string, now time.Time, loc *time.Location) (Filter, error) {
	key, val, ok := strings.Cut(tok, ":")
	key = strings.ToLower(key)
	if !ok || !knownKeys[key] {
		return textTerm(strings.ToLower(tok)), nil
	}
	if val == "" {
		return nil, fmt.Errorf("%s: needs a value", key)
	}
	v := strings.ToLower(val)
	switch key {
	case "dkim":
		if v != "pass" && v != "fail" && v != "none" {
			return nil, fmt.Errorf("dkim:%s: want dkim:pass, dkim:fail or dkim:none", val)
		}
		return func(m *Message) bool { return dkimVerdict(m.DKIM()) == v }, nil
	case "from":
		return func(m *Message) bool {
			return contains(m.Envelope.From, v) || (m.Header.From != nil && addrContains(*m.Header.From, v))
		}, nil
	case "to":
		return func(m *Message) bool { return strings.Contains(m.toKey, v) }, nil
	case "cc":
		return func(m *Message) bool { return listContains(m.Header.Cc, v) }, nil
	case "bcc":
		return func(m *Message) bool { return listContains(m.Summary().Bcc, v) }, nil
	case "reply-to":
		return func(m *Message) bool { return listContains(m.Header.ReplyTo, v) }, nil
	case "addressed":
		return func(m *Message) bool {
			h := m.Header
			return (h.From != nil && addrContains(*h.From, v)) || listContains(h.To, v) || listContains(h.Cc, v) ||
				listContains(h.Bcc, v) || listContains(h.ReplyTo, v) || contains(m.Envelope.From, v) || anyContains(m.Envelope.To, v)
		}, nil
	case "subject":
		return func(m *Message) bool { return contains(m.Header.Subject, v) }, nil
	case "message-id":
		v = strings.Trim(v, "<>")
		return func(m *Message) bool { return contains(m.Header.MessageID, v) }, nil
	case "is":
		switch v {
		case "read":
			return (*Message).Read, nil
		case "unread":
			return func(m *Message) bool { return !m.Read() }, nil
		case "tagged":
			return func(m *Message) bool { return m.tags.Load() != nil }, nil
		}
		return nil, fmt.Errorf("is:%s: want is:read, is:unread or is:tagged", val)
	case "has":
		switch v {
		case "attachment", "attachments":
			return func(m *Message) bool { return m.Details().Attachments > 0 }, nil
		case "inline", "inlines":
			return func(m *Message) bool { return m.Details().Inline > 0 }, nil
		}
		return nil, fmt.Errorf("has:%s: want has:attachment or has:inline", val)
	case "before", "after":
		t, err := parseWhen(val, now, loc)
		if err != nil {
			return nil, fmt.Errorf("%s:%s: %w", key, val, err)
		}
		if key == "before" {
			return func(m *Message) bool { return m.received.Before(t) }, nil
		}
		return func(m *Message) bool { return !m.received.Before(t) }, nil
	case "larger", "smaller":
		n, err := ParseByteSize(val)
		if err != nil {
			return nil, fmt.Errorf("%s:%s: %w", key, val, err)
		}
		if key == "larger" {
			return func(m *Message) bool { return int64(len(m.raw)) >= n }, nil
		}
		return func(m *Message) bool { return int64(len(m.raw)) <= n }, nil
	case "port":
		p, err := strconv.Atoi(val)
		if err != nil {
			return nil, fmt.Errorf("port:%s: not a port number", val)
		}
		return func(m *Message) bool { return m.delivery.Port == p }, nil
	case "auth":
		return func(m *Message) bool { return strings.EqualFold(m.delivery.AuthUser, val) }, nil
	case "tag":
		name := strings.Join(strings.Fields(val), " ") // Mailpit collapses white space
		return func(m *Message) bool { return m.HasTag(name) }, nil
	}
	return nil, fmt.Errorf("%s: unsupported", key)
}

var knownKeys = map[string]bool{
	"dkim": true, "from": true, "to": true, "cc": true, "bcc": true, "reply-to": true, "addressed": true,
	"subject": true, "message-id": true, "is": true, "has": true, "before": true, "after": true,
	"larger": true, "smaller": true, "port": true, "auth": true, "tag": true,
}

// contains is a case-insensitive substring test against a lowercased
// needle. It allocates nothing for ASCII text, which keeps a search over
// 100,000 messages within a few milliseconds.
func contains(s, lowerNeedle string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(s), lowerNeedle)
		}
	}
	n := len(lowerNeedle)
	for i := 0; i+n <= len(s); i++ {
		if asciiEqualFoldString(s[i:i+n], lowerNeedle) {
			return true
		}
	}
	return n == 0
}

func asciiEqualFoldString(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func anyContains(list []string, v string) bool {
	for _, s := range list {
		if contains(s, v) {
			return true
		}
	}
	return false
}

func addrContains(a Address, v string) bool { return contains(a.Address, v) || contains(a.Name, v) }

func listContains(list []Address, v string) bool {
	for _, a := range list {
		if addrContains(a, v) {
			return true
		}
	}
	return false
}

// textTerm matches free text in the subject, addresses, attachment names and
// bodies. Bodies are searched in the raw bytes first and decoded only when
// the message has transfer-encoded parts.
func textTerm(v string) Filter {
	needle := []byte(v)
	return func(m *Message) bool {
		h := m.Header
		if contains(h.Subject, v) || (h.From != nil && addrContains(*h.From, v)) || listContains(h.To, v) ||
			listContains(h.Cc, v) || contains(m.Envelope.From, v) || anyContains(m.Envelope.To, v) {
			return true
		}
		_, body := headerEnd(alias(m.raw))
		if containsFold(m.raw[body:], needle) {
			return true
		}
		if !containsFold(m.raw, []byte("base64")) && !containsFold(m.raw, []byte("quoted-printable")) &&
			!containsFold(m.raw, []byte("charset")) {
			return false
		}
		p := m.Parse()
		if contains(p.Text, v) || contains(stripTags(p.HTML), v) {
			return true
		}
		for _, list := range [][]Attachment{p.Attachments, p.Inline} {
			for _, a := range list {
				if contains(a.FileName, v) {
					return true
				}
			}
		}
		return false
	}
}

// containsFold reports whether lowerNeedle occurs in b, ignoring ASCII case.
func containsFold(b, lowerNeedle []byte) bool {
	n := len(lowerNeedle)
	for i := 0; i+n <= len(b); i++ {
		if asciiEqualFold(b[i:i+n], lowerNeedle) {
			return true
		}
	}
	return n == 0
}

func asciiEqualFold(b, lower []byte) bool {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func parseWhen(v string, now time.Time, loc *time.Location) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date (want YYYY-MM-DD, RFC 3339 or a duration such as 10m)")
}

// ParseByteSize reads sizes like 2kb, 1.5m, 4MB (powers of 1024).
func ParseByteSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	s = strings.TrimSuffix(s, "b")
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1<<50) { // also refuses NaN
		return 0, fmt.Errorf("not a size (want e.g. 2kb, 1.5m)")
	}
	return int64(f * mult), nil
}
