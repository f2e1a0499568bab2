// Package client is a typed Go client of mailsink's HTTP API, for tests
// that assert on captured mail, in-process (see sinktest) or against a
// container.
//
// It imports the standard library, the API's wire types (apitypes) and the
// pure faults package only, so a program using it does not compile the
// server, its store or enmime; TestClientDependencies holds it to that.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/faults"
)

// The answers' types, from apitypes.
type (
	MessagesSummary = apitypes.MessagesSummary
	Summary         = apitypes.Summary
	Message         = apitypes.Message
	Info            = apitypes.Info
	Sessions        = apitypes.Sessions
	Transcript      = apitypes.Transcript
)

// Client talks to one mailsink. The zero value is not usable; call New.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client for the API at baseURL, e.g. "http://127.0.0.1:8025".
func New(baseURL string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: &http.Client{}}
}

// WithHTTPClient returns a copy of c using hc for requests.
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	cp := *c
	cp.hc = hc
	return &cp
}

// Error is an answer other than success, with what the server said.
type Error struct {
	Method, URL string
	StatusCode  int
	Message     string // the server's JSON "Error" field, or its body
}

func (e *Error) Error() string {
	return fmt.Sprintf("mailsink %s %s: %d %s: %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// do sends a request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailsink %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("mailsink %s %s: reading answer: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Method: method, URL: u, StatusCode: resp.StatusCode, Message: strings.TrimSpace(string(data))}
		var eb apitypes.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			e.Message = eb.Error
		}
		return data, e
	}
	return data, nil
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	data, err := c.do(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("mailsink GET %s: decoding answer: %w", path, err)
	}
	return nil
}

func page(start, limit int) url.Values {
	return url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}}
}

// List returns messages newest first; limit 0 means all.
func (c *Client) List(ctx context.Context, start, limit int) (*MessagesSummary, error) {
	var out MessagesSummary
	return &out, c.getJSON(ctx, "/api/v1/messages", page(start, limit), &out)
}

// Search returns messages matching query (Mailpit syntax), newest first.
func (c *Client) Search(ctx context.Context, query string, start, limit int) (*MessagesSummary, error) {
	q := page(start, limit)
	q.Set("query", query)
	var out MessagesSummary
	return &out, c.getJSON(ctx, "/api/v1/search", q, &out)
}

// Message returns one message parsed; id may be "latest". Reading marks it read.
func (c *Client) Message(ctx context.Context, id string) (*Message, error) {
	var out Message
	return &out, c.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id), nil, &out)
}

// Raw returns the message exactly as received.
func (c *Client) Raw(ctx context.Context, id string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/api/v1/message/"+url.PathEscape(id)+"/raw", nil, nil)
}

// Headers returns the message's headers, undecoded.
func (c *Client) Headers(ctx context.Context, id string) (map[string][]string, error) {
	var out map[string][]string
	return out, c.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/headers", nil, &out)
}

// Part returns an attachment or inline part's decoded content.
func (c *Client) Part(ctx context.Context, id, partID string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/api/v1/message/"+url.PathEscape(id)+"/part/"+url.PathEscape(partID), nil, nil)
}

// Delete removes the given messages; with no IDs it removes nothing (use DeleteAll).
func (c *Client) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/messages", nil, map[string][]string{"IDs": ids})
	return err
}

// DeleteAll removes every message.
func (c *Client) DeleteAll(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/messages", nil, nil)
	return err
}

// DeleteSearch removes the messages matching query, and only those: the
// way parallel tests clean up after themselves.
func (c *Client) DeleteSearch(ctx context.Context, query string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/search", url.Values{"query": {query}}, nil)
	return err
}

// SetRead marks the given messages read or unread.
func (c *Client) SetRead(ctx context.Context, read bool, ids ...string) error {
	_, err := c.do(ctx, http.MethodPut, "/api/v1/messages", nil, map[string]any{"IDs": ids, "Read": read})
	return err
}

// Info returns the server's counters.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var out Info
	return &out, c.getJSON(ctx, "/api/v1/info", nil, &out)
}

// Certificate returns the PEM certificate the TLS listeners present.
func (c *Client) Certificate(ctx context.Context) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/api/v1/tls/certificate", nil, nil)
}

// Wait blocks until at least count messages match query (already stored
// ones count) and returns the matching messages, newest first. When timeout
// passes first it returns an *Error with StatusCode 408 whose Message says
// how many matched. The server does the waiting: no polling, no sleeps.
func (c *Client) Wait(ctx context.Context, query string, count int, timeout time.Duration) (*MessagesSummary, error) {
	q := url.Values{"query": {query}, "count": {strconv.Itoa(count)}, "timeout": {timeout.String()}}
	var out MessagesSummary
	return &out, c.getJSON(ctx, "/api/v1/wait", q, &out)
}

// Link and Code are what Links and Codes find in a message.
type (
	Link = apitypes.Link
	Code = apitypes.Code
)

// Links returns the message's distinct links, with anchor text and the
// parts they appear in; id may be "latest".
func (c *Client) Links(ctx context.Context, id string) ([]Link, error) {
	var out apitypes.Links
	return out.Links, c.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/links", nil, &out)
}

// Codes returns what pattern (a Go regular expression; "" finds a 4 to 8
// digit code) matches in the message's subject, text and HTML text: the
// first capture group of each match, or the match.
func (c *Client) Codes(ctx context.Context, id, pattern string) ([]Code, error) {
	var out apitypes.Codes
	return out.Codes, c.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/codes", url.Values{"pattern": {pattern}}, &out)
}

// WaitLink waits for a message matching query and returns its first link
// whose URL matches pattern (a Go regular expression; "" takes the first
// link), e.g. WaitLink(ctx, "to:user@example.test", `/reset\?token=`, 10*time.Second).
func (c *Client) WaitLink(ctx context.Context, query, pattern string, timeout time.Duration) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", fmt.Errorf("WaitLink pattern: %w", err)
	}
	id, err := c.waitOne(ctx, query, timeout)
	if err != nil {
		return "", err
	}
	found, err := c.Links(ctx, id)
	if err != nil {
		return "", err
	}
	for _, l := range found {
		if re.MatchString(l.URL) {
			return l.URL, nil
		}
	}
	return "", fmt.Errorf("mailsink: message %s matching %q has no link matching %q (%d links)", id, query, pattern, len(found))
}

// WaitCode waits for a message matching query and returns the first code
// pattern finds in it (see Codes), e.g. WaitCode(ctx, "to:u@x.test", "", time.Minute).
func (c *Client) WaitCode(ctx context.Context, query, pattern string, timeout time.Duration) (string, error) {
	id, err := c.waitOne(ctx, query, timeout)
	if err != nil {
		return "", err
	}
	found, err := c.Codes(ctx, id, pattern)
	if err != nil {
		return "", err
	}
	if len(found) == 0 {
		return "", fmt.Errorf("mailsink: message %s matching %q has nothing matching %q", id, query, pattern)
	}
	return found[0].Code, nil
}

// waitOne waits for a message matching query and returns the newest's ID.
func (c *Client) waitOne(ctx context.Context, query string, timeout time.Duration) (string, error) {
	res, err := c.Wait(ctx, query, 1, timeout)
	if err != nil {
		return "", err
	}
	if len(res.Messages) == 0 {
		return "", fmt.Errorf("mailsink: the wait for %q answered no message", query)
	}
	return res.Messages[0].ID, nil
}

// Rule is a fault rule; see package faults.
type Rule = faults.Rule

// Faults returns the active fault rules.
func (c *Client) Faults(ctx context.Context) ([]Rule, error) {
	var out apitypes.FaultRules
	return out.Rules, c.getJSON(ctx, "/api/v1/faults", nil, &out)
}

// AddFaults adds fault rules and returns them with their IDs.
func (c *Client) AddFaults(ctx context.Context, rules ...Rule) ([]Rule, error) {
	data, err := c.do(ctx, http.MethodPost, "/api/v1/faults", nil, rules)
	if err != nil {
		return nil, err
	}
	var out apitypes.FaultRules
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("mailsink POST /api/v1/faults: decoding answer: %w", err)
	}
	return out.Rules, nil
}

// RemoveFault removes one rule by ID.
func (c *Client) RemoveFault(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/faults/"+url.PathEscape(id), nil, nil)
	return err
}

// Fault returns one rule with its hits and, for a stateful rule, its state.
func (c *Client) Fault(ctx context.Context, id string) (*Rule, error) {
	var out Rule
	return &out, c.getJSON(ctx, "/api/v1/faults/"+url.PathEscape(id), nil, &out)
}

// ResetFault makes a rule forget its hits and state, as if just added.
func (c *Client) ResetFault(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodPost, "/api/v1/faults/"+url.PathEscape(id)+"/reset", nil, nil)
	return err
}

// ClearFaults removes every fault rule, chaos triggers included.
func (c *Client) ClearFaults(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/faults", nil, nil)
	return err
}

// Listener is one SMTP port and whether it is paused.
type Listener = apitypes.Listener

// Listeners returns the SMTP ports and their state.
func (c *Client) Listeners(ctx context.Context) ([]Listener, error) {
	var out apitypes.Listeners
	return out.Listeners, c.getJSON(ctx, "/api/v1/listeners", nil, &out)
}

// PauseListener simulates an outage of the listener on port: mode
// "refuse" (the port is closed), "421" (connections get 421 and close) or
// "hang" (connections get no greeting until resumed); "" is refuse.
func (c *Client) PauseListener(ctx context.Context, port int, mode string) error {
	_, err := c.do(ctx, http.MethodPost, "/api/v1/listeners/"+strconv.Itoa(port)+"/pause", nil, apitypes.Pause{Mode: mode})
	return err
}

// ResumeListener ends the outage of the listener on port.
func (c *Client) ResumeListener(ctx context.Context, port int) error {
	_, err := c.do(ctx, http.MethodPost, "/api/v1/listeners/"+strconv.Itoa(port)+"/resume", nil, nil)
	return err
}

// SessionFilter narrows Sessions; zero fields match everything.
type SessionFilter struct {
	Port    int    // listener port
	Client  string // client address prefix, e.g. "127.0.0.1"
	Message string // sessions that delivered this message ID
	Faulted bool   // only sessions in which a fault rule fired
	Errors  bool   // only error sessions (ErrorCount > 0: an error reply, a failed TLS handshake)
	Limit   int    // at most this many (default 100)
	NoLines bool   // summaries: no Lines, only LineCount and the verdict
}

// Sessions returns SMTP session transcripts, newest first.
func (c *Client) Sessions(ctx context.Context, f SessionFilter) (*Sessions, error) {
	q := url.Values{}
	if f.Port != 0 {
		q.Set("port", strconv.Itoa(f.Port))
	}
	if f.Client != "" {
		q.Set("client", f.Client)
	}
	if f.Message != "" {
		q.Set("message", f.Message)
	}
	if f.Errors {
		q.Set("errors", "1")
	}
	if f.Faulted {
		q.Set("faulted", "1")
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.NoLines {
		q.Set("lines", "0")
	}
	var out Sessions
	return &out, c.getJSON(ctx, "/api/v1/sessions", q, &out)
}

// Session returns one transcript.
func (c *Client) Session(ctx context.Context, id string) (*Transcript, error) {
	var out Transcript
	return &out, c.getJSON(ctx, "/api/v1/session/"+url.PathEscape(id), nil, &out)
}
