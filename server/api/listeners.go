package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/server/httperr"
)

func (a *API) listeners() []apitypes.Listener {
	if a.opts.Listeners == nil {
		return []apitypes.Listener{}
	}
	return a.opts.Listeners.List()
}

func (a *API) listListeners(w http.ResponseWriter, r *http.Request) error {
	httperr.JSON(w, http.StatusOK, apitypes.Listeners{Listeners: a.listeners()})
	return nil
}

// listenerPort reads {port}: a number mailsink listens on.
func (a *API) listenerPort(r *http.Request) (int, error) {
	v := r.PathValue("port")
	port, err := strconv.Atoi(v)
	if err != nil || port <= 0 || port > 65535 {
		return 0, httperr.BadParam("port", v, "a port number")
	}
	if a.opts.Listeners == nil {
		return 0, httperr.NotFound(fmt.Sprintf("SMTP listener on port %d", port))
	}
	return port, nil
}

// listenerError turns a Pause or Resume error into the answer.
func listenerError(port int, err error) error {
	if errors.Is(err, ErrNoListener) {
		return httperr.NotFound(fmt.Sprintf("SMTP listener on port %d", port))
	}
	return httperr.New(http.StatusConflict, fmt.Sprintf("port %d: %v", port, err))
}

func (a *API) pauseListener(w http.ResponseWriter, r *http.Request) error {
	port, err := a.listenerPort(r)
	if err != nil {
		return err
	}
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in apitypes.Pause
	if !empty(data) {
		if err := decodeStrict(data, &in, `{"Mode":"refuse"}, "421" or "hang"`); err != nil {
			return err
		}
	}
	switch in.Mode {
	case "", "refuse", "421", "hang":
	default:
		return httperr.BadRequest(fmt.Sprintf("Mode %q: want refuse, 421 or hang", in.Mode))
	}
	if err := a.opts.Listeners.Pause(port, in.Mode); err != nil {
		return listenerError(port, err)
	}
	return a.listListeners(w, r)
}

func (a *API) resumeListener(w http.ResponseWriter, r *http.Request) error {
	port, err := a.listenerPort(r)
	if err != nil {
		return err
	}
	if err := a.opts.Listeners.Resume(port); err != nil {
		return listenerError(port, err)
	}
	return a.listListeners(w, r)
}
