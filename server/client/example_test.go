package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/faults"
	"github.com/mailsink/mailsink/server/sinktest"
)

// Against a container, only the URL differs: client.New("http://localhost:8025").
func Example() {
	s, err := sinktest.New()
	if err != nil {
		panic(err)
	}
	defer s.Close()
	c := client.New(s.URL)
	ctx := context.Background()

	// Arrange a failure for one recipient domain, then clear it.
	rules, err := c.AddFaults(ctx, faults.Rule{Stage: faults.Rcpt, Recipient: "*@bounce.test", Reply: "550 5.1.1 User unknown"})
	if err != nil {
		panic(err)
	}
	fmt.Println(rules[0].Stage, rules[0].Reply)
	defer c.ClearFaults(ctx)

	// Nothing was sent: Wait times out with 408 and says how many matched.
	_, err = c.Wait(ctx, "to:user@example.test", 1, 50*time.Millisecond)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusRequestTimeout {
		fmt.Println(apiErr.Message)
	}
	// Output:
	// rcpt 550 5.1.1 User unknown
	// timed out after 50ms: 0 of 1 messages matched
}
