package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/mailsink/mailsink/server/api/apitypes"
)

// The send request's types, from apitypes.
type (
	SendRequest    = apitypes.SendRequest
	SendAddress    = apitypes.SendAddress
	SendBcc        = apitypes.SendBcc
	SendAttachment = apitypes.SendAttachment
)

// Send puts a message in the sink through POST /api/v1/send, without
// SMTP, and returns its ID. The server composes it; Bcc recipients reach
// the envelope only.
func (c *Client) Send(ctx context.Context, req SendRequest) (string, error) {
	data, err := c.do(ctx, http.MethodPost, "/api/v1/send", nil, req)
	if err != nil {
		return "", err
	}
	var out apitypes.SendResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("mailsink POST /api/v1/send: decoding answer: %w", err)
	}
	return out.ID, nil
}
