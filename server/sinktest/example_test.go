package sinktest_test

import (
	"context"
	"fmt"
	"net/smtp"
	"time"

	"github.com/mailsink/mailsink/server/sinktest"
)

// A test sends mail through the code under test and asserts on it without
// sleeping: Wait returns as soon as the message is there.
func Example() {
	s, err := sinktest.New() // in a test: s := sinktest.Start(t)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// The application under test would do this, pointed at s.Addr(587).
	send := func() error {
		c, err := smtp.Dial(s.Addr(587))
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.StartTLS(s.TLSConfig()); err != nil { // 587 requires it
			return err
		}
		if err := c.Auth(smtp.PlainAuth("", "app", "secret", s.Host())); err != nil {
			return err
		}
		if err := c.Mail("app@example.test"); err != nil {
			return err
		}
		if err := c.Rcpt("user+t1@example.test"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		fmt.Fprint(w, "From: app@example.test\r\nTo: user+t1@example.test\r\nSubject: Welcome\r\n\r\nHello!\r\n")
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	if err := send(); err != nil {
		panic(err)
	}

	got, err := s.Client.Wait(context.Background(), "to:user+t1@example.test", 1, 5*time.Second)
	if err != nil {
		panic(err)
	}
	m := got.Messages[0]
	fmt.Println(m.Subject, m.Envelope.To, m.Delivery.AuthUser, m.Delivery.TLS)
	// Output: Welcome [user+t1@example.test] app true
}

// A password-reset flow: the test waits for the mail and takes the link to
// click and the code to type from it, one call each.
func ExampleSink_WaitLink() {
	s, err := sinktest.New() // in a test: s := sinktest.Start(t), then s.WaitLink(t, ...)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// The application under test, with host and port alone.
	go smtp.SendMail(s.Addr(1025), nil, "app@example.test", []string{"user+t2@example.test"}, []byte(
		"From: app@example.test\r\nTo: user+t2@example.test\r\nSubject: Reset your password\r\n"+
			"Content-Type: text/html\r\n\r\n<p>Your code: <b>731904</b></p>"+
			`<p><a href="https://app.test/reset?token=tok_5e1f">Choose a new password</a></p>`+"\r\n"))

	ctx := context.Background()
	link, err := s.Client.WaitLink(ctx, "to:user+t2@example.test", `/reset\?token=`, 5*time.Second)
	if err != nil {
		panic(err)
	}
	code, err := s.Client.WaitCode(ctx, "to:user+t2@example.test", "", 5*time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(link, code)
	// Output: https://app.test/reset?token=tok_5e1f 731904
}
