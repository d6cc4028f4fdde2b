package trustjwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/clientjwt"
)

// Defaults and limits.
const (
	// DefaultMaxTokenAge bounds iat's age and exp − iat when an Issuer
	// sets no MaxTokenAge.
	DefaultMaxTokenAge = time.Hour
	// DefaultSkew is the clock difference tolerated on exp, nbf and iat,
	// as for client assertions.
	DefaultSkew = clientjwt.DefaultSkew
	// MaxSubjectBytes bounds the subject claim.
	MaxSubjectBytes = 255
	maxJTIBytes     = 256
)

// DefaultAlgs are the algorithms an Issuer without Algs accepts.
func DefaultAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA}
}

// Issuer is one trusted issuer, as configured.
type Issuer struct {
	// Name is the issuer's short configured name.
	Name string
	// Issuer is the exact iss of its tokens.
	Issuer string
	// JWKS (a JWK Set as JSON) or JWKSURI (where the issuer publishes
	// one) holds its public keys; exactly one is set.
	JWKS, JWKSURI string
	// Audience is what aud must contain.
	Audience string
	// SubjectClaim names the claim that identifies the workload; "" means
	// sub.
	SubjectClaim string
	// Algs is the algorithm allowlist; nil means DefaultAlgs. Only
	// asymmetric algorithms may be listed.
	Algs []jose.SignatureAlgorithm
	// MaxTokenAge bounds how old iat may be and how long the token lives
	// (exp − iat); DefaultMaxTokenAge when zero.
	MaxTokenAge time.Duration
	// AllowReuse accepts a token any number of times within its life (a
	// Kubernetes projected token is presented until kubelet rotates it);
	// otherwise each jti is accepted once.
	AllowReuse bool
}

// Token is what a verified token says.
type Token struct {
	// Subject is the value of the issuer's subject claim.
	Subject string
	// JTI is the jti, or "" when the token has none (reuse allowed).
	JTI string
	// IssuedAt and Expiry are iat and exp.
	IssuedAt, Expiry time.Time
}

// Verifier verifies tokens of trusted issuers. Keys and Replay are
// required. Its fields must not change once Verify is in use; it is then
// safe for concurrent use.
type Verifier struct {
	// Keys finds the issuers' keys (and fetches jwks_uri through the
	// SSRF guard it was built with).
	Keys *clientjwt.Keys
	// Replay makes each jti usable once per issuer.
	Replay clientjwt.ReplayCache
	// Skew is the clock difference tolerated; DefaultSkew when zero.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks that raw is a valid token of iss and, unless iss allows
// reuse, records its jti. An *Error means the token is refused, with a
// Description safe to send; any other error is a failure of the server
// (its configuration, or the replay cache).
func (v *Verifier) Verify(ctx context.Context, raw string, iss Issuer) (Token, error) {
	// 1. The configuration and the algorithm allowlist.
	if v.Keys == nil || v.Replay == nil || iss.Name == "" || iss.Issuer == "" || iss.Audience == "" {
		return Token{}, errors.New("trustjwt: Verifier needs Keys and Replay, the Issuer a Name, Issuer and Audience")
	}
	algs, err := allowlist(iss)
	if err != nil {
		return Token{}, err
	}
	// 2. The JWS and its header: none and HMAC fail here, before any key.
	jws, err := clientjwt.ParseJWS(raw, algs, "JWT")
	if err != nil {
		return Token{}, fromClientJWT(err)
	}
	// 3. The issuer's key, and the signature.
	payload, err := v.verifySignature(ctx, jws, iss)
	if err != nil {
		return Token{}, err
	}
	// 4. The claims.
	now := v.now()
	tok, err := v.checkClaims(payload, iss, now)
	if err != nil {
		return Token{}, err
	}
	// 5. Single use until exp, unless the issuer's tokens are reusable.
	if iss.AllowReuse {
		return tok, nil
	}
	first, err := v.Replay.UseOnce(ctx, replayKey(iss.Name, tok.JTI), tok.Expiry.Add(v.skew()), now)
	if err != nil {
		return Token{}, fmt.Errorf("trustjwt: recording the token's jti: %w", err)
	}
	if !first {
		return Token{}, refuse(ErrReplayed, "the token was used before: each needs a new jti")
	}
	return tok, nil
}

// allowlist is iss.Algs or the defaults, checked to be asymmetric.
func allowlist(iss Issuer) ([]jose.SignatureAlgorithm, error) {
	algs := iss.Algs
	if len(algs) == 0 {
		algs = DefaultAlgs()
	}
	for _, a := range algs {
		if !clientjwt.Asymmetric(a) {
			return nil, fmt.Errorf("trustjwt: issuer %s lists %q, not an asymmetric algorithm", iss.Name, a)
		}
	}
	return algs, nil
}

// verifySignature finds the issuer's keys for the JWS's kid and alg and
// returns the payload of the first that verifies it.
func (v *Verifier) verifySignature(ctx context.Context, jws *jose.JSONWebSignature, iss Issuer) ([]byte, error) {
	h := jws.Signatures[0].Header
	keys, err := v.Keys.Lookup(ctx, iss.JWKS, iss.JWKSURI, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if err != nil {
		return nil, fromClientJWT(err)
	}
	for _, k := range keys {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, refuse(ErrSignature, "the token's signature does not verify with the issuer's keys")
}

// claims are the registered claims Verify reads.
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   json.RawMessage  `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// checkClaims reads the payload and checks it against iss at now.
func (v *Verifier) checkClaims(payload []byte, iss Issuer, now time.Time) (Token, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Token{}, &Error{Kind: ErrMalformed, Description: "the token's claims are not a JSON object of the expected types", Err: err}
	}
	if c.Issuer != iss.Issuer {
		return Token{}, refuse(ErrIssuer, "the token's iss is not the trusted issuer")
	}
	if !slices.Contains(c.Audience, iss.Audience) {
		return Token{}, refuse(ErrAudience, "the token's aud does not contain the audience configured for its issuer")
	}
	if err := v.checkTimes(&c, iss, now); err != nil {
		return Token{}, err
	}
	sub, err := subject(payload, c.Subject, iss.SubjectClaim)
	if err != nil {
		return Token{}, err
	}
	switch {
	case c.ID == "" && !iss.AllowReuse:
		return Token{}, refuse(ErrJTI, "the token has no jti, so its single use cannot be enforced")
	case len(c.ID) > maxJTIBytes:
		return Token{}, refuse(ErrJTI, fmt.Sprintf("the token's jti is longer than %d bytes", maxJTIBytes))
	}
	return Token{Subject: sub, JTI: c.ID, IssuedAt: c.IssuedAt.Time(), Expiry: c.Expiry.Time()}, nil
}

// checkTimes checks exp, nbf and iat against now with the skew, and the
// token's age and lifetime against iss.MaxTokenAge.
func (v *Verifier) checkTimes(c *claims, iss Issuer, now time.Time) error {
	skew, age := v.skew(), iss.MaxTokenAge
	if age <= 0 {
		age = DefaultMaxTokenAge
	}
	switch {
	case c.Expiry == nil:
		return refuse(ErrExpiry, "the token has no exp")
	case c.IssuedAt == nil:
		return refuse(ErrExpiry, "the token has no iat")
	case now.After(c.Expiry.Time().Add(skew)):
		return refuse(ErrExpiry, "the token has expired")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(skew)):
		return refuse(ErrExpiry, "the token is not valid yet (nbf)")
	case c.IssuedAt.Time().After(now.Add(skew)):
		return refuse(ErrExpiry, "the token was issued in the future (iat)")
	case c.IssuedAt.Time().Before(now.Add(-age - skew)):
		return refuse(ErrExpiry, fmt.Sprintf("the token was issued more than %v ago (iat): max_token_age", age))
	case c.Expiry.Time().Sub(c.IssuedAt.Time()) > age:
		return refuse(ErrExpiry, fmt.Sprintf("the token lives longer than %v (exp − iat): max_token_age", age))
	}
	return nil
}

// subject reads the subject claim: sub (already decoded as raw), or the
// claim the issuer names.
func subject(payload []byte, sub json.RawMessage, claim string) (string, error) {
	raw := sub
	if claim != "" && claim != "sub" {
		var all map[string]json.RawMessage
		if err := json.Unmarshal(payload, &all); err != nil {
			return "", &Error{Kind: ErrMalformed, Description: "the token's claims are not a JSON object", Err: err}
		}
		raw = all[claim]
	}
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return "", refuse(ErrSubject, "the token's subject claim is missing or not a string")
	}
	switch {
	case s == "":
		return "", refuse(ErrSubject, "the token's subject claim is empty")
	case len(s) > MaxSubjectBytes:
		return "", refuse(ErrSubject, fmt.Sprintf("the token's subject claim is longer than %d bytes", MaxSubjectBytes))
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", refuse(ErrSubject, "the token's subject claim contains control characters")
	}
	return s, nil
}

// replayKey is the replay-cache key of a jti of the issuer named name.
func replayKey(name, jti string) string { return clientjwt.ReplayKey("jti:", name, jti) }

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) skew() time.Duration {
	if v.Skew <= 0 {
		return DefaultSkew
	}
	return v.Skew
}
