package oauthclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/protocol"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/config"
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
	// when empty) or protocol.AuthPost (client_secret_post).
	AuthMethod protocol.AuthMethod
	Scopes     []string
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
	return c, nil
}

// Metadata returns the discovered metadata.
func (c *Client) Metadata() Metadata { return c.md }

// Tracer returns the transport that traces this client's requests.
func (c *Client) Tracer() *Tracer { return c.tracer }

// HTTPClient returns the traced HTTP client (redirects are not followed).
func (c *Client) HTTPClient() *http.Client { return c.hc }

func (c *Client) authStyle() oauth2.AuthStyle {
	if c.cfg.AuthMethod == protocol.AuthPost {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.hc)
}

func (c *Client) oauth2Config(redirect string) oauth2.Config {
	return oauth2.Config{
		ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret.Reveal(), RedirectURL: redirect, Scopes: c.cfg.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: c.md.AuthorizationEndpoint, TokenURL: c.md.TokenEndpoint, AuthStyle: c.authStyle()},
	}
}

// response wraps a token from x/oauth2 with the raw body the tracer kept.
func (c *Client) response(tok *oauth2.Token, err error) (Response, error) {
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Response{}, &Error{Status: re.Response.StatusCode, Code: re.ErrorCode, Description: re.ErrorDescription}
		}
		return Response{}, err
	}
	return Response{Token: tok, Raw: json.RawMessage(c.tracer.LastBody())}, nil
}

// ClientCredentials runs the client credentials grant (RFC 6749 §4.4).
func (c *Client) ClientCredentials(ctx context.Context) (Response, error) {
	cc := clientcredentials.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret.Reveal(),
		TokenURL: c.md.TokenEndpoint, Scopes: c.cfg.Scopes, AuthStyle: c.authStyle()}
	c.tracer.Step("the client authenticates as itself and asks for a token (client credentials grant)")
	return c.response(cc.Token(c.ctx(ctx)))
}

// Password runs the resource owner password credentials grant (§4.3).
func (c *Client) Password(ctx context.Context, username, password string) (Response, error) {
	conf := c.oauth2Config("")
	c.tracer.Step("the client sends the user's username and password with its own credentials (password grant)")
	return c.response(conf.PasswordCredentialsToken(c.ctx(ctx), username, password))
}

// Refresh exchanges a refresh token for new tokens (§6). Servers that
// rotate refresh tokens return a new one, which replaces the old.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Response, error) {
	conf := c.oauth2Config("")
	old := &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Hour)}
	c.tracer.Step("the client trades its refresh token for a fresh access token (refresh grant)")
	return c.response(conf.TokenSource(c.ctx(ctx), old).Token())
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

// post sends an authenticated form POST and returns the body of a 200.
func (c *Client) post(ctx context.Context, endpoint string, form url.Values) ([]byte, error) {
	if c.cfg.AuthMethod == protocol.AuthPost {
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret.Reveal())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.cfg.AuthMethod != protocol.AuthPost {
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret.Reveal()))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		var eb struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &eb) == nil {
			e.Code, e.Description = eb.Error, eb.Description
		}
		return nil, e
	}
	return body, nil
}
