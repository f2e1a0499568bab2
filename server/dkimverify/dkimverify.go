// Package dkimverify checks captured messages' DKIM signatures with
// go-msgauth, against public keys from a file of DNS TXT records the user
// supplies and, only when turned on, from real DNS. It owns the key
// lookup; the store decides when to check (storage.DKIMVerifier).
package dkimverify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailsink/mailsink/storage"
)

// Records maps a DNS name ("sel._domainkey.example.test", lower case, no
// trailing dot) to its TXT records, each its strings joined.
type Records map[string][]string

// ParseRecords reads TXT records in zone-file form, one per line:
//
//	sel._domainkey.example.test. IN TXT "v=DKIM1; k=rsa; " "p=MIIB..."
//
// The class (IN) and a TTL are optional; a record's quoted strings are
// joined; a record may continue over lines inside parentheses; ";" and
// "#" start comments outside quotes.
func ParseRecords(r io.Reader) (Records, error) {
	out := Records{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending string // a record continued in parentheses
	start := 0
	for n := 1; sc.Scan(); n++ {
		line := stripComment(sc.Text())
		if pending != "" {
			line = pending + " " + line
		} else {
			start = n
		}
		if strings.Count(line, "(") > strings.Count(line, ")") {
			pending = line
			continue
		}
		pending = ""
		line = strings.NewReplacer("(", " ", ")", " ").Replace(line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, txt, err := parseRecord(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out[name] = append(out[name], txt)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading TXT records: %w", err)
	}
	if pending != "" {
		return nil, fmt.Errorf("line %d: unclosed parenthesis", start)
	}
	return out, nil
}

func stripComment(s string) string {
	in := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && in:
			i++
		case c == '"':
			in = !in
		case (c == ';' || c == '#') && !in:
			return s[:i]
		}
	}
	return s
}

// parseRecord reads `name [ttl] [IN] TXT "s1" "s2"...`.
func parseRecord(line string) (string, string, error) {
	q := strings.IndexByte(line, '"')
	if q < 0 {
		return "", "", errors.New(`want: NAME IN TXT "v=DKIM1; k=rsa; p=..."`)
	}
	fields := strings.Fields(line[:q])
	if len(fields) < 2 || !strings.EqualFold(fields[len(fields)-1], "TXT") {
		return "", "", fmt.Errorf("%q: want NAME [TTL] [IN] TXT before the quoted value", strings.TrimSpace(line[:q]))
	}
	name := strings.ToLower(strings.TrimSuffix(fields[0], "."))
	var txt strings.Builder
	rest := line[q:]
	for {
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != '"' {
			return "", "", fmt.Errorf("%q: want quoted strings only after TXT", rest)
		}
		end := -1
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return "", "", errors.New("unterminated quoted string")
		}
		txt.WriteString(strings.ReplaceAll(rest[1:end], `\"`, `"`))
		rest = rest[end+1:]
	}
	return name, txt.String(), nil
}

// Options say where keys come from.
type Options struct {
	Records Records // checked first
	// DNS turns on real DNS lookups for names Records lacks; off, such a
	// signature fails with "no key for signature".
	DNS        bool
	DNSTimeout time.Duration // per lookup; 0: 5s
	Resolver   *net.Resolver // nil: net.DefaultResolver
}

// maxSignatures bounds the work one message can ask for.
const maxSignatures = 8

// New returns the store's verifier.
func New(opts Options) storage.DKIMVerifier {
	if opts.DNSTimeout <= 0 {
		opts.DNSTimeout = 5 * time.Second
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	lookup := func(name string) ([]string, error) {
		key := strings.ToLower(strings.TrimSuffix(name, "."))
		if txt, ok := opts.Records[key]; ok {
			return txt, nil
		}
		if !opts.DNS {
			return nil, fmt.Errorf("%s is not in MAILSINK_DKIM_KEYS (and DNS lookups are off)", key)
		}
		ctx, cancel := context.WithTimeout(context.Background(), opts.DNSTimeout)
		defer cancel()
		return opts.Resolver.LookupTXT(ctx, name)
	}
	return func(raw string) []storage.DKIMResult {
		if !hasSignature(raw) {
			return nil
		}
		verifs, err := dkim.VerifyWithOptions(strings.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: maxSignatures})
		if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
			// The header could not be read at all: one failed result says so.
			return []storage.DKIMResult{{Result: "fail", Reason: strings.TrimPrefix(err.Error(), "dkim: ")}}
		}
		out := make([]storage.DKIMResult, len(verifs))
		for i, v := range verifs {
			out[i] = storage.DKIMResult{Domain: v.Domain, Identifier: v.Identifier, Result: "pass"}
			if v.Err != nil {
				out[i].Result = "fail"
				if dkim.IsTempFail(v.Err) {
					out[i].Result = "temperror"
				}
				out[i].Reason = strings.TrimPrefix(v.Err.Error(), "dkim: ")
			}
		}
		return out
	}
}

// hasSignature is a cheap look at the header section before go-msgauth
// reads it.
func hasSignature(raw string) bool {
	head := raw
	if i := strings.Index(raw, "\r\n\r\n"); i >= 0 {
		head = raw[:i]
	} else if i := strings.Index(raw, "\n\n"); i >= 0 {
		head = raw[:i]
	}
	return strings.Contains(strings.ToLower(head), "dkim-signature:")
}
