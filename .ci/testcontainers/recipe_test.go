// Package signup_test runs the README's testcontainers-go recipe against a
// local Docker engine: .ci/docker-check.sh copies the recipe's code block
// beside this file (as readme_recipe_test.go) and runs `go test` here with
// TESTCONTAINERS_RYUK_DISABLED=true. A module of its own: testcontainers-go
// v0.45.0 needs go 1.26, and mailsink's go.mod stays at 1.25.0.
package signup_test

import (
	"encoding/json"
	"net/http"
	"net/smtp"
	"net/url"
	"testing"
)

// TestRecipe uses startMailsink as the README shows it: a mail sent with
// net/smtp.SendMail to the address it returns, host and port alone, is in
// the API at the URL it returns; the pool it returns holds the certificate.
func TestRecipe(t *testing.T) {
	smtpAddr, api, roots := startMailsink(t)
	if roots == nil {
		t.Fatal("no certificate pool")
	}
	msg := "From: app@example.test\r\nTo: tc@example.test\r\nSubject: testcontainers recipe\r\n\r\nhello\r\n"
	if err := smtp.SendMail(smtpAddr, nil, "app@example.test", []string{"tc@example.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(api + "/api/v1/wait?timeout=10s&query=" + url.QueryEscape("to:tc@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Messages []struct {
			Subject  string
			Delivery struct{ Port int }
		} `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK || len(got.Messages) != 1 {
		t.Fatalf("wait: %s, %v, %+v", resp.Status, err, got)
	}
	if m := got.Messages[0]; m.Subject != "testcontainers recipe" || m.Delivery.Port != 1025 {
		t.Errorf("captured %+v, want the message on the container's port 1025", m)
	}
}
