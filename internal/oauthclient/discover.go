// Package oauthclient is the client side of OAuth 2 as Latchkey's CLI
// speaks it to any authorization server: discovery (RFC 8414), the grants
// through golang.org/x/oauth2, introspection (RFC 7662) and revocation
// (RFC 7009), with an optional trace that shows every HTTP exchange as a
// numbered step, secrets masked.
package oauthclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Metadata is the part of an authorization server's metadata the client
// uses (RFC 8414 §2).
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	// PAREndpoint is the pushed authorization request endpoint (RFC 9126
	// §5); RequirePAR says every client must use it.
	PAREndpoint          string   `json:"pushed_authorization_request_endpoint"`
	RequirePAR           bool     `json:"require_pushed_authorization_requests"`
	CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
	// ISSParameter says the server sends iss in authorization responses
	// (RFC 9207), which the client then requires.
	ISSParameter bool `json:"authorization_response_iss_parameter_supported"`
	// DeviceAuthorizationEndpoint is where a device asks for its codes
	// (RFC 8628 §4).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	// RegistrationEndpoint is where clients register themselves (RFC 7591
	// §3).
	RegistrationEndpoint string `json:"registration_endpoint"`
}

// Discover fetches the metadata of issuer: RFC 8414's well-known URL
// first, then OpenID Connect's. The document's issuer must equal issuer
// exactly, or the metadata is not used (RFC 8414 §3.3).
func Discover(ctx context.Context, hc *http.Client, issuer string) (Metadata, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	var errs []error
	for _, u := range wellKnown(issuer) {
		md, err := fetchMetadata(ctx, hc, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if md.Issuer != issuer {
			return Metadata{}, fmt.Errorf("discovery: %s names issuer %q, not %q: refusing it (RFC 8414 §3.3)", u, md.Issuer, issuer)
		}
		if md.TokenEndpoint == "" {
			return Metadata{}, fmt.Errorf("discovery: %s has no token_endpoint", u)
		}
		return md, nil
	}
	return Metadata{}, fmt.Errorf("discovery of %s failed: %w", issuer, errors.Join(errs...))
}

// wellKnown lists the metadata URLs of issuer: RFC 8414 inserts the
// well-known segment before the issuer's path; OpenID Connect appends it.
func wellKnown(issuer string) []string {
	scheme, rest, _ := strings.Cut(issuer, "://")
	host, path, _ := strings.Cut(rest, "/")
	if path != "" {
		path = "/" + path
	}
	return []string{
		scheme + "://" + host + "/.well-known/oauth-authorization-server" + path,
		issuer + "/.well-known/openid-configuration",
	}
}

func fetchMetadata(ctx context.Context, hc *http.Client, u string) (Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Metadata{}, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return Metadata{}, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Metadata{}, fmt.Errorf("discovery: %s answered %s", u, resp.Status)
	}
	var md Metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&md); err != nil {
		return Metadata{}, fmt.Errorf("discovery: %s: %w", u, err)
	}
	return md, nil
}
