package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sinktest"
)

const resetMail = "From: App <noreply@app.test>\r\nTo: user@example.test\r\nSubject: Your sign-in code is 482913\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain\r\n\r\nReset your password: https://app.test/reset?token=tok_9f8e7d6c5b4a\r\nHelp: https://app.test/help.\r\n" +
	"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"<p><a href=3D\"https://app.test/reset?token=3Dtok_9f8e7d6c5b4a\">Reset <b>password</b></a>" +
	" <a href=3D\"https://app.test/unsubscribe\">Unsubscribe</a></p>\r\n--b--\r\n"

// "Click the link in the email": the test waits for the mail and gets the
// link or the code in one call, started before the application sends.
func TestWaitLinkAndCode(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	var wg sync.WaitGroup
	var link, code, token string
	wg.Add(1)
	go func() {
		defer wg.Done()
		link = s.WaitLink(t, "to:user@example.test", `/reset\?token=`, 10*time.Second)
		code = s.WaitCode(t, "to:user@example.test", "", 10*time.Second)
		token = s.WaitCode(t, "to:user@example.test", `token=(tok_[a-z0-9]+)`, 10*time.Second)
	}()
	c := dial(t, s.Addr(1025), nil, false)
	if err := send(c, "noreply@app.test", []string{"user@example.test"}, resetMail); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if link != "https://app.test/reset?token=tok_9f8e7d6c5b4a" || code != "482913" || token != "tok_9f8e7d6c5b4a" {
		t.Errorf("link %q, code %q, token %q", link, code, token)
	}

	ls, err := s.Client.Links(context.Background(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.URL+" | "+l.Text+" | "+strings.Join(l.Parts, ","))
	}
	want := []string{
		"https://app.test/reset?token=tok_9f8e7d6c5b4a | Reset password | html,text",
		"https://app.test/unsubscribe | Unsubscribe | html",
		"https://app.test/help |  | text",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("links:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Nothing to find is an error the test can read; a bad pattern is a 400
	// naming it; latest?query= works as for messages.
	if _, err := s.Client.WaitLink(context.Background(), "to:user@example.test", `/verify`, time.Second); err == nil || !strings.Contains(err.Error(), "no link matching") {
		t.Errorf("WaitLink without a match: %v", err)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/api/v1/message/latest/codes?pattern=" + url.QueryEscape("(unclosed"), 400, "parameter pattern"},
		{"/api/v1/message/latest/codes?pattern=" + strings.Repeat("a", 1001), 400, "pattern is 1001 bytes long"},
		{"/api/v1/message/latest/links?query=" + url.QueryEscape("to:nobody"), 404, "to:nobody"},
		{"/api/v1/message/latest/links?query=" + url.QueryEscape("subject:sign-in"), 200, "Reset password"},
	} {
		resp, err := http.Get(s.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %.60s: %d %s, want %d with %q", tc.path, resp.StatusCode, b, tc.status, tc.want)
		}
	}
	var ce *client.Error
	if _, err := s.Client.WaitCode(context.Background(), "to:nobody@example.test", "", 50*time.Millisecond); err == nil || !errors.As(err, &ce) || ce.StatusCode != 408 {
		t.Errorf("WaitCode for mail that never comes: %v, want the wait's 408", err)
	}
}
