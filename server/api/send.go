package api

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"sort"
	"strings"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/compose"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

// POST /api/v1/send: Mailpit's way to put a message in the inbox without
// SMTP. The message is composed (server/compose) and stored like one that
// arrived over SMTP, so the inbox and waits see it through the store's
// events; its Delivery says it came through the API.

// sendExample is the request body the errors show.
const sendExample = `{"From":{"Email":"app@example.test"},"To":[{"Email":"user@example.test"}],"Subject":"...","Text":"..."}`

// apiListener is the Delivery.Listener of messages sent through the API.
const apiListener = "api"

// sendBodyLimit is the largest send request: room for a message of the
// SMTP size limit with its attachments in base64 and its text escaped as
// JSON. The message itself is then held to the SMTP limit. 0: none.
func (a *API) sendBodyLimit() int64 {
	if a.opts.MaxMessageSize <= 0 {
		return 0
	}
	return max(2*a.opts.MaxMessageSize+1<<20, maxBody)
}

func (a *API) send(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if empty(data) {
		return httperr.BadRequest("request body: want JSON such as " + sendExample)
	}
	var req apitypes.SendRequest
	if err := decodeStrict(data, &req, sendExample); err != nil {
		return err
	}
	msg, env, err := composeRequest(req)
	if err != nil {
		return err
	}
	if n := len(env.To); a.opts.MaxRecipients > 0 && n > a.opts.MaxRecipients {
		return httperr.BadRequest(fmt.Sprintf("To, Cc and Bcc: %d recipients, more than the %d MAILSINK_MAX_RECIPIENTS allows", n, a.opts.MaxRecipients))
	}
	host := a.opts.Hostname
	if host == "" {
		host = "localhost"
	}
	raw, err := compose.Build(msg, a.opts.Now(), host)
	if err != nil {
		return fmt.Errorf("composing a message from POST /api/v1/send: %w", err) // the request was checked: ours
	}
	if limit := a.opts.MaxMessageSize; limit > 0 && int64(len(raw)) > limit {
		return httperr.New(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the message would be %d bytes, more than the %d bytes MAILSINK_MAX_MESSAGE_SIZE allows", len(raw), limit))
	}
	m, err := a.store.Add(raw, env, delivery(r))
	if errors.Is(err, storage.ErrTooLarge) {
		return httperr.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the message (%d bytes) is larger than the whole store may hold (MAILSINK_MAX_STORE_SIZE)", len(raw)))
	}
	if err != nil {
		return fmt.Errorf("storing a message from POST /api/v1/send: %w", err)
	}
	a.log.Debug("captured through the API", "id", m.ID, "from", env.From, "to", env.To, "size", len(raw))
	httperr.JSON(w, http.StatusOK, apitypes.SendResponse{ID: m.ID})
	return nil
}

// delivery describes a send request the way smtpd describes a session:
// listener "api", the HTTP port it reached, the client, TLS, and the user
// of HTTP basic authentication if the request carried one.
func delivery(r *http.Request) storage.Delivery {
	d := storage.Delivery{Listener: apiListener, ClientAddr: r.RemoteAddr}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := la.(*net.TCPAddr); ok {
			d.Port = ta.Port
		}
	}
	if r.TLS != nil {
		d.TLS, d.TLSVersion, d.TLSCipher = true, tls.VersionName(r.TLS.Version), tls.CipherSuiteName(r.TLS.CipherSuite)
	}
	if user, _, ok := r.BasicAuth(); ok {
		d.AuthMechanism, d.AuthUser = "HTTP Basic", user
	}
	return d
}

// reservedHeaders are set by the request's own fields (or by composing),
// so Headers may not set them; Mailpit refuses the same.
var reservedHeaders = []string{"To", "From", "Cc", "Bcc", "Reply-To", "Date", "Subject", "Content-Type", "Mime-Version", "Content-Transfer-Encoding"}

// composeRequest checks a send request and turns it into the message and
// its envelope. Each mistake is a 400 naming the field.
func composeRequest(req apitypes.SendRequest) (compose.Message, storage.Envelope, error) {
	var m compose.Message
	var env storage.Envelope
	from, err := mailbox("From", req.From)
	if err != nil {
		return m, env, err
	}
	m.From, env.From = from, from.Email
	m.Subject, m.Text, m.HTML = req.Subject, req.Text, req.HTML
	lists := []struct {
		field string
		in    []apitypes.SendAddress
		out   *[]compose.Address
		rcpt  bool
	}{
		{"To", req.To, &m.To, true},
		{"Cc", req.Cc, &m.Cc, true},
		{"Bcc", bccAddresses(req.Bcc), nil, true}, // the envelope only
		{"ReplyTo", req.ReplyTo, &m.ReplyTo, false},
	}
	for _, l := range lists {
		for i, in := range l.in {
			a, err := mailbox(fmt.Sprintf("%s[%d]", l.field, i), in)
			if err != nil {
				return m, env, err
			}
			if l.out != nil {
				*l.out = append(*l.out, a)
			}
			if l.rcpt {
				env.To = append(env.To, a.Email)
			}
		}
	}
	if len(env.To) == 0 {
		return m, env, httperr.BadRequest("To, Cc and Bcc: at least one recipient is required")
	}

	for i, in := range req.Attachments {
		field := fmt.Sprintf("Attachments[%d]", i)
		content := in.Content
		if _, b64, ok := strings.Cut(content, ";base64,"); ok && strings.HasPrefix(content, "data:") {
			content = b64 // a data: URL, as a browser's FileReader makes them
		}
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return m, env, httperr.BadRequest(fmt.Sprintf("%s.Content: not base64: %v", field, err))
		}
		cid := strings.TrimSuffix(strings.TrimPrefix(in.ContentID, "<"), ">")
		if strings.ContainsFunc(cid, func(r rune) bool { return r <= ' ' || r == '<' || r == '>' || r == 0x7f }) {
			return m, env, httperr.BadRequest(fmt.Sprintf("%s.ContentID %q: no spaces, control characters or angle brackets inside", field, in.ContentID))
		}
		if strings.ContainsAny(in.Filename, "\r\n") {
			return m, env, httperr.BadRequest(fmt.Sprintf("%s.Filename: a line break in a file name", field))
		}
		att := compose.Attachment{Filename: in.Filename, ContentType: in.ContentType, ContentID: cid, Content: b}
		if _, err := compose.ContentType(att); err != nil {
			return m, env, httperr.BadRequest(fmt.Sprintf("%s.ContentType: %v", field, err))
		}
		m.Attachments = append(m.Attachments, att)
	}

	keys := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a map has no order; the message gets a stable one
	for _, k := range keys {
		v := req.Headers[k]
		field := fmt.Sprintf("Headers[%q]", k)
		switch {
		case !compose.ValidKey(k):
			return m, env, httperr.BadRequest(field + ": not a header field name (printable ASCII without a colon)")
		case slices.ContainsFunc(reservedHeaders, func(r string) bool { return strings.EqualFold(r, k) }):
			return m, env, httperr.BadRequest(field + ": set by the request's own fields, not through Headers")
		case strings.EqualFold(k, "X-Tags") && len(req.Tags) > 0:
			return m, env, httperr.BadRequest(field + ": give tags in Tags or in an X-Tags header, not both")
		case strings.ContainsAny(v, "\r\n"):
			return m, env, httperr.BadRequest(field + ": a value cannot hold a line break")
		}
		m.Header = append(m.Header, compose.Field{Key: k, Value: v})
	}
	var tags []string
	for i, tag := range req.Tags {
		tag = strings.TrimSpace(tag)
		if tag == "" || strings.ContainsFunc(tag, func(r rune) bool { return r == ',' || r < ' ' || r == 0x7f }) {
			return m, env, httperr.BadRequest(fmt.Sprintf("Tags[%d] %q: a tag is some text without commas or control characters", i, req.Tags[i]))
		}
		tags = append(tags, tag)
	}
	if len(tags) > 0 {
		m.Header = append(m.Header, compose.Field{Key: "X-Tags", Value: strings.Join(tags, ", ")})
	}
	return m, env, nil
}

func bccAddresses(list []apitypes.SendBcc) []apitypes.SendAddress {
	out := make([]apitypes.SendAddress, len(list))
	for i, b := range list {
		out[i] = apitypes.SendAddress(b)
	}
	return out
}

// mailbox checks one address of a send request. Email may be a bare
// address or "Name <address>" (whose name is used when Name is empty).
func mailbox(field string, a apitypes.SendAddress) (compose.Address, error) {
	email := strings.TrimSpace(a.Email)
	if email == "" {
		return compose.Address{}, httperr.BadRequest(field + ".Email: required")
	}
	p, err := mail.ParseAddress(email)
	if err != nil {
		return compose.Address{}, httperr.BadRequest(fmt.Sprintf("%s.Email %q: not an email address (%v)", field, a.Email, strings.TrimPrefix(err.Error(), "mail: ")))
	}
	name := a.Name
	if name == "" {
		name = p.Name
	}
	return compose.Address{Name: name, Email: p.Address}, nil
}
