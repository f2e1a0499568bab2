package apitypes

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SendRequest is the body of POST /api/v1/send, in Mailpit's shape.
type SendRequest struct {
	From        SendAddress
	To          []SendAddress
	Cc          []SendAddress
	Bcc         []SendBcc // Mailpit's are addresses alone; {Email, Name} is taken too
	ReplyTo     []SendAddress
	Subject     string
	Text        string
	HTML        string
	Attachments []SendAttachment
	Headers     map[string]string // further header fields; not those the fields above set
	Tags        []string          // written as an X-Tags header
}

// SendAddress is a mailbox in a send request.
type SendAddress struct {
	Email string
	Name  string
}

// SendBcc is a Bcc recipient: Mailpit sends the address as a string; an
// object with Email (and Name, which no header shows) is taken as well.
type SendBcc SendAddress

// UnmarshalJSON takes "addr@example.test" or {"Email": "addr@example.test"}.
func (b *SendBcc) UnmarshalJSON(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '"' {
		return json.Unmarshal(t, &b.Email)
	}
	// The request's decoder refuses unknown fields; a custom decoder is not
	// told, so it refuses them itself.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a SendAddress
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("Bcc: want an address or {\"Email\": ...}: %w", err)
	}
	*b = SendBcc(a)
	return nil
}

// MarshalJSON writes Mailpit's form, the address alone, when there is no name.
func (b SendBcc) MarshalJSON() ([]byte, error) {
	if b.Name == "" {
		return json.Marshal(b.Email)
	}
	return json.Marshal(SendAddress(b))
}

// SendAttachment is a file in a send request: Content is base64 (a data:
// URL's "data:...;base64," prefix is allowed); with a ContentID it is an
// inline part that the HTML can show as cid:ContentID.
type SendAttachment struct {
	Content     string
	Filename    string
	ContentType string // "": detected from the content
	ContentID   string
}

// SendResponse answers a send: the stored message's ID.
type SendResponse struct {
	ID string
}
