package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
)

// ProfileFAPI2 is the client profile of the FAPI 2.0 Security Profile.
const ProfileFAPI2 = protocol.ProfileFAPI2

// proofAlgs are the DPoP proof algorithms the server can verify: only
// asymmetric ones (RFC 9449 §11.6, S176).
var proofAlgs = []string{"ES256", "EdDSA", "PS256"}

// senderConstraints checks the dpop, par and client_assertions sections.
func (v *validator) senderConstraints() {
	d, p := v.c.DPoP, v.c.PAR
	if d.NonceLifetime.D() < 10*time.Second || d.NonceLifetime.D() > time.Hour {
		v.add("dpop.nonce_lifetime", "must be between 10s and 1h; 5m is usual")
	}
	if d.ProofWindow.D() < 5*time.Second || d.ProofWindow.D() > 5*time.Minute {
		v.add("dpop.proof_window", "must be between 5s and 5m; 60s is usual (S174)")
	}
	if len(d.SigningAlgs) == 0 {
		v.add("dpop.signing_algs", "must list at least one of %s", orList(proofAlgs))
	}
	for j, a := range d.SigningAlgs {
		if !slices.Contains(proofAlgs, a) {
			v.add(fmt.Sprintf("dpop.signing_algs[%d]", j), "%q is not accepted for proofs; use %s (never none or HMAC, S176)", a, orList(proofAlgs))
		}
	}
	if p.Lifetime.D() < 5*time.Second || p.Lifetime.D() > 10*time.Minute {
		v.add("par.lifetime", "must be between 5s and 10m; 60s is usual (S181)")
	}
}

// UsesKeys reports whether the client authenticates with private_key_jwt:
// it says so, or its profile makes it the only method.
func (cl Client) UsesKeys() bool {
	m := cl.TokenEndpointAuthMethod
	return m == string(protocol.AuthPrivateKeyJWT) || (m == "" && cl.Profile == ProfileFAPI2 && !cl.Public)
}

// keySource checks where a private_key_jwt client's keys come from, and
// that nobody else sets them.
func (v *validator) keySource(p string, cl Client) {
	jwt := cl.UsesKeys()
	hasJWKS, hasURI := len(cl.JWKS) > 0, cl.JWKSURI != ""
	if !jwt && cl.Profile == ProfileFAPI2 {
		return // profile says what is wrong with the method
	}
	switch {
	case jwt && hasJWKS && hasURI:
		v.add(p+".jwks_uri", "set only one of jwks and jwks_uri; remove one")
	case jwt && !hasJWKS && !hasURI:
		v.add(p, "private_key_jwt needs the client's public keys: add jwks (a JWK Set) or jwks_uri")
	case !jwt && (hasJWKS || hasURI):
		v.add(p+".token_endpoint_auth_method", "jwks and jwks_uri are for private_key_jwt; set token_endpoint_auth_method: private_key_jwt or remove them")
	}
	if hasJWKS {
		if msg := jwksProblem(cl.JWKS); msg != "" {
			v.add(p+".jwks", "%s", msg)
		}
	}
	if hasURI {
		u, err := url.Parse(cl.JWKSURI)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "":
			v.add(p+".jwks_uri", "must be an absolute https URL")
		case u.Scheme == "http" && isLoopback(u.Hostname()) && v.c.ClientAssertions.AllowLoopbackJWKS:
		case u.Scheme != "https":
			v.add(p+".jwks_uri", "must use https (client_assertions.allow_loopback_jwks allows http on loopback, for development)")
		case u.User != nil || u.Fragment != "":
			v.add(p+".jwks_uri", "must not carry userinfo or a fragment")
		}
	}
}

// jwksProblem checks an inline JWK Set with the rules assertions are
// verified by (clientjwt): public asymmetric keys only, RSA of 2048 bits
// or more, at most 32 keys.
func jwksProblem(set map[string]any) string {
	b, err := json.Marshal(set)
	if err != nil {
		return "cannot be written as JSON"
	}
	if err := clientjwt.CheckKeySet(b); err != nil {
		return fmt.Sprintf("is not usable: %v; write the public keys as {keys: [{kty: EC, crv: P-256, x: …, y: …}]}", err)
	}
	return ""
}

// resources checks the client's resource indicators (RFC 8707 §2, S204).
func (v *validator) resources(p string, cl Client) {
	seen := make(map[string]bool)
	for j, r := range cl.Resources {
		ip := fmt.Sprintf("%s.resources[%d]", p, j)
		if msg := protocol.ResourceProblem(r); msg != "" {
			v.add(ip, "%s", msg)
		} else if seen[r] {
			v.add(ip, "is listed twice; remove one")
		}
		seen[r] = true
	}
}

// profile checks the client's profile and refresh rotation, and refuses a
// fapi2 client whose settings contradict the FAPI 2.0 Security Profile.
func (v *validator) profile(p string, cl Client) {
	if cl.RefreshTokenRotation != "" {
		v.oneOf(p+".refresh_token_rotation", cl.RefreshTokenRotation, "rotate", "reuse")
	}
	if cl.Profile == "" {
		return
	}
	if cl.Profile != ProfileFAPI2 {
		v.oneOf(p+".profile", cl.Profile, ProfileFAPI2)
		return
	}
	why := "under profile: fapi2 (FAPI 2.0 Security Profile)"
	if cl.Public {
		v.add(p+".public", "FAPI 2.0 clients are confidential %s; remove public: true", why)
	}
	if m := cl.TokenEndpointAuthMethod; m != "" && m != string(protocol.AuthPrivateKeyJWT) {
		v.add(p+".token_endpoint_auth_method", "must be private_key_jwt %s, not %s", why, m)
	}
	if slices.Contains(cl.GrantTypes, protocol.GrantPassword) {
		v.add(p+".grant_types", "the password grant is not allowed %s; remove it", why)
	}
	if a := cl.IDTokenSignedResponseAlg; a == "RS256" {
		v.add(p+".id_token_signed_response_alg", "RS256 is not allowed %s; use ES256, PS256 or EdDSA", why)
	}
	if v.c.Tokens.AccessTokenAlg == "RS256" {
		v.add(p+".profile", "tokens.access_token_alg RS256 is not allowed %s; use ES256, PS256 or EdDSA", why)
	}
	if v.c.Tokens.CodeTTL.D() > 60*time.Second {
		v.add(p+".profile", "tokens.code_ttl must be at most 60s %s", why)
	}
}
