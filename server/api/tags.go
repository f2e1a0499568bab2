package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/httperr"
	"github.com/mailsink/mailsink/storage"
)

// Tags, in Mailpit's routes and shapes: the store owns them (storage's
// tags.go); these handlers only read requests and map its errors.

func (a *API) getTags(w http.ResponseWriter, _ *http.Request) error {
	httperr.JSON(w, http.StatusOK, a.store.TagNames())
	return nil
}

// setTags replaces the tags of the messages named; unknown IDs are
// ignored, as Mailpit ignores them.
func (a *API) setTags(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	var b apitypes.SetTagsRequest
	if err := decodeStrict(data, &b, `{"IDs":["..."],"Tags":["..."]}`); err != nil {
		return err
	}
	if _, err := a.store.SetTags(b.IDs, b.Tags); errors.Is(err, storage.ErrTooManyTags) {
		return httperr.BadRequest(fmt.Sprintf("request body: Tags: more than %d tags for one message", storage.MaxTagsPerMessage))
	} else if err != nil {
		return err
	}
	return ok(w, r)
}

func (a *API) renameTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	var b apitypes.RenameTagRequest
	if err := decodeStrict(data, &b, `{"Name":"new name"}`); err != nil {
		return err
	}
	_, err = a.store.RenameTag(tag, b.Name)
	switch {
	case errors.Is(err, storage.ErrTagInvalid):
		return httperr.BadRequest(fmt.Sprintf("request body: Name %s: %v", strconv.Quote(b.Name), storage.ErrTagInvalid))
	case errors.Is(err, storage.ErrTagExists):
		return httperr.New(http.StatusConflict, fmt.Sprintf("request body: Name %s: a tag of that name exists", strconv.Quote(b.Name)))
	case err != nil:
		return tagError(tag, err)
	}
	return ok(w, r)
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	if _, err := a.store.DeleteTag(tag); err != nil {
		return tagError(tag, err)
	}
	return ok(w, r)
}

// tagError maps the store's not-found to 404.
func tagError(tag string, err error) error {
	if errors.Is(err, storage.ErrTagNotFound) {
		return httperr.NotFound("tag " + strconv.Quote(tag))
	}
	return err
}

// webUI is Mailpit's web UI configuration. mailsink relays nothing (so
// releasing a message is refused), runs no spam checks, ignores no
// duplicates, and its chaos triggers (/api/v1/chaos) are always on.
func (a *API) webUI(w http.ResponseWriter, _ *http.Request) error {
	out := apitypes.WebUIConfig{ChaosEnabled: true}
	httperr.JSON(w, http.StatusOK, out)
	return nil
}
