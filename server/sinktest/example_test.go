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
