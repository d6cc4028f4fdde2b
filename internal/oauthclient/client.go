package oauthclient

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
)

// Config describes the client and the server it talks to.
type Config struct {
	// Issuer is the authorization server's issuer identifier; its metadata
	// is discovered from it.
	Issuer   string
	ClientID string
	// ClientSecret authenticates a confidential client; it prints and
	// logs masked.
	ClientSecret config.Secret
	// AuthMethod is protocol.AuthBasic (client_secret_basic, the default
	// when empty) or protocol.AuthPost (client_secret_post). Without a
	// secret or a key the client sends its client_id alone (none).
	AuthMethod protocol.AuthMethod
	// PrivateKey, when set, authenticates the client with private_key_jwt
	// (RFC 7523 §2.2) instead of a secret: every request carries a new
	// assertion signed with it (see AssertionAlg), with aud the issuer.
	// KeyID is the assertion's kid, for a server that must pick among the
	// client's keys.
	PrivateKey crypto.Signer
	KeyID      string
	// DPoP, when set, proves possession of its key at the token and PAR
	// endpoints (RFC 9449): the tokens come bound to it, token_type DPoP,
	// and the authorization code too (§10).
	DPoP   *dpop.Prover
	Scopes []string
	// Resources are the resource indicators (RFC 8707) sent to the
	// authorization, PAR and token endpoints.
	Resources []string
	// HTTPClient sends the requests (default: a client with a 30 s timeout).
	HTTPClient *http.Client
	// Trace, when set, receives every request and response as numbered steps.
	Trace io.Writer
}

// Client runs OAuth 2 flows against one server.
type Client struct {
	cfg    Config
	md     Metadata
	tracer *Tracer
	hc     *http.Client
	assert *assertionSigner

	mu        sync.Mutex
	dpopNonce string // the last DPoP-Nonce the server sent
}

// String shows the client's issuer and id, never its secret: fmt cannot
// reach ClientSecret's own masking inside the unexported Config.
func (c *Client) String() string {
	return fmt.Sprintf("oauthclient.Client{Issuer: %q, ClientID: %q}", c.cfg.Issuer, c.cfg.ClientID)
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Response is a token response: the parsed token and the raw JSON.
type Response struct {
	Token *oauth2.Token
	Raw   json.RawMessage
	// Nonce is the OpenID Connect nonce sent in the authorization request.
	Nonce string
}

// Error is an OAuth error response (RFC 6749 §5.2) or an authorization
// error redirected back (§4.1.2.1).
type Error struct {
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Status != 0 {
		s = fmt.Sprintf("%s (HTTP %d)", s, e.Status)
	}
	return s
}

// New discovers the server's metadata and returns a Client.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.PrivateKey != nil && cfg.ClientSecret != "" {
		return nil, errors.New("a client authenticates with a private key or with a secret, not both")
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	tr := &Tracer{Out: cfg.Trace, Next: base.Transport}
	hc := &http.Client{Transport: tr, Timeout: base.Timeout, Jar: base.Jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c := &Client{cfg: cfg, tracer: tr, hc: hc}
	tr.Step("the client reads the authorization server's metadata (RFC 8414)")
	md, err := Discover(ctx, hc, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	c.md = md
	if cfg.PrivateKey != nil {
		// aud is the issuer, which every server accepts (RFC 7523bis).
		if c.assert, err = newAssertionSigner(cfg.PrivateKey, cfg.KeyID, cfg.ClientID, md.Issuer); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Metadata returns the discovered metadata.
func (c *Client) Metadata() Metadata { return c.md }

// Tracer returns the transport that traces this client's requests.
func (c *Client) Tracer() *Tracer { return c.tracer }

// HTTPClient returns the traced HTTP client (redirects are not followed).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// ClientCredentials runs the client credentials grant (RFC 6749 §4.4).
func (c *Client) ClientCredentials(ctx context.Context) (Response, error) {
	c.tracer.Step("the client authenticates as itself and asks for a token (client credentials grant)")
	return c.tokenRequest(ctx, c.withScope(url.Values{"grant_type": {"client_credentials"}}))
}

// Password runs the resource owner password credentials grant (§4.3).
func (c *Client) Password(ctx context.Context, username, password string) (Response, error) {
	c.tracer.Step("the client sends the user's username and password with its own credentials (password grant)")
	return c.tokenRequest(ctx, c.withScope(url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}))
}

// Refresh exchanges a refresh token for new tokens (§6). Servers that
// rotate refresh tokens return a new one, which replaces the old.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Response, error) {
	c.tracer.Step("the client trades its refresh token for a fresh access token (refresh grant)")
	return c.tokenRequest(ctx, c.withScope(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}))
}

// withScope adds the configured scopes to form.
func (c *Client) withScope(form url.Values) url.Values {
	if len(c.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	return form
}

// Introspect asks whether a token is active (RFC 7662).
func (c *Client) Introspect(ctx context.Context, token, hint string) (map[string]any, error) {
	if c.md.IntrospectionEndpoint == "" {
		return nil, errors.New("the server advertises no introspection_endpoint")
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	c.tracer.Step("the client asks the authorization server whether the token is active (introspection)")
	body, err := c.post(ctx, c.md.IntrospectionEndpoint, form)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("introspection: %w", err)
	}
	return out, nil
}

// Revoke revokes a token (RFC 7009).
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if c.md.RevocationEndpoint == "" {
		return errors.New("the server advertises no revocation_endpoint")
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	c.tracer.Step("the client tells the authorization server it no longer needs the token (revocation)")
	_, err := c.post(ctx, c.md.RevocationEndpoint, form)
	return err
}
