package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Keys is what minting and verifying need from the key manager.
type Keys interface {
	// Signer returns the current signer for alg and JWT type typ.
	Signer(alg, typ string) (jose.Signer, error)
	// PublicKey returns a published key by kid.
	PublicKey(kid string) (jose.JSONWebKey, bool)
}

// JWT types (RFC 9068 §2.1; ID tokens use the plain JWT type).
const (
	TypeAccess = "at+jwt"
	TypeID     = "JWT"
)

// acceptedAlgs is the allowlist for verifying Latchkey's own tokens: never
// none, never HMAC (RFC 8725).
func acceptedAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA, jose.PS256}
}

// Audience is the aud claim: a string when it has one member, an array
// otherwise (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON writes a one-member audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("token: aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// AccessClaims are the claims of a JWT access token (RFC 9068 §2.2, S086).
type AccessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience Audience `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	// AMR and ACR say how the user signed in (RFC 9068 §2.2.1).
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
	// GrantID ties the token to its grant so that revoking the grant (a
	// refresh-token replay, a code replay, a revocation request) also
	// makes introspection report the token inactive.
	GrantID string `json:"gid,omitempty"`
	// Confirmation binds the token to a DPoP key (RFC 9449 §6.1).
	Confirmation *Confirmation `json:"cnf,omitempty"`
	// Actor names who acts for the subject in a token issued by token
	// exchange (RFC 8693 §4.1): delegation, not impersonation.
	Actor *Actor `json:"act,omitempty"`
}

// Actor is the act claim of RFC 8693 §4.1: the acting party, and, nested,
// whoever acted for it before (the delegation chain, most recent first).
type Actor struct {
	Subject string `json:"sub"`
	Issuer  string `json:"iss,omitempty"`
	// ClientID names the client that acted, when the actor is a client.
	ClientID string `json:"client_id,omitempty"`
	Actor    *Actor `json:"act,omitempty"`
}

// Confirmation is the cnf claim (RFC 7800) of a DPoP-bound token: the
// RFC 7638 thumbprint of the key (RFC 9449 §6.1).
type Confirmation struct {
	JKT string `json:"jkt"`
}

// MintAccess signs c with the current key of alg as an at+jwt.
func MintAccess(k Keys, alg string, c AccessClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("token: marshal access claims: %w", err)
	}
	return sign(k, alg, TypeAccess, payload)
}

// Sign signs payload with the current key of alg under JWT type typ (a
// logout token's logout+jwt, say).
func Sign(k Keys, alg, typ string, payload []byte) (string, error) { return sign(k, alg, typ, payload) }

func sign(k Keys, alg, typ string, payload []byte) (string, error) {
	s, err := k.Signer(alg, typ)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("token: serialize: %w", err)
	}
	return out, nil
}

// ErrInvalid reports a token that is malformed, not signed by a published
// key, of the wrong type or issuer, or expired.
var ErrInvalid = errors.New("token: invalid")

// VerifyAccess checks a JWT access token that Latchkey issued: algorithm
// from the allowlist, typ at+jwt, a published kid, the signature, the exact
// issuer and expiry at now. Revocation is the caller's business.
func VerifyAccess(k Keys, raw, issuer string, now time.Time) (AccessClaims, error) {
	payload, err := verify(k, raw, TypeAccess)
	if err != nil {
		return AccessClaims{}, err
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return AccessClaims{}, fmt.Errorf("%w: claims: %v", ErrInvalid, err)
	}
	if c.Issuer != issuer || c.JTI == "" || c.ClientID == "" {
		return AccessClaims{}, fmt.Errorf("%w: wrong issuer or missing claims", ErrInvalid)
	}
	if now.Unix() >= c.Expiry {
		return AccessClaims{}, fmt.Errorf("%w: expired", ErrInvalid)
	}
	return c, nil
}

// VerifyID checks an ID token that Latchkey issued (an id_token_hint):
// signature, typ and issuer. Expiry is not checked: a hint may be expired
// (OpenID Connect RP-Initiated Logout §2).
func VerifyID(k Keys, raw, issuer string) (map[string]any, error) {
	payload, err := verify(k, raw, TypeID)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalid, err)
	}
	if c["iss"] != issuer {
		return nil, fmt.Errorf("%w: wrong issuer", ErrInvalid)
	}
	return c, nil
}

func verify(k Keys, raw, typ string) ([]byte, error) {
	if len(raw) > 16<<10 {
		return nil, fmt.Errorf("%w: too long", ErrInvalid)
	}
	jws, err := jose.ParseSigned(raw, acceptedAlgs())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not exactly one signature", ErrInvalid)
	}
	h := jws.Signatures[0].Protected
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); got != typ {
		return nil, fmt.Errorf("%w: typ %q, want %q", ErrInvalid, got, typ)
	}
	key, ok := k.PublicKey(h.KeyID)
	if !ok || key.Algorithm != h.Algorithm {
		return nil, fmt.Errorf("%w: unknown key", ErrInvalid)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalid, err)
	}
	return payload, nil
}

// IDClaims are the registered claims of an ID token (OpenID Connect Core
// §2, S216-S218); user claims are added beside them.
type IDClaims struct {
	Issuer          string
	Subject         string
	Audience        string
	AuthorizedParty string
	Expiry          time.Time
	IssuedAt        time.Time
	AuthTime        time.Time
	Nonce           string
	AccessToken     string // for at_hash (S228)
	Extra           map[string]any
}

// MintID signs an ID token with the current key of alg.
func MintID(k Keys, alg string, c IDClaims) (string, error) {
	m := make(map[string]any, len(c.Extra)+9)
	for name, v := range c.Extra {
		m[name] = v
	}
	m["iss"] = c.Issuer
	m["sub"] = c.Subject
	m["aud"] = c.Audience
	m["exp"] = c.Expiry.Unix()
	m["iat"] = c.IssuedAt.Unix()
	if !c.AuthTime.IsZero() {
		m["auth_time"] = c.AuthTime.Unix()
	}
	if c.Nonce != "" {
		m["nonce"] = c.Nonce
	}
	if c.AuthorizedParty != "" {
		m["azp"] = c.AuthorizedParty
	}
	if c.AccessToken != "" {
		m["at_hash"] = LeftHalfHash(alg, c.AccessToken)
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("token: marshal ID claims: %w", err)
	}
	return sign(k, alg, TypeID, payload)
}

// LeftHalfHash is at_hash: the base64url left half of the hash of value,
// with the hash of the signing algorithm (SHA-512 for EdDSA/Ed25519).
func LeftHalfHash(alg, value string) string {
	var h hash.Hash
	if alg == "EdDSA" {
		h = sha512.New()
	} else {
		h = sha256.New()
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
