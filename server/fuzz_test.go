package server

import (
	"io"
	"testing"

	"github.com/mailsink/mailsink/server/faults"
)

// FuzzConfig: no MAILSINK_* value makes the loader panic; what it accepts
// it can print back.
func FuzzConfig(f *testing.F) {
	for _, v := range []string{"25:starttls:off,587:starttls-required:required", "none", "0", "25:x", "1:none:credentials:tls-auth-only", "25M", "-1", "rcpt,reply=550"} {
		f.Add("MAILSINK_SMTP", v)
		f.Add("MAILSINK_MAX_MESSAGE_SIZE", v)
		f.Add("MAILSINK_FAULTS", v)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		cfg, err := LoadConfig(nil, func(k string) string {
			if k == name {
				return value
			}
			return ""
		}, io.Discard)
		if err != nil {
			return
		}
		if _, err := ParseListeners(listenersString(cfg.Listeners)); err != nil {
			t.Fatalf("accepted listeners do not round-trip: %v", err)
		}
	})
}

// FuzzFaultRules: the compact and JSON rule syntaxes never panic.
func FuzzFaultRules(f *testing.F) {
	for _, v := range []string{"rcpt,recipient=*@bounce.test,reply=550 5.1.1 x", `[{"Stage":"data","Drop":true}]`, "connect,delay=2s;quit,drop", "mail,sender=[", ""} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		rules, err := faults.ParseRules(v)
		if err != nil {
			return
		}
		set := faults.NewSet()
		if _, err := set.Add(rules...); err != nil && len(rules) > 0 {
			// IDs may collide when given explicitly; anything else is a bug.
			for _, r := range rules {
				if err := r.Validate(); err != nil {
					t.Fatalf("ParseRules accepted an invalid rule: %v", err)
				}
			}
		}
	})
}
