package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
	"github.com/latchkey/latchkey/internal/web"
)

// The device verification pages (RFC 8628 §3.3) take the user from the
// code to a decision in three steps, each a form with a CSRF token:
//
//  1. /device: the code, typed or pre-filled from verification_uri_complete
//     (never more than pre-filled), checked under guessing limits;
//  2. /device/login: the login page of /authorize, with its limits, when
//     the browser has no session;
//  3. /device/consent: the client, the scopes and resources, a plain
//     warning about remote phishing, and explicit Approve and Deny (S195).
//
// The code travels from step to step in the forms, never in a cookie, so
// any instance serves any step; every token that carries it past step 1
// is a MAC over the browser's secret and the code's digest, so no step
// after the first can be used to try codes.

// deviceView is what the code entry page shows.
type deviceView struct {
	Base, CSRF, UserCode, Message string
}

// Messages of the code entry page: one for every code that cannot be
// used, whatever the reason, so the page reveals nothing about it.
const (
	msgCodeNotValid = "That code is not valid. Check the code on your device, or start again there."
	msgCodeTooMany  = "Too many attempts. Wait a little and try again."
)

// handleDevice is the verification page: GET shows the code form, POST
// takes the code.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		return s.submitUserCode(w, r)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["user_code"]) > 1 {
		return malformedForm()
	}
	shown := ""
	if code, ok := normalizeUserCode(q.Get("user_code")); ok {
		shown = formatUserCode(code)
	}
	return s.showDeviceEntry(w, r, http.StatusOK, shown, "")
}

// showDeviceEntry renders the code form with a CSRF token bound to the
// browser's pre-login cookie.
func (s *Server) showDeviceEntry(w http.ResponseWriter, r *http.Request, status int, userCode, msg string) error {
	binding, err := s.loginCSRF(w, r)
	if err != nil {
		return err
	}
	v := deviceView{Base: s.prefix, CSRF: s.csrfToken("device", binding), UserCode: userCode, Message: msg}
	if err := s.pages.Render(w, status, web.Device, v); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", web.Device, "err", err)
	}
	return nil
}

// submitUserCode checks the code form. A code that is unknown, expired,
// decided or malformed is counted against the guessing limits and gets
// the one "not valid" message; past the limits the page answers 429
// without looking the code up (A24, S193). A pending code leads to the
// login page, or, for a signed-in browser, to the consent page.
func (s *Server) submitUserCode(w http.ResponseWriter, r *http.Request) error {
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	cookie, err := r.Cookie(s.csrfCookie())
	if err != nil || !s.checkCSRF("device", cookie.Value, form.Get("csrf")) {
		return expiredForm()
	}
	typed := form.Get("user_code")
	if len(typed) > maxUserCodeInput {
		typed = ""
	}
	sess, _, err := s.signedIn(r)
	if err != nil {
		return err
	}
	d, client, wait, err := s.enterUserCode(r, cookie.Value, sess, typed)
	switch {
	case err != nil:
		return err
	case wait > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		return s.showDeviceEntry(w, r, http.StatusTooManyRequests, typed, msgCodeTooMany)
	case d.Digest == "":
		return s.showDeviceEntry(w, r, http.StatusOK, typed, msgCodeNotValid)
	}
	code, _ := normalizeUserCode(typed) // it found d
	if sess == nil {
		return s.showDeviceLogin(w, r, code, client, loginView{})
	}
	s.seeOther(w, s.deviceConsentURL(sess.Digest, code))
	return nil
}

// userCodeKeys are the counters a wrong code is charged to: the client IP,
// the browser (its pre-login cookie) and, when signed in, the session.
func (s *Server) userCodeKeys(r *http.Request, browser string, sess *store.Session) []limitKey {
	keys := []limitKey{
		{"device:ip:" + s.clientIP(r).String(), s.cfg.Limits.PerIP},
		{"device:browser:" + token.Digest(browser), s.cfg.Limits.PerUsername},
	}
	if sess != nil {
		keys = append(keys, limitKey{"device:session:" + sess.Digest, s.cfg.Limits.PerUsername})
	}
	return keys
}

// enterUserCode looks up a typed code under the guessing limits. It
// returns the pending request and its client, or a zero request when the
// code cannot be used, or how long the browser must wait first. The check
// and the count of a miss run in one slot of the hash gate, as password
// checks do, so that guesses sent at once see each other's failures.
func (s *Server) enterUserCode(r *http.Request, browser string, sess *store.Session, typed string) (store.DeviceCode, store.Client, time.Duration, error) {
	ctx := r.Context()
	keys := s.userCodeKeys(r, browser, sess)
	var d store.DeviceCode
	var c store.Client
	var wait time.Duration
	err := s.hashes.do(ctx, func() error {
		now := s.now()
		var err error
		if wait, _, err = s.guard.wait(ctx, s.st, keys, now); err != nil || wait > 0 {
			return err
		}
		if code, ok := normalizeUserCode(typed); ok {
			var found bool
			if d, c, found, err = s.pendingDevice(ctx, s.userCodeDigest(code)); err != nil || found {
				return err
			}
		}
		d = store.DeviceCode{}
		s.log.WarnContext(ctx, "device user code not valid", "ip", s.clientIP(r).String())
		return s.countFailure(ctx, r, s.st, keys, now, "")
	})
	return d, c, wait, err
}

// pendingDevice returns the live, undecided device request whose user
// code digest is ucDigest, and its client; found is false for any other.
func (s *Server) pendingDevice(ctx context.Context, ucDigest string) (d store.DeviceCode, c store.Client, found bool, err error) {
	d, err = s.st.GetDeviceCodeByUserCode(ctx, ucDigest, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return store.DeviceCode{}, store.Client{}, false, nil
	}
	if err != nil {
		return store.DeviceCode{}, store.Client{}, false, fmt.Errorf("device: look up user code: %w", err)
	}
	if !d.ApprovedAt.IsZero() || !d.DeniedAt.IsZero() || !d.ConsumedAt.IsZero() {
		return store.DeviceCode{}, store.Client{}, false, nil
	}
	c, err = s.clientUncached(ctx, d.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return store.DeviceCode{}, store.Client{}, false, nil
	}
	if err != nil {
		return store.DeviceCode{}, store.Client{}, false, fmt.Errorf("device: look up client: %w", err)
	}
	return d, c, true, nil
}
