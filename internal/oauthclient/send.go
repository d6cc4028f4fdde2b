package oauthclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/protocol"
)

// maxBody bounds what is read of an answer.
const maxBody = 1 << 20

// method is how the client authenticates: private_key_jwt with a key,
// client_secret_post or client_secret_basic with a secret, none (client_id
// alone) without either.
func (c *Client) method() protocol.AuthMethod {
	switch {
	case c.assert != nil:
		return protocol.AuthPrivateKeyJWT
	case c.cfg.ClientSecret == "":
		return protocol.AuthNone
	case c.cfg.AuthMethod == protocol.AuthPost:
		return protocol.AuthPost
	}
	return protocol.AuthBasic
}

// newPost builds a form POST to endpoint carrying the client's
// credentials: a fresh assertion every time, since each is used once.
func (c *Client) newPost(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	f := make(url.Values, len(form)+3)
	for k, vs := range form {
		f[k] = append([]string(nil), vs...)
	}
	m := c.method()
	switch m {
	case protocol.AuthPrivateKeyJWT:
		a, err := c.assert.assertion()
		if err != nil {
			return nil, err
		}
		f.Set("client_id", c.cfg.ClientID)
		f.Set("client_assertion_type", protocol.AssertionTypeJWT)
		f.Set("client_assertion", a)
	case protocol.AuthPost:
		f.Set("client_id", c.cfg.ClientID)
		f.Set("client_secret", c.cfg.ClientSecret.Reveal())
	case protocol.AuthNone:
		f.Set("client_id", c.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(f.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if m == protocol.AuthBasic { // RFC 6749 §2.3.1: both parts form-encoded first
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret.Reveal()))
	}
	return req, nil
}

// send posts form to endpoint as the client and returns the answer's
// status and body. With proof set and a DPoP key configured, the request
// carries a DPoP proof (RFC 9449 §4) with the latest nonce the server gave;
// when the server answers use_dpop_nonce, it is sent once more with the
// nonce of that answer (§8).
func (c *Client) send(ctx context.Context, endpoint string, form url.Values, proof bool) (int, []byte, error) {
	proof = proof && c.cfg.DPoP != nil
	for attempt := 0; ; attempt++ {
		req, err := c.newPost(ctx, endpoint, form)
		if err != nil {
			return 0, nil, err
		}
		if proof {
			p, err := c.cfg.DPoP.Proof(http.MethodPost, endpoint, "", c.nonce())
			if err != nil {
				return 0, nil, fmt.Errorf("make the DPoP proof: %w", err)
			}
			req.Header.Set("DPoP", p)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return 0, nil, err
		}
		fresh := resp.Header.Get("DPoP-Nonce")
		if fresh != "" {
			c.setNonce(fresh)
		}
		retry := proof && attempt == 0 && fresh != "" && errorCode(body) == protocol.ErrUseDPoPNonce &&
			(resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized)
		if !retry {
			return resp.StatusCode, body, nil
		}
		c.tracer.Step("the server wants its nonce in the DPoP proof (RFC 9449 §8): the client sends the request again, with a new proof carrying it")
	}
}

func (c *Client) nonce() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dpopNonce
}

func (c *Client) setNonce(n string) {
	c.mu.Lock()
	c.dpopNonce = n
	c.mu.Unlock()
}

// errorCode returns the error member of a JSON error body, or "".
func errorCode(body []byte) string {
	var eb struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &eb)
	return eb.Error
}

// oauthError is the *Error of an answer that is not a success (RFC 6749
// §5.2).
func oauthError(status int, body []byte) error {
	e := &Error{Status: status}
	var eb struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Description = eb.Error, eb.Description
	}
	if e.Code == "" {
		e.Code = "the server answered " + http.StatusText(status)
	}
	return e
}

// post sends an authenticated form POST without a DPoP proof
// (introspection, revocation) and returns the body of a 200.
func (c *Client) post(ctx context.Context, endpoint string, form url.Values) ([]byte, error) {
	status, body, err := c.send(ctx, endpoint, form, false)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, oauthError(status, body)
	}
	return body, nil
}

// tokenRequest sends a token request (RFC 6749 §3.2) with the client's
// resource indicators (RFC 8707 §2) unless form names its own and, with a
// DPoP key, a proof, and reads the token response (§5.1).
func (c *Client) tokenRequest(ctx context.Context, form url.Values) (Response, error) {
	if _, own := form["resource"]; !own {
		for _, r := range c.cfg.Resources {
			form.Add("resource", r)
		}
	}
	status, body, err := c.send(ctx, c.md.TokenEndpoint, form, true)
	if err != nil {
		return Response{}, err
	}
	if status != http.StatusOK {
		return Response{}, oauthError(status, body)
	}
	return parseToken(body)
}

// parseToken reads a successful token response.
func parseToken(body []byte) (Response, error) {
	var tr struct {
		AccessToken  string      `json:"access_token"`
		TokenType    string      `json:"token_type"`
		RefreshToken string      `json:"refresh_token"`
		ExpiresIn    json.Number `json:"expires_in"`
	}
	var extra map[string]any
	if err := json.Unmarshal(body, &tr); err != nil {
		return Response{}, fmt.Errorf("the token response is not JSON: %w", err)
	}
	_ = json.Unmarshal(body, &extra)
	if tr.AccessToken == "" {
		return Response{}, errors.New("the token response has no access_token")
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken}
	if n, err := tr.ExpiresIn.Int64(); err == nil && n > 0 {
		tok.ExpiresIn = n
		tok.Expiry = time.Now().Add(time.Duration(n) * time.Second)
	}
	return Response{Token: tok.WithExtra(extra), Raw: json.RawMessage(body)}, nil
}
