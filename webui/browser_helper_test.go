package webui_test

import (
	"fmt"
	"testing"

	"github.com/mailsink/mailsink/server/sinktest"
	"github.com/mailsink/mailsink/storage"
)

// sink is a running mailsink as the browser test needs it.
type sink struct {
	URL   string                // base URL: the inbox at /, the API at /api/v1/
	Store *storage.Store        // where test messages are added
	Addr  func(port int) string // SMTP address of the listener playing port 25, 587, 465 or 2525
}

// startSink runs the real product (SMTP listeners, API and inbox) in
// process; the browser test talks to it like a user's browser would.
func startSink(t *testing.T) *sink {
	t.Helper()
	s := sinktest.Start(t)
	return &sink{URL: s.URL, Store: s.Store, Addr: s.Addr}
}

// storageTranscript is a transcript's starting facts for a session on port.
func storageTranscript(port int) storage.Transcript {
	return storage.Transcript{Listener: fmt.Sprintf("smtp-%d", port), Port: port, ClientAddr: "127.0.0.1:53999"}
}
