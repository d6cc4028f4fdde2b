package clientjwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// refusedHeaders bring a key or a place to fetch one (A14: the key comes
// from the client's registration only), or change how the JWS is read.
func refusedHeaders() []string {
	return []string{"jwk", "jku", "x5u", "x5c", "crit", "b64", "zip", "cty", "enc"}
}

// parseJWS parses a client assertion: ParseJWS with the typ values of S213.
func parseJWS(assertion string, algs []jose.SignatureAlgorithm) (*jose.JSONWebSignature, error) {
	return ParseJWS(assertion, algs, "JWT", "client-authentication+jwt")
}

// ParseJWS parses a compact JWS of at most MaxAssertionBytes signed with
// one of algs, with exactly one signature, after checking its protected
// header: no member that brings a key or a place to fetch one (jwk, jku,
// x5u, x5c: A14; the key comes from what was registered or configured),
// no crit, and a typ that is absent or one of typs (compared without case
// and without the application/ prefix RFC 7515 §4.1.9 lets senders
// omit). It does not verify the signature. The error is an *Error; its
// Description never repeats the input. trustjwt uses it for JWTs of
// other issuers.
func ParseJWS(assertion string, algs []jose.SignatureAlgorithm, typs ...string) (*jose.JSONWebSignature, error) {
	if len(assertion) > MaxAssertionBytes {
		return nil, refuse(ErrMalformed, "the assertion is larger than 16 KiB")
	}
	if strings.Count(assertion, ".") != 2 {
		return nil, refuse(ErrMalformed, "the assertion is not a compact JWS (encrypted assertions are not accepted)")
	}
	if err := checkHeader(assertion[:strings.IndexByte(assertion, '.')], typs); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(assertion, algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, refuseBecause(ErrAlgorithm, "the assertion's alg is not accepted", err)
		}
		return nil, refuseBecause(ErrMalformed, "the assertion is not a well-formed JWS", err)
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Header.JSONWebKey != nil {
		return nil, refuse(ErrMalformed, "the assertion must carry exactly one signature")
	}
	if len(jws.Signatures[0].Header.KeyID) > maxKIDBytes {
		return nil, refuse(ErrHeader, "the assertion's kid is too long")
	}
	return jws, nil
}

// checkHeader checks the protected header's members before go-jose reads
// it: go-jose would accept an embedded jwk or x5c, and keep jku and x5u
// for the caller to refuse; here any of them refuses the assertion.
func checkHeader(segment string, typs []string) error {
	raw, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return refuseBecause(ErrMalformed, "the assertion's header is not base64url", err)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return refuseBecause(ErrMalformed, "the assertion's header is not a JSON object", err)
	}
	for _, name := range refusedHeaders() {
		if _, ok := h[name]; ok {
			return refuse(ErrHeader, "the assertion's header must not carry jwk, jku, x5u, x5c, crit, b64, zip, cty or enc: the key comes from the registered or configured keys")
		}
	}
	if t, ok := h["typ"]; ok {
		var typ string
		if json.Unmarshal(t, &typ) != nil || !typAccepted(typ, typs) {
			return refuse(ErrHeader, "the assertion's typ must be absent or one of "+strings.Join(typs, ", "))
		}
	}
	return nil
}

// maxSubjectBytes bounds what UnsafeSubject returns.
const maxSubjectBytes = 256

// UnsafeSubject returns the client an assertion claims to come from, its
// sub (or iss when it has no sub), WITHOUT verifying anything: the
// server uses it only to find the client whose registration Verify then
// checks the assertion against, when the request omits client_id (RFC
// 7521 §4.2). It is false for an assertion over MaxAssertionBytes, not a
// compact JWS, whose iss and sub differ, or whose subject is empty or
// longer than 256 bytes.
func UnsafeSubject(assertion string) (string, bool) {
	if len(assertion) > MaxAssertionBytes || strings.Count(assertion, ".") != 2 {
		return "", false
	}
	tok, err := jwt.ParseSigned(assertion, anyAlgorithm())
	if err != nil {
		return "", false
	}
	var c struct {
		Issuer  string `json:"iss"`
		Subject string `json:"sub"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", false
	}
	sub := c.Subject
	if sub == "" {
		sub = c.Issuer
	}
	if c.Issuer != "" && c.Issuer != sub || sub == "" || len(sub) > maxSubjectBytes {
		return "", false
	}
	return sub, true
}

// anyAlgorithm lists every JWS algorithm go-jose knows: UnsafeSubject
// does not verify, and must find the client of any assertion, HMAC ones
// included (client_secret_jwt), for Verify or another method to refuse.
func anyAlgorithm() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
	}
}
