package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/storage"
)

// fill sets every field reachable from v to a value that is not zero, so
// that a field a converter forgets, or one the wire type lacks, shows.
func fill(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < v.Len(); i++ {
			fill(t, v.Index(i), n)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2024, 3, 14, 8, 0, *n, 0, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	default:
		t.Fatalf("fill: no rule for %s", v.Type())
	}
}

func sameJSON(t *testing.T, what string, storageForm, wireForm any) {
	t.Helper()
	a, err := json.Marshal(storageForm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(wireForm)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("%s: the wire form differs from storage's; update apitypes and wire.go\nstorage: %s\nwire:    %s", what, a, b)
	}
}

// The API's copies of storage's types encode exactly as storage's do, with
// every field carried over.
func TestWireTypesMirrorStorage(t *testing.T) {
	n := 0
	var s storage.Summary
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	sameJSON(t, "Summary", s, summaryOf(s))

	var tr storage.Transcript
	fill(t, reflect.ValueOf(&tr).Elem(), &n)
	// The wire form adds the Verdict, computed from the lines (none are
	// errors here); the rest is storage's.
	wt := TranscriptOf(&tr, true)
	if wt.ErrorCount != 0 || wt.LastError != "" || wt.Reason != "" {
		t.Errorf("verdict of lines without an error: %d %q %q", wt.ErrorCount, wt.LastError, wt.Reason)
	}
	sameJSON(t, "Transcript", &tr, withoutVerdict(t, wt))

	// Empty lists stay [] and absent ones null.
	empty := storage.Summary{To: []storage.Address{}, Tags: []string{}}
	sameJSON(t, "empty Summary", empty, summaryOf(empty))
	sameJSON(t, "empty Transcript", &storage.Transcript{Lines: []storage.TranscriptLine{}}, withoutVerdict(t, TranscriptOf(&storage.Transcript{Lines: []storage.TranscriptLine{}}, true)))
}

// withoutVerdict is the wire transcript's JSON less the fields storage
// does not have (LineCount, the Verdict), in storage's field order.
func withoutVerdict(t *testing.T, wt any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(wt)
	if err != nil {
		t.Fatal(err)
	}
	// LineCount and the Verdict come last: cut from the first of them.
	i := bytes.Index(b, []byte(`,"LineCount":`))
	if i < 0 || !bytes.Contains(b[i:], []byte(`,"ErrorCount":`)) || !bytes.Contains(b[i:], []byte(`,"Explained":`)) {
		t.Fatalf("wire transcript lacks the verdict at its end: %s", b)
	}
	b = append(b[:i:i], '}')
	return b
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name         string
		lines        [][2]string
		count        int
		last, reason string
	}{
		{"clean", [][2]string{{"C", "EHLO x"}, {"S", "250 ok"}}, 0, "", ""},
		{"530", [][2]string{{"S", "250-x"}, {"C", "MAIL FROM:<a@b>"}, {"S", "530 5.7.0 Must issue a STARTTLS command first"}}, 1, "530 5.7.0 Must issue a STARTTLS command first", "530 5.7.0 Must issue a STARTTLS command first"},
		{"multi-line reply once", [][2]string{{"S", "554-one"}, {"S", "554 two"}}, 1, "554 two", "554 two"},
		{"untrusted certificate, no reply", [][2]string{{"C", "STARTTLS"}, {"S", "220 2.0.0 Ready to start TLS"}, {"*", "TLS handshake failed: remote error: tls: bad certificate"}}, 1,
			"TLS handshake failed: remote error: tls: bad certificate", "TLS handshake failed: remote error: tls: bad certificate"},
		{"TLS on a plaintext port", [][2]string{{"*", "the client started a TLS handshake instead of SMTP: it probably meant 465"}, {"S", "500 5.5.2 bad"}}, 2,
			"500 5.5.2 bad", "the client started a TLS handshake instead of SMTP: it probably meant 465"},
		{"failed login", [][2]string{{"*", `authentication failed for user "bob" (PLAIN)`}, {"S", "535 5.7.8 no"}}, 1, "535 5.7.8 no", `authentication failed for user "bob" (PLAIN)`},
	}
	for _, tt := range tests {
		var v apitypes.Verdict
		for _, l := range tt.lines {
			v.Add(l[0], l[1])
		}
		if v.ErrorCount != tt.count || v.LastError != tt.last || v.Reason != tt.reason {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.name, v.ErrorCount, v.LastError, v.Reason, tt.count, tt.last, tt.reason)
		}
	}
}
