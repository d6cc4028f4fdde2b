package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// requestURIPrefix starts every request_uri the PAR endpoint hands out
// (RFC 9126 §2.2); 32 random bytes follow.
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// pushedResumeTTL is how long a user may take to sign in and consent to a
// pushed request once its request_uri has been used at /authorize.
const pushedResumeTTL = 30 * time.Minute

// pushedParam carries, through the login and consent forms, the proof that
// the parameters beside it are a pushed request's, unaltered.
const pushedParam = "_pushed"

// parResponse is RFC 9126 §2.2.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// handlePAR is the pushed authorization request endpoint (RFC 9126). The
// client authenticates exactly as at the token endpoint (S179); the
// request is validated as /authorize would (S180) and stored, bound to the
// client, for one use within PAR.Lifetime (S181). A DPoP proof binds the
// code to come to its key, as dpop_jkt would (S173).
func (s *Server) handlePAR(w http.ResponseWriter, r *http.Request) error {
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		return perr
	}
	client, _, err := s.authenticateClient(r, form)
	if pe := protocol.AsError(err); pe != nil && pe.RetryAfter > 0 {
		// Past the guessing limits this endpoint says so with 429 (RFC 9126
		// §2.3, S182), where the token endpoint keeps invalid_client.
		return &protocol.Error{Code: protocol.ErrInvalidRequest, Description: "too many failed attempts; retry later",
			Status: http.StatusTooManyRequests, RetryAfter: pe.RetryAfter}
	}
	if err != nil {
		return err
	}
	if form.Has("request_uri") { // S180
		return protocol.Errorf(protocol.ErrInvalidRequest, "request_uri must not be pushed")
	}
	if id := form.Get("client_id"); id != "" && id != client.ID {
		return protocol.Errorf(protocol.ErrInvalidRequest, "client_id differs from the authenticated client")
	}
	params := url.Values{}
	for k := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
			continue // credentials, not part of the authorization request
		}
		params[k] = form.All(k)
	}
	params.Set("client_id", client.ID)
	req, err := s.validateAuthorize(client, params, true)
	if err != nil {
		// At this endpoint every problem is a JSON answer to the client,
		// never a page or a redirect.
		if pe := protocol.AsError(err); pe != nil {
			return &protocol.Error{Code: pe.Code, Description: pe.Description}
		}
		return err
	}
	jkt, err := s.proofAt(r, client, "/par", "")
	if err != nil {
		return err
	}
	if jkt != "" && req.dpopJKT != "" && jkt != req.dpopJKT {
		return protocol.Errorf(protocol.ErrInvalidRequest, "dpop_jkt differs from the key of the DPoP proof")
	}
	if jkt != "" {
		params.Set("dpop_jkt", jkt)
	}
	value, digest, err := token.New(requestURIPrefix, s.rand)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.st.CreatePushedRequest(r.Context(), store.PushedRequest{
		Digest: digest, ClientID: client.ID, Params: params.Encode(), DPoPJKT: jkt,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.PAR.Lifetime),
	})
	if err != nil {
		return fmt.Errorf("par: store request: %w", err)
	}
	protocol.NoStore(w.Header())
	protocol.WriteJSON(w, http.StatusCreated, parResponse{RequestURI: value, ExpiresIn: int64(s.cfg.PAR.Lifetime / time.Second)})
	return nil
}

// expandPushed replaces an authorization request that names a request_uri
// with the request pushed under it, taking it so that it serves once
// (RFC 9126 §4, S184); other parameters beside it are ignored. Parameters
// carried back by the login and consent forms with a valid pushed mark
// count as pushed too. Anything else is returned as it came.
func (s *Server) expandPushed(ctx context.Context, client store.Client, params url.Values) (url.Values, bool, error) {
	now := s.now()
	if mark, ok := params[pushedParam]; ok {
		rest := withoutParam(params, pushedParam)
		if len(mark) != 1 || !s.checkPushedMark(mark[0], rest, now) {
			return nil, false, expiredForm()
		}
		return rest, true, nil
	}
	uri, ok := onceParam(params, "request_uri")
	if !ok {
		return nil, false, badRequestURIPage()
	}
	if uri == "" {
		return params, false, nil
	}
	if !strings.HasPrefix(uri, requestURIPrefix) {
		return nil, false, badRequestURIPage()
	}
	p, err := s.st.TakePushedRequest(ctx, token.Digest(uri), client.ID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, badRequestURIPage()
	}
	if err != nil {
		return nil, false, fmt.Errorf("authorize: take pushed request: %w", err)
	}
	pushed, err := url.ParseQuery(p.Params)
	if err != nil {
		return nil, false, fmt.Errorf("authorize: pushed request %s: %w", p.ClientID, err)
	}
	return pushed, true, nil
}

// carried are the parameters a login or consent form (or the redirect
// after sign-in) carries back to /authorize: a pushed request's with a
// fresh mark, so the browser can carry them but not alter them.
func (s *Server) carried(req *authRequest, params url.Values) url.Values {
	out := withoutParam(params, pushedParam)
	if req.pushed {
		out.Set(pushedParam, s.pushedMark(out, s.now().Add(pushedResumeTTL)))
	}
	return out
}

// pushedMark is "<expiry>.<mac>": an HMAC under the server key over the
// expiry and the canonical encoding of params.
func (s *Server) pushedMark(params url.Values, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + s.pushedMAC(e, params)
}

func (s *Server) checkPushedMark(mark string, params url.Values, now time.Time) bool {
	e, mac, ok := strings.Cut(mark, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.pushedMAC(e, params)))
}

func (s *Server) pushedMAC(exp string, params url.Values) string {
	m := hmac.New(sha256.New, s.hmacKey)
	m.Write([]byte("pushed request\x00" + exp + "\x00" + params.Encode()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// withoutParam is a copy of params without name.
func withoutParam(params url.Values, name string) url.Values {
	out := make(url.Values, len(params))
	for k, vs := range params {
		if k != name {
			out[k] = append([]string(nil), vs...)
		}
	}
	return out
}

// requiresPAR reports whether c must push its authorization requests: the
// server says so for everyone, c registered it, or its profile is fapi2.
func (s *Server) requiresPAR(c store.Client) bool {
	return s.cfg.PAR.Require || c.RequirePAR || c.Profile == protocol.ProfileFAPI2
}

// badRequestURIPage: the request_uri is unknown, used, expired or another
// client's; without the request its redirect URI is unknown, so nothing is
// redirected (S184).
func badRequestURIPage() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequestURI, http.StatusBadRequest, "Request expired",
		"The sign-in request is not valid any more: it was used already or has expired.",
		"Go back to the application and start again.")
}
