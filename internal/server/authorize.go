package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1), GET and
// POST (S006). It validates the request, then makes sure the user is
// signed in and has consented, showing the login or consent page when
// needed, and finally redirects back with a code.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) error {
	params, ok := authorizeParams(w, r)
	if !ok {
		return protocol.Page(protocol.ErrInvalidRequest, http.StatusBadRequest, "Malformed request",
			"The authorization request could not be read.", "Go back to the application and try again.")
	}
	return s.continueAuthorize(w, r, params)
}

// authorizeNotAllowed is the page a method other than GET or POST gets.
func authorizeNotAllowed() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusMethodNotAllowed, "Method not allowed",
		"The authorization endpoint answers GET and POST only.", "Go back to the application and try again.")
}

// authorizeParams reads the parameters from the query (GET) or the form
// body (POST), keeping repeats so they can be refused.
func authorizeParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	var params url.Values
	var err error
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		params, err = url.ParseQuery(r.URL.RawQuery)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, protocol.MaxFormBytes)
		if err = r.ParseForm(); err == nil {
			params = r.PostForm
		}
	default:
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	for k, vs := range params {
		for _, v := range append(vs, k) {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return nil, false
			}
		}
	}
	return params, true
}

// continueAuthorize runs the flow for validated-or-not params: it is also
// where login and consent lead back to.
func (s *Server) continueAuthorize(w http.ResponseWriter, r *http.Request, params url.Values) error {
	ctx := r.Context()
	req, err := s.authorizeRequest(r, params)
	if err != nil {
		return err
	}
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	if req.acrLevel >= levelPhishingResistant && s.rp == nil { // no passkeys here: nothing reaches it
		if req.hasPrompt("none") {
			return req.toClient(protocol.Errorf(protocol.ErrInteractionRequired, "no sign-in of this server reaches acr %s", ACRPhishingResistant))
		}
		return s.showUnavailable(w, r, req)
	}
	if s.mustLogin(req, sess) {
		if req.hasPrompt("none") {
			return req.toClient(protocol.Errorf(protocol.ErrLoginRequired, "the user is not signed in"))
		}
		return s.showLogin(w, r, req, loginView{Username: req.loginHint})
	}
	// Step-up: the session is weaker than the request, the client or the
	// user asks for; the user gives the missing factor (or enrols one).
	if need := max(req.acrLevel, policyLevel(req.client, &user)); sessionLevel(sess) < need {
		if req.hasPrompt("none") {
			return req.toClient(protocol.Errorf(protocol.ErrInteractionRequired, "the session does not reach the authentication level asked for"))
		}
		if need >= levelPhishingResistant { // only a passkey reaches it
			has := false
			if s.rp != nil {
				if has, err = s.hasPasskey(r, user.ID); err != nil {
					return err
				}
			}
			if !has {
				return s.showUnavailable(w, r, req)
			}
		}
		next := "/authorize?" + s.carried(req, resumeParams(req.params)).Encode()
		amr := sess.AMR
		if len(amr) == 0 {
			amr = []string{amrPassword}
		}
		return s.beginSecondStep(w, r, user, req.client.ID, req.client.Name, amr, next, need)
	}
	need, err := s.needConsent(ctx, req, user)
	if err != nil {
		return err
	}
	if need {
		if req.hasPrompt("none") {
			return req.toClient(protocol.Errorf(protocol.ErrConsentRequired, "the user has not consented"))
		}
		return s.showConsent(w, r, req, user, sess)
	}
	return s.issueCode(w, r, req, user, sess)
}

// authorizeRequest validates params as an authorization request. An error
// about the client or redirect URI is for the error page; any later one is
// redirected to the verified redirect URI.
func (s *Server) authorizeRequest(r *http.Request, params url.Values) (*authRequest, error) {
	req, err := s.parseAuthorize(r.Context(), params)
	if req != nil {
		info(r.Context()).clientID = req.client.ID
	}
	return req, err
}

// formRequest validates the authorization request that a login or consent
// form carried back in its hidden "request" field.
func (s *Server) formRequest(r *http.Request, form protocol.Form) (*authRequest, error) {
	params, err := url.ParseQuery(form.Get("request"))
	if err != nil {
		return nil, malformedForm()
	}
	return s.authorizeRequest(r, params)
}

// signedIn returns the session and its user, or nils.
func (s *Server) signedIn(r *http.Request) (*store.Session, store.User, error) {
	sess, err := s.currentSession(r)
	if err != nil || sess == nil {
		return nil, store.User{}, err
	}
	user, err := s.st.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.Disabled() {
		return nil, store.User{}, nil // a disabled user's session counts for nothing
	}
	if err != nil {
		return nil, store.User{}, fmt.Errorf("session user: %w", err)
	}
	return sess, user, nil
}

// mustLogin: no session, prompt=login, an authentication older than
// max_age, or an id_token_hint naming another user than the signed-in one
// (OpenID Connect Core §3.1.2.1, S220-S222).
func (s *Server) mustLogin(req *authRequest, sess *store.Session) bool {
	if sess == nil || req.hasPrompt("login") || (req.hintSub != "" && req.hintSub != sess.UserID) {
		return true
	}
	return req.maxAge >= 0 && s.now().Sub(sess.AuthTime).Seconds() > float64(req.maxAge)
}

// needConsent: unless the client is first-party, the user must have
// consented to every requested scope and resource (RFC 8707: the consent
// page names the APIs the tokens will reach, and what an exchanged token
// may address is bounded by them), and prompt=consent asks again.
func (s *Server) needConsent(ctx context.Context, req *authRequest, user store.User) (bool, error) {
	if req.client.SkipConsent {
		return false, nil
	}
	if req.hasPrompt("consent") || !identifiedClient(req) {
		return true, nil
	}
	c, err := s.st.GetConsent(ctx, user.ID, req.client.ID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read consent: %w", err)
	}
	return !protocol.SubsetOf(req.scopes, c.Scopes) || !protocol.SubsetOf(req.resources, c.Resources), nil
}

// identifiedClient reports whether a remembered consent may be reused for
// req: a confidential client proves itself at the token endpoint, and a
// public client's https redirect URI decides who receives the code. A
// public client redirecting to a loopback address or a private-use scheme
// can be impersonated by any program on the device, so the user is asked
// every time (RFC 6749 §10.2, RFC 8252 §8.6, S039).
func identifiedClient(req *authRequest) bool {
	return !req.client.Public || strings.HasPrefix(req.redirectURI, "https://")
}

// issueCode stores a fresh code bound to everything the token request
// must match (S017) and redirects with code, state and iss only.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, user store.User, sess *store.Session) error {
	ctx := r.Context()
	value, digest, err := token.New(token.PrefixCode, s.rand)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.st.CreateAuthCode(ctx, store.AuthCode{
		Digest: digest, ClientID: req.client.ID, UserID: user.ID, RedirectURI: req.redirectURI,
		RedirectURIGiven: req.redirectGiven, CodeChallenge: req.challenge, Scopes: req.scopes, Nonce: req.nonce,
		Resources: req.resources, DPoPJKT: req.dpopJKT, AuthTime: sess.AuthTime, SessionID: sess.SID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL),
		AMR: sessionAMR(sess), ACR: acrForLevel(sessionLevel(sess)),
	})
	if errors.Is(err, store.ErrConflict) {
		// The same client sent this challenge before (S068, A3f).
		return req.toClient(protocol.Errorf(protocol.ErrInvalidRequest,
			"code_challenge was used before: make a new code_verifier for every request"))
	}
	if err != nil {
		return err
	}
	s.redirectTo(w, req.redirectURI, req.state, url.Values{"code": {value}})
	return nil
}

// sessionAMR is how the user of sess signed in; a session from before
// amr was kept was a password.
func sessionAMR(sess *store.Session) []string {
	if len(sess.AMR) == 0 {
		return []string{amrPassword}
	}
	return sess.AMR
}

// resumeParams are the parameters to go back to /authorize with after the
// user signed in: prompt=login, max_age and id_token_hint are satisfied by
// then.
func resumeParams(params url.Values) url.Values {
	out := url.Values{}
	for k, vs := range params {
		out[k] = slices.Clone(vs)
	}
	out.Del("max_age")
	out.Del("id_token_hint") // the user has just chosen who signs in
	if p := out.Get("prompt"); p != "" {
		kept := slices.DeleteFunc(strings.Fields(p), func(v string) bool { return v == "login" })
		if len(kept) == 0 {
			out.Del("prompt")
		} else {
			out.Set("prompt", strings.Join(kept, " "))
		}
	}
	return out
}
