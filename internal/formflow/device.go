package formflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// UserCodeField is the name of the field a device verification page
// takes the user code in (RFC 8628 §3.3 leaves it to the server; this is
// the one Latchkey and most servers use).
const UserCodeField = "user_code"

// ReasonCodeRefused is the reason of a Failure of Device when the code
// form comes back after the code was sent: the server did not take it.
const ReasonCodeRefused = "code refused"

// Device plays the user's part of the device authorization grant (RFC
// 8628 §3.3) as a browser would: it opens verificationURI, types userCode
// into the code form (an empty userCode keeps the code the page filled in
// from verification_uri_complete), signs in when a login form follows,
// and on the next form presses the button that approves or, when approve
// is false, the first one that does not. It follows redirects on the way
// and calls Before and After as Walk does: the first request is an
// Authorize step, the code form and the decision are Consent steps. It
// returns the page without a form that ends the walk (such as "Device
// connected"), or a *Failure.
func (w *Walker) Device(ctx context.Context, verificationURI, userCode string, approve bool) ([]byte, error) {
	first, err := url.Parse(verificationURI)
	if err != nil {
		return nil, fmt.Errorf("the verification URI: %w", err)
	}
	if w.Client == nil {
		w.Client = NewClient(nil)
	}
	maxHops := w.MaxHops
	if maxHops <= 0 {
		maxHops = DefaultMaxHops
	}
	step := Step{Kind: Authorize, Method: http.MethodGet, URL: first}
	var sent Step
	var d deviceWalk
	status := 0
	for hop := 1; hop <= maxHops; hop++ {
		step.N = hop
		resp, f := w.send(ctx, &step)
		if f != nil {
			return nil, f
		}
		sent, status = step, resp.StatusCode
		switch {
		case isRedirect(status):
			loc, err := resp.Location()
			if err != nil {
				return nil, w.failure(step, status, ReasonBadLocation)
			}
			step = followed(step, loc, status)
		case status == http.StatusOK && isHTML(resp.Header.Get("Content-Type")):
			form, err := Parse(w.buf.Bytes(), step.URL)
			if errors.Is(err, ErrNoForm) {
				return bytes.Clone(w.buf.Bytes()), nil
			}
			if err != nil {
				return nil, w.failure(step, status, ReasonNoForm)
			}
			next, reason := d.next(form, w, userCode, approve)
			if reason != "" {
				return nil, w.failure(step, status, reason)
			}
			step = next
		default:
			return nil, w.failure(step, status, errorCode(w.buf.Bytes()))
		}
	}
	return nil, &Failure{Step: sent, Status: status, Reason: ReasonTooManyHops}
}

// deviceWalk remembers which forms a Device walk has sent, so that a
// form shown again (the code or the password refused) ends it.
type deviceWalk struct{ entered, signedIn bool }

// next is the submission of form, or the reason the walk ends.
func (d *deviceWalk) next(form *Form, w *Walker, userCode string, approve bool) (Step, string) {
	switch {
	case form.CodeEntry && d.entered:
		return Step{}, ReasonCodeRefused
	case form.CodeEntry:
		d.entered = true
		method, target, body := form.submission("", "", userCode, true)
		return Step{Kind: Consent, Method: method, URL: target, Body: body}, ""
	case form.Login && d.signedIn:
		return Step{}, ReasonLoginFailed
	case form.Login:
		d.signedIn = true
		method, target, body := form.submission(w.Username, w.Password, "", true)
		return Step{Kind: Login, Method: method, URL: target, Body: body}, ""
	}
	method, target, body := form.submission("", "", "", approve)
	return Step{Kind: Consent, Method: method, URL: target, Body: body}, ""
}
