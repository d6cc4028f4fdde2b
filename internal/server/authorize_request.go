package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// authRequest is a validated authorization request (RFC 6749 §4.1.1 with
// PKCE and OpenID Connect parameters).
type authRequest struct {
	client        store.Client
	redirectURI   string
	redirectGiven bool
	state         string
	scopes        []string
	nonce         string
	challenge     string
	prompt        []string
	maxAge        int // -1 when absent
	loginHint     string
	// hintSub is the subject of a valid id_token_hint, or "".
	hintSub string
	// resources are the resource indicators asked for (RFC 8707 §2).
	resources []string
	// dpopJKT binds the code to a DPoP key (RFC 9449 §10), or "".
	dpopJKT string
	// acrLevel is the level acr_values asks for, or levelNone.
	acrLevel int
	// pushed: the parameters came from the PAR endpoint (RFC 9126), where
	// the client authenticated, and the browser has not altered them.
	pushed bool
	// params are the request's parameters as sent, re-encoded into the
	// login and consent forms so that the flow can continue.
	params url.Values
}

func (a *authRequest) hasPrompt(p string) bool { return slices.Contains(a.prompt, p) }

// toClient makes e an error redirected to the request's verified redirect
// URI with its state.
func (a *authRequest) toClient(e *protocol.Error) *protocol.Error {
	return e.ToClient(a.redirectURI, a.state)
}

// Limits on parameters that are echoed or stored.
const (
	maxStateLen = 4096
	maxNonceLen = 512
	maxHintLen  = 256
)

// parseAuthorize validates an authorization request in the order RFC 6749
// §4.1.2.1 prescribes: first client_id and redirect_uri, whose errors are
// shown to the user and never redirected (S012); then everything else,
// whose errors are redirected to the verified redirect URI (S020). Once
// the redirect URI is verified, the request comes back even with an error.
func (s *Server) parseAuthorize(ctx context.Context, params url.Values) (*authRequest, error) {
	clientID, ok := onceParam(params, "client_id")
	if !ok || clientID == "" {
		return nil, badClientPage()
	}
	client, err := s.findClient(ctx, clientID, true)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badClientPage()
	}
	if pe := protocol.AsError(err); pe != nil { // a refused metadata document
		return nil, badClientDocPage(pe)
	}
	if err != nil {
		return nil, fmt.Errorf("authorize: look up client: %w", err)
	}
	params, pushed, err := s.expandPushed(ctx, client, params)
	if err != nil {
		return nil, err
	}
	return s.validateAuthorize(client, params, pushed)
}

// onceParam returns the value of a parameter that may appear at most once;
// ok is false when it is repeated.
func onceParam(params url.Values, name string) (string, bool) {
	switch vs := params[name]; len(vs) {
	case 0:
		return "", true
	case 1:
		return vs[0], true
	}
	return "", false
}

// validateAuthorize checks params as an authorization request of client:
// the redirect URI first, whose errors are never redirected, then the
// rest. pushed says the parameters came from the PAR endpoint.
func (s *Server) validateAuthorize(client store.Client, params url.Values, pushed bool) (*authRequest, error) {
	redirect, ok := onceParam(params, "redirect_uri")
	if !ok {
		return nil, badRedirectPage()
	}
	req := &authRequest{client: client, params: params, maxAge: -1, redirectGiven: redirect != "", pushed: pushed}
	switch {
	case redirect != "" && matchRedirect(redirect, client.RedirectURIs):
		req.redirectURI = redirect
	case redirect == "" && len(client.RedirectURIs) == 1:
		req.redirectURI = client.RedirectURIs[0]
	default:
		return nil, badRedirectPage()
	}
	// From here on errors go back to the client, with state when it came.
	if st := params["state"]; len(st) == 1 && len(st[0]) <= maxStateLen {
		req.state = st[0]
	}
	if e := s.checkAuthorize(req, params); e != nil {
		return req, req.toClient(e)
	}
	return req, nil
}

// checkAuthorize validates everything after the redirect URI.
func (s *Server) checkAuthorize(req *authRequest, params url.Values) *protocol.Error {
	for name, vs := range params {
		if len(vs) > 1 && name != "resource" { // resource is repeatable (RFC 8707 §2)
			return protocol.Errorf(protocol.ErrInvalidRequest, "parameter %s is repeated", printableName(name))
		}
	}
	if s.requiresPAR(req.client) && !req.pushed { // S185
		return protocol.Errorf(protocol.ErrInvalidRequest, "this client must push its authorization requests to the PAR endpoint first")
	}
	get := func(name string) string { return params.Get(name) }
	// A request object must not be dropped silently: the client meant its
	// contents, signed, to replace the parameters (OpenID Connect Core
	// §6.1, §6.2).
	if get("request") != "" {
		return protocol.Errorf(protocol.ErrRequestNotSupported, "request objects are not supported: send the parameters in the query")
	}
	if get("request_uri") != "" { // only a pushed request's own, expanded before this point
		return protocol.Errorf(protocol.ErrInvalidRequest, "request_uri cannot be pushed or combined with other parameters")
	}
	if len(get("state")) > maxStateLen {
		return protocol.Errorf(protocol.ErrInvalidRequest, "state is too long")
	}
	if err := checkResponseType(get("response_type")); err != nil {
		return err
	}
	if !slices.Contains(req.client.GrantTypes, protocol.GrantAuthorizationCode) {
		return protocol.Errorf(protocol.ErrUnauthorizedClient, "the client may not use the authorization code grant")
	}
	if err := checkPKCE(get("code_challenge"), get("code_challenge_method")); err != nil {
		return err
	}
	req.challenge = get("code_challenge")
	scopes, err := resolveScope(get("scope"), req.client)
	if err != nil {
		return protocol.AsError(err)
	}
	req.scopes = scopes
	if slices.Contains(scopes, "openid") && !req.redirectGiven {
		return protocol.Errorf(protocol.ErrInvalidRequest, "redirect_uri is required in OpenID Connect requests")
	}
	if perr := parsePrompt(req, get("prompt")); perr != nil {
		return perr
	}
	if raw := get("max_age"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return protocol.Errorf(protocol.ErrInvalidRequest, "max_age must be a non-negative integer")
		}
		req.maxAge = n
	}
	if hint := get("id_token_hint"); hint != "" {
		claims, err := token.VerifyID(s.keys, hint, s.issuer)
		if err != nil {
			return protocol.Errorf(protocol.ErrInvalidRequest, "id_token_hint was not issued by this server")
		}
		req.hintSub, _ = claims["sub"].(string)
	}
	res, perr := protocol.ParseResources(params["resource"], req.client.Resources)
	if perr != nil {
		return perr
	}
	req.resources = res
	if jkt := get("dpop_jkt"); jkt != "" {
		if !validThumbprint(jkt) {
			return protocol.Errorf(protocol.ErrInvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
		}
		req.dpopJKT = jkt
	}
	req.acrLevel = requestedLevel(get("acr_values"))
	req.nonce, req.loginHint = get("nonce"), get("login_hint")
	if len(req.nonce) > maxNonceLen || len(req.loginHint) > maxHintLen {
		return protocol.Errorf(protocol.ErrInvalidRequest, "nonce or login_hint is too long")
	}
	return nil
}

// validThumbprint reports whether s looks like a base64url SHA-256 JWK
// thumbprint (RFC 7638): 43 characters of the URL-safe alphabet.
func validThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkResponseType accepts only "code": the implicit grant and every other
// type that returns tokens from the authorization endpoint are refused
// (RFC 9700 §2.1.2, S110).
func checkResponseType(rt string) *protocol.Error {
	switch {
	case rt == "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "response_type is required")
	case rt == "code":
		return nil
	case slices.Contains(strings.Fields(rt), "token") || slices.Contains(strings.Fields(rt), "id_token"):
		return protocol.Errorf(protocol.ErrUnsupportedResponseType, "only the authorization code flow is supported: tokens are never returned in the redirect")
	}
	return protocol.Errorf(protocol.ErrUnsupportedResponseType, "response_type must be code")
}

// checkPKCE requires an S256 challenge from every client (RFC 7636, OAuth
// 2.1 §4.1.1; S063, S064, S107).
func checkPKCE(challenge, method string) *protocol.Error {
	switch {
	case challenge == "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "code_challenge is required (PKCE with S256)")
	case method == "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "code_challenge_method is required: the plain method is not supported, use S256")
	case method != protocol.PKCEMethodS256:
		return protocol.Errorf(protocol.ErrInvalidRequest, "code_challenge_method must be S256")
	case !protocol.ValidPKCEValue(challenge):
		return protocol.Errorf(protocol.ErrInvalidRequest, "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	return nil
}

// parsePrompt reads prompt (OpenID Connect Core §3.1.2.1): none may not be
// combined with another value (S220).
func parsePrompt(req *authRequest, raw string) *protocol.Error {
	for _, p := range strings.Fields(raw) {
		switch p {
		case "none", "login", "consent", "select_account":
		default:
			return protocol.Errorf(protocol.ErrInvalidRequest, "prompt %s is not supported", printableName(p))
		}
		req.prompt = append(req.prompt, p)
	}
	if req.hasPrompt("none") && len(req.prompt) > 1 {
		return protocol.Errorf(protocol.ErrInvalidRequest, "prompt=none cannot be combined with other values")
	}
	return nil
}

func printableName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return protocol.SafeDescription(s)
}

// badClientPage: the client is unknown, so nothing may be redirected.
func badClientPage() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidClient, http.StatusBadRequest, "Unknown application",
		"The application that sent you here is not registered with this server.",
		"Go back to the application and try again, or tell its developers: the client_id is missing or wrong.")
}

// badRedirectPage: the redirect URI is not the client's, so nothing may be
// redirected there (S012).
func badRedirectPage() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusBadRequest, "Redirect address not allowed",
		"The application asked to send you to an address it has not registered, so you are not sent anywhere.",
		"Go back to the application and try again, or tell its developers: the redirect_uri must match a registered one exactly.")
}

// matchRedirect compares a requested redirect URI with the registered ones
// by simple string comparison (RFC 3986 §6.2.1, S011, S099). The only
// exception is a loopback IP literal over http, where the port may vary
// (RFC 8252 §7.3, S208); scheme, host, path and query still match exactly.
func matchRedirect(got string, registered []string) bool {
	if slices.Contains(registered, got) {
		return true
	}
	gotBase, ok := loopbackWithoutPort(got)
	if !ok {
		return false
	}
	for _, r := range registered {
		if rb, ok := loopbackWithoutPort(r); ok && rb == gotBase {
			return true
		}
	}
	return false
}

// loopbackWithoutPort returns u without its port when u is an http URI on
// 127.0.0.1 or [::1] without userinfo or fragment.
func loopbackWithoutPort(u string) (string, bool) {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.Contains(tail, "#") {
		return "", false
	}
	host := authority
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		port := authority[i+1:]
		if _, err := strconv.ParseUint(port, 10, 16); err != nil && port != "" {
			return "", false
		}
		host = authority[:i]
	}
	if host != "127.0.0.1" && host != "[::1]" {
		return "", false
	}
	return "http://" + host + tail, true
}
