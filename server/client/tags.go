package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mailsink/mailsink/server/api/apitypes"
)

// WebUIConfig is Mailpit's web UI configuration, from apitypes.
type WebUIConfig = apitypes.WebUIConfig

// Tags returns every tag some message carries, sorted ignoring case.
func (c *Client) Tags(ctx context.Context) ([]string, error) {
	var out []string
	return out, c.getJSON(ctx, "/api/v1/tags", nil, &out)
}

// SetTags replaces the tags of the given messages; no tags removes them.
// The server cleans names as Mailpit does (see storage.CleanTag).
func (c *Client) SetTags(ctx context.Context, ids []string, tags ...string) error {
	if tags == nil {
		tags = []string{}
	}
	_, err := c.do(ctx, http.MethodPut, "/api/v1/tags", nil, apitypes.SetTagsRequest{IDs: ids, Tags: tags})
	return err
}

// RenameTag renames a tag on every message that carries it.
func (c *Client) RenameTag(ctx context.Context, tag, name string) error {
	_, err := c.do(ctx, http.MethodPut, "/api/v1/tags/"+url.PathEscape(tag), nil, apitypes.RenameTagRequest{Name: name})
	return err
}

// DeleteTag removes a tag from every message; the messages stay.
func (c *Client) DeleteTag(ctx context.Context, tag string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/tags/"+url.PathEscape(tag), nil, nil)
	return err
}

// WebUI returns Mailpit's web UI configuration, as mailsink answers it.
func (c *Client) WebUI(ctx context.Context) (*WebUIConfig, error) {
	var out WebUIConfig
	return &out, c.getJSON(ctx, "/api/v1/webui", nil, &out)
}
