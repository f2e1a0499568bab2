package api

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/compose"
	"github.com/mailsink/mailsink/server/httperr"
)

// FuzzSendRequest holds the send API to its promise that a client mistake
// is a 400, never a 500: any body the checks accept composes, and the
// message parses back with enmime, with the envelope's recipients intact.
func FuzzSendRequest(f *testing.F) {
	for _, seed := range []string{
		`{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}]}`,
		`{"From":{"Email":"Zoë <a@example.test>"},"Bcc":["x@example.test",{"Email":"y@example.test","Name":"Y"}],"Subject":"Grüße","Text":"t\r\n.","HTML":"<p>h</p>"}`,
		`{"From":{"Email":"a@example.test"},"Cc":[{"Email":"c@example.test"}],"Attachments":[{"Content":"aGk=","Filename":"r\u00e9sum\u00e9.txt","ContentType":"text/plain; charset=utf-8"},{"Content":"data:image/png;base64,iVBORw0KGgo=","ContentID":"<logo>"}]}`,
		`{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}],"Headers":{"X-A":"v\u00e9","Message-ID":"<m@x>"},"Tags":["a","b c"]}`,
		`{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}],"Attachments":[{"Content":"","ContentType":"message/rfc822"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req apitypes.SendRequest
		if decodeStrict(body, &req, sendExample) != nil {
			return
		}
		msg, env, err := composeRequest(req)
		if err != nil {
			var he *httperr.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
				t.Fatalf("a refusal that is not a 400: %v", err)
			}
			return
		}
		raw, err := compose.Build(msg, time.Unix(0, 0), "fuzz.test")
		if err != nil {
			t.Fatalf("accepted but not composed (a 500): %v\nrequest %s", err, body)
		}
		e, err := enmime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("composed but not parsed: %v\n%s", err, raw)
		}
		if len(env.To) == 0 || e.GetHeader("Bcc") != "" {
			t.Fatalf("envelope %v, Bcc header %q", env.To, e.GetHeader("Bcc"))
		}
	})
}
