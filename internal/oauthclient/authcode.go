package oauthclient

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// AuthCodeOptions tune the authorization code flow.
type AuthCodeOptions struct {
	// RedirectURI is where the browser comes back: an http URI on
	// 127.0.0.1 (default http://127.0.0.1:<random port>/callback, which the
	// client must have registered with any port, RFC 8252 §7.3).
	RedirectURI string
	// Open is called with the authorization URL; it must get the user's
	// browser there (or play the browser's part, as latchkey demo does).
	Open func(ctx context.Context, authURL string) error
	// Timeout bounds the wait for the user (default 5 minutes).
	Timeout time.Duration
	// PAR pushes the request to the server's PAR endpoint first (RFC 9126)
	// and sends the browser only client_id and request_uri. The server's
	// require_pushed_authorization_requests turns it on.
	PAR bool
	// TokenResources, when set, are the resource indicators of the code
	// exchange instead of Config.Resources: the token's audience may be
	// narrower than what the user consented to (RFC 8707 §2.2), the rest
	// staying with the grant for later refreshes or token exchanges.
	TokenResources []string
}

// callbackResult is what arrived at the redirect URI.
type callbackResult struct {
	query url.Values
}

// AuthorizationCode runs the authorization code grant with PKCE S256
// (RFC 6749 §4.1, RFC 7636): a loopback listener receives the redirect;
// state and, when the server advertises it, iss (RFC 9207) are checked
// before the code is exchanged.
func (c *Client) AuthorizationCode(ctx context.Context, opts AuthCodeOptions) (Response, error) {
	if c.md.AuthorizationEndpoint == "" {
		return Response{}, errors.New("the server advertises no authorization_endpoint")
	}
	ln, redirect, err := listenLoopback(opts.RedirectURI)
	if err != nil {
		return Response{}, err
	}
	defer ln.Close()
	got := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(got), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	state, nonce := randomString(), randomString()
	verifier := oauth2.GenerateVerifier()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	authURL, err := c.authorizationURL(ctx, c.authorizationRequest(redirect, state, nonce, verifier), opts.PAR || c.md.RequirePAR)
	if err != nil {
		return Response{}, err
	}
	openErr := make(chan error, 1)
	go func() { openErr <- opts.Open(ctx, authURL) }()

	var res callbackResult
	select {
	case res = <-got:
		// Let the opener finish (a scripted browser reads the callback's
		// answer) before the exchange, so a trace stays in order.
		select {
		case <-openErr:
		case <-time.After(2 * time.Second):
		}
	case err := <-openErr:
		if err != nil {
			return Response{}, fmt.Errorf("authorization: %w", err)
		}
		select {
		case res = <-got:
		case <-ctx.Done():
			return Response{}, errors.New("authorization: no redirect arrived before the timeout")
		}
	case <-ctx.Done():
		return Response{}, errors.New("authorization: no redirect arrived before the timeout")
	}
	code, err := c.checkCallback(res.query, state)
	if err != nil {
		return Response{}, err
	}
	c.tracer.Step("the client exchanges the code, its credentials and the PKCE verifier for tokens")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {verifier}}
	if len(opts.TokenResources) > 0 {
		form["resource"] = opts.TokenResources
	}
	resp, err := c.tokenRequest(ctx, form)
	resp.Nonce = nonce
	return resp, err
}

// authorizationRequest is the parameters of the authorization request
// (RFC 6749 §4.1.1): PKCE S256 (RFC 7636), the OpenID Connect nonce, the
// resource indicators (RFC 8707) and, with a DPoP key, its thumbprint as
// dpop_jkt so that the code is bound to it (RFC 9449 §10).
func (c *Client) authorizationRequest(redirect, state, nonce, verifier string) url.Values {
	params := url.Values{"response_type": {"code"}, "client_id": {c.cfg.ClientID}, "redirect_uri": {redirect},
		"state": {state}, "nonce": {nonce}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}
	if len(c.cfg.Scopes) > 0 {
		params.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	for _, r := range c.cfg.Resources {
		params.Add("resource", r)
	}
	if c.cfg.DPoP != nil {
		params.Set("dpop_jkt", c.cfg.DPoP.Thumbprint())
	}
	return params
}

// authorizationURL returns where the browser goes: the authorization
// endpoint with params in its query or, when push is set, with only
// client_id and the request_uri the PAR endpoint gave for params (RFC
// 9126 §4). The push is authenticated like a token request and carries
// the DPoP proof, which binds the code as dpop_jkt would (RFC 9449 §10.1).
func (c *Client) authorizationURL(ctx context.Context, params url.Values, push bool) (string, error) {
	if push {
		if c.md.PAREndpoint == "" {
			return "", errors.New("the server advertises no pushed_authorization_request_endpoint: leave out --par")
		}
		params.Del("dpop_jkt") // the proof says it
		c.tracer.Step("the client pushes its authorization request to the PAR endpoint (RFC 9126), authenticated; it gets a request_uri for the browser")
		status, body, err := c.send(ctx, c.md.PAREndpoint, params, true)
		if err != nil {
			return "", err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return "", fmt.Errorf("pushed authorization request: %w", oauthError(status, body))
		}
		var pr struct {
			RequestURI string `json:"request_uri"`
		}
		if err := json.Unmarshal(body, &pr); err != nil || pr.RequestURI == "" {
			return "", errors.New("pushed authorization request: the answer has no request_uri")
		}
		params = url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {pr.RequestURI}}
	}
	u, err := url.Parse(c.md.AuthorizationEndpoint)
	if err != nil {
		return "", fmt.Errorf("authorization_endpoint: %w", err)
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// checkCallback validates the authorization response: iss first (mix-up
// defence, RFC 9207 §2.4), then state (CSRF, RFC 6749 §10.12), then error.
func (c *Client) checkCallback(q url.Values, state string) (string, error) {
	for name, vs := range q {
		if len(vs) > 1 {
			return "", fmt.Errorf("authorization response: %s appears twice", name)
		}
	}
	iss := q.Get("iss")
	if (c.md.ISSParameter || iss != "") && iss != c.md.Issuer {
		return "", fmt.Errorf("authorization response: iss %q is not the issuer %q (mix-up?)", iss, c.md.Issuer)
	}
	if q.Get("state") != state {
		return "", errors.New("authorization response: state does not match (a forged redirect?)")
	}
	if e := q.Get("error"); e != "" {
		return "", &Error{Code: e, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("authorization response: no code")
	}
	return code, nil
}

func listenLoopback(redirect string) (net.Listener, string, error) {
	if redirect == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", fmt.Errorf("listen for the redirect: %w", err)
		}
		return ln, "http://" + ln.Addr().String() + "/callback", nil
	}
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") {
		return nil, "", fmt.Errorf("redirect URI %q must be http on 127.0.0.1 or [::1]", redirect)
	}
	port := u.Port()
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, "", fmt.Errorf("listen for the redirect: %w", err)
	}
	u.Host = ln.Addr().String()
	return ln, u.String(), nil
}

func callbackHandler(got chan<- callbackResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		msg := "Signed in. You can close this tab and return to the terminal."
		if e := r.URL.Query().Get("error"); e != "" {
			msg = "The authorization server answered: " + e + ". Return to the terminal."
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		fmt.Fprintf(w, "<!doctype html><title>Latchkey</title><p>%s</p>", html.EscapeString(msg))
		select {
		case got <- callbackResult{query: r.URL.Query()}:
		default:
		}
	})
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
