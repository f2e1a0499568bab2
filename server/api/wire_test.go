package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

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
	sameJSON(t, "Transcript", &tr, transcriptOf(&tr))

	// Empty lists stay [] and absent ones null.
	empty := storage.Summary{To: []storage.Address{}, Tags: []string{}}
	sameJSON(t, "empty Summary", empty, summaryOf(empty))
	sameJSON(t, "empty Transcript", &storage.Transcript{Lines: []storage.TranscriptLine{}}, transcriptOf(&storage.Transcript{Lines: []storage.TranscriptLine{}}))
}
