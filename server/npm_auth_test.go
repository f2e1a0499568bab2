package server_test

import (
	"testing"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// TestNPMClientWithAuth runs the unmodified mailpit-api client with its
// auth option against a sink behind HTTP basic authentication, the
// password a bcrypt hash made by htpasswd.
func TestNPMClientWithAuth(t *testing.T) {
	t.Parallel()
	node := nodeOrSkip(t)
	file := bcryptFile(t, "ci", "n0de-s3cret")
	s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.UIAuthFile = file }))
	sendNPMFixtures(t, s)
	runNode(t, node, s.URL, "mailpit_auth.test.mjs", "MAILSINK_AUTH_USER=ci", "MAILSINK_AUTH_PASSWORD=n0de-s3cret")
	if n := s.Store.Stats().Total; n != 0 {
		t.Errorf("%d messages left: the script's deletes did not go through", n)
	}
}
