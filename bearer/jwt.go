package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// verifyJWT checks a JWT access token as RFC 9068 §4 asks (S090-S092) and
// RFC 8725 advises: an allowed algorithm that suits the key, typ at+jwt,
// no header that brings its own key or critical extension, a kid of the
// issuer's JWKS, a valid signature, then the claims.
func (v *Validator) verifyJWT(ctx context.Context, raw string) (*Claims, *Error) {
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, tokenError(ErrSignature, "the token's algorithm is not accepted")
		}
		if v.intro != nil {
			return v.introspect(ctx, raw)
		}
		return nil, tokenError(ErrMalformed, "the token is not a well-formed JWS")
	}
	if len(jws.Signatures) != 1 {
		return nil, tokenError(ErrMalformed, "the token must carry exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if e := checkHeader(h); e != nil {
		return nil, e
	}
	key, e := v.keys.lookup(ctx, h.KeyID)
	if e != nil {
		return nil, e
	}
	if !key.accepts(h.Algorithm) {
		return nil, tokenError(ErrSignature, "the token's algorithm does not suit its key")
	}
	payload, err := jws.Verify(key.key)
	if err != nil {
		return nil, tokenError(ErrSignature, "the token's signature is invalid")
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, tokenError(ErrMalformed, "the token's claims are not a JSON object")
	}
	c, e := jwtClaims(m)
	if e != nil {
		return nil, e
	}
	if e := v.checkClaims(c); e != nil {
		return nil, e
	}
	return c, nil
}

// checkHeader refuses a JOSE header that is not an access token's (RFC 9068
// §4: typ at+jwt, which keeps ID tokens out, S092), that carries a key or a
// URL to fetch one from (jwk, jku, x5u: the key comes from the issuer's
// JWKS by kid, and no URL in a token is ever fetched), or that marks
// extensions critical (RFC 7515 §4.1.11: none is understood here).
func checkHeader(h jose.Header) *Error {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return tokenError(ErrTokenType, "the token is not typed at+jwt")
	}
	if h.JSONWebKey != nil {
		return tokenError(ErrSignature, "the token carries its own key")
	}
	for _, name := range []jose.HeaderKey{"jku", "x5u"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return tokenError(ErrSignature, "the token points to its own key")
		}
	}
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := h.ExtraHeaders[name]; ok {
			return tokenError(ErrMalformed, "the token uses an unsupported JWS extension")
		}
	}
	return nil
}

// jwtClaims reads the claims of m, all of RFC 9068 §2.2's required ones
// included (iss, exp, aud, sub, client_id, iat, jti; S086).
func jwtClaims(m map[string]any) (*Claims, *Error) {
	c := &Claims{Raw: m}
	var ok [7]bool
	c.Issuer, ok[0] = stringClaim(m, "iss")
	c.Subject, ok[1] = stringClaim(m, "sub")
	c.ClientID, ok[2] = stringClaim(m, "client_id")
	c.JTI, ok[3] = stringClaim(m, "jti")
	c.Expiry, ok[4] = timeClaim(m, "exp")
	c.IssuedAt, ok[5] = timeClaim(m, "iat")
	c.Audience, ok[6] = audienceClaim(m)
	if slices.Contains(ok[:], false) {
		return nil, tokenError(ErrMalformed, "the token lacks a required claim (iss, sub, aud, exp, iat, jti, client_id)")
	}
	jkt, wellFormed := confirmationJKT(m)
	if !wellFormed {
		return nil, tokenError(ErrMalformed, "the token's cnf claim is malformed")
	}
	c.JKT = jkt
	if c.Actor, wellFormed = actorClaim(m); !wellFormed {
		return nil, tokenError(ErrMalformed, "the token's act claim is malformed")
	}
	scope, present := m["scope"]
	if s, isString := scope.(string); isString {
		c.Scopes = strings.Fields(s)
	} else if present {
		return nil, tokenError(ErrMalformed, "the token's scope claim is not a string")
	}
	return c, nil
}

// checkClaims checks what every accepted token must satisfy, JWT or
// introspected: the exact issuer, this resource server among the
// audience, and the validity window with the leeway (RFC 9068 §4, RFC
// 7519 §4.1.4-§4.1.6).
func (v *Validator) checkClaims(c *Claims) *Error {
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	switch {
	case c.Issuer != v.cfg.Issuer:
		return tokenError(ErrIssuer, "the token was issued by another authorization server")
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return tokenError(ErrAudience, "the token is meant for another resource server")
	case !c.Expiry.IsZero() && !now.Before(c.Expiry.Add(leeway)):
		return tokenError(ErrExpired, "the token has expired")
	case !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(leeway)):
		return tokenError(ErrNotYetValid, "the token was issued in the future")
	}
	if _, present := c.Raw["nbf"]; present {
		nbf, ok := timeClaim(c.Raw, "nbf")
		if !ok {
			return tokenError(ErrMalformed, "the token's nbf claim is not a number")
		}
		if nbf.After(now.Add(leeway)) {
			return tokenError(ErrNotYetValid, "the token is not valid yet")
		}
	}
	return nil
}

// stringClaim returns a non-empty string claim.
func stringClaim(m map[string]any, name string) (string, bool) {
	s, ok := m[name].(string)
	return s, ok && s != ""
}

// timeClaim returns a NumericDate claim (RFC 7519 §2): seconds since the
// epoch, possibly fractional.
func timeClaim(m map[string]any, name string) (time.Time, bool) {
	f, ok := m[name].(float64)
	if !ok || f <= 0 || f > math.MaxInt32*4 || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// audienceClaim returns aud, a string or an array of strings (RFC 7519
// §4.1.3), with at least one member.
func audienceClaim(m map[string]any) ([]string, bool) {
	switch aud := m["aud"].(type) {
	case string:
		return []string{aud}, aud != ""
	case []any:
		out := make([]string, 0, len(aud))
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}
