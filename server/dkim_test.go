package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/sinktest"
)

// signed signs msg as an application's DKIM signer would.
func signed(t *testing.T, msg, domain, selector string, key crypto.Signer, expires time.Time) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key, Expiration: expires,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func dkimMessage(subject, body string) string {
	return "From: App <app@shop.example.test>\r\nTo: user@example.test\r\nSubject: " + subject +
		"\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@shop.example.test>\r\n\r\n" + body + "\r\n"
}

func messageDKIM(t *testing.T, s *sinktest.Sink, id string) []apitypes.DKIMResult {
	t.Helper()
	resp, err := http.Get(s.URL + "/api/v1/message/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m apitypes.Message
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.DKIM == nil {
		t.Fatalf("message %s: %v (DKIM %v)", id, err, m.DKIM)
	}
	return m.DKIM
}

// DKIM signatures made by go-msgauth's signer, checked against a file of
// TXT records: RSA and Ed25519 pass; a changed body, a changed signed
// header, an expired signature and a key not in the file fail and say why;
// an unsigned message has none. dkim: searches find each kind.
func TestDKIMVerification(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "dkim.zone")
	zone := fmt.Sprintf("; the application's keys\nmail._domainkey.shop.example.test. 300 IN TXT \"v=DKIM1; k=rsa; \" \"p=%s\"\ned._domainkey.shop.example.test. IN TXT ( \"v=DKIM1; k=ed25519; p=%s\" )\n",
		base64.StdEncoding.EncodeToString(rsaPub), base64.StdEncoding.EncodeToString(edPub))
	if err := os.WriteFile(keys, []byte(zone), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.DKIMKeys = keys }))

	tamper := func(msg, from, to string) string { return strings.Replace(msg, from, to, 1) }
	cases := []struct {
		name, raw, result, reason string
	}{
		{"rsa", signed(t, dkimMessage("rsa ok", "Your receipt."), "shop.example.test", "mail", rsaKey, time.Time{}), "pass", ""},
		{"ed25519", signed(t, dkimMessage("ed ok", "Your receipt."), "shop.example.test", "ed", edKey, time.Time{}), "pass", ""},
		{"body changed", tamper(signed(t, dkimMessage("body changed", "Total: 10 EUR"), "shop.example.test", "mail", rsaKey, time.Time{}), "Total: 10 EUR", "Total: 99 EUR"), "fail", "body hash did not verify"},
		{"header changed", tamper(signed(t, dkimMessage("header changed", "Hi."), "shop.example.test", "ed", edKey, time.Time{}), "Subject: header changed", "Subject: header CHANGED"), "fail", "signature did not verify"},
		{"expired", signed(t, dkimMessage("expired", "Hi."), "shop.example.test", "mail", rsaKey, time.Now().Add(-time.Hour)), "fail", "expired"},
		{"unknown key", signed(t, dkimMessage("unknown key", "Hi."), "shop.example.test", "rotated", rsaKey, time.Time{}), "fail", "rotated._domainkey.shop.example.test is not in MAILSINK_DKIM_KEYS"},
		{"unsigned", dkimMessage("unsigned", "Hi."), "", ""},
	}
	ids := map[string]string{}
	for _, tc := range cases {
		c := dial(t, s.Addr(1025), nil, false)
		if err := send(c, "app@shop.example.test", []string{"user@example.test"}, tc.raw); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m, err := s.Store.Latest(nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[tc.name] = m.ID
	}
	for _, tc := range cases {
		got := messageDKIM(t, s, ids[tc.name])
		if tc.result == "" {
			if len(got) != 0 {
				t.Errorf("%s: %+v, want no signature", tc.name, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Result != tc.result || !strings.Contains(got[0].Reason, tc.reason) || got[0].Domain != "shop.example.test" || (tc.reason == "") != (got[0].Reason == "") {
			t.Errorf("%s: %+v, want %s with %q", tc.name, got, tc.result, tc.reason)
		}
	}
	for q, want := range map[string]int{"dkim:pass": 2, "dkim:fail": 4, "dkim:none": 1, "-dkim:none subject:changed": 2} {
		res, err := s.Client.Search(context.Background(), q, 0, 0)
		if err != nil || res.MessagesCount != want {
			t.Errorf("search %q: %+v, %v: want %d", q, res, err, want)
		}
	}
	resp, err := http.Get(s.URL + "/api/v1/search?query=" + url.QueryEscape("dkim:maybe"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "dkim:maybe") {
		t.Errorf("dkim:maybe: %d %s", resp.StatusCode, body)
	}
}

// A bad keys file stops mailsink at start, naming the line.
func TestDKIMKeysFileErrors(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.zone")
	os.WriteFile(bad, []byte("ok._domainkey.x.test. IN TXT \"v=DKIM1; p=\"\nbroken line\n"), 0o600)
	for file, want := range map[string]string{bad: "line 2", filepath.Join(t.TempDir(), "missing"): "no such file"} {
		cfg := server.DefaultConfig()
		cfg.Bind, cfg.HTTPPort, cfg.Listeners, cfg.ListenersChosen, cfg.DKIMKeys = "127.0.0.1", 0, nil, true, file
		srv := server.New(cfg, nil, nil)
		err := srv.Start(context.Background())
		if err == nil {
			srv.Shutdown(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "MAILSINK_DKIM_KEYS") {
			t.Errorf("%s: %v, want an error with %q", file, err, want)
		}
	}
}
