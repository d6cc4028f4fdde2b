package clientjwt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Limits and defaults of Verifier.
const (
	// MaxAssertionBytes caps a client assertion before it is parsed.
	MaxAssertionBytes = 16 << 10
	// DefaultMaxLifetime is how far ahead exp may be and how old iat
	// may be (S214: ≤ 5 min).
	DefaultMaxLifetime = 5 * time.Minute
	// DefaultSkew is the clock difference tolerated on exp, nbf and iat.
	DefaultSkew = 30 * time.Second
	maxJTIBytes = 256
)

// DefaultAlgs are the algorithms a zero Verifier.Algs accepts.
func DefaultAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA}
}

// ReplayCache remembers the assertions already used (S214: jti single
// use until exp). The server's store implements it, so that single use
// holds across instances.
type ReplayCache interface {
	// UseOnce records key as used until exp and reports whether this is
	// its first use: exactly one of any number of calls with the same key
	// before exp, concurrent ones included, gets true. now is the
	// verifier's clock. key is at most 64 printable ASCII bytes. An error
	// means the cache could not answer.
	UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error)
}

// Client is what Verify needs of a client's registration.
type Client struct {
	// ID is the client_id.
	ID string
	// JWKS is the registered JWK Set as JSON (jwks), or "".
	JWKS string
	// JWKSURI is the registered jwks_uri, or "". Exactly one of JWKS and
	// JWKSURI is set.
	JWKSURI string
	// Algs, when set, narrows Verifier.Algs for this client (its
	// token_endpoint_auth_signing_alg, a FAPI profile, …).
	Algs []jose.SignatureAlgorithm
}

// Verifier verifies client assertions. Keys, Issuer and Replay are
// required; other zero fields take the defaults. Its fields must not
// change once Verify is in use; it is then safe for concurrent use.
type Verifier struct {
	// Keys finds the clients' registered keys.
	Keys *Keys
	// Issuer is this server's issuer identifier, always accepted as aud.
	Issuer string
	// EndpointURLs are the URLs of the endpoints that take assertions
	// (token, PAR, and others such as introspection if configured),
	// accepted as aud unless Strict (decision 3, S179).
	EndpointURLs []string
	// Strict accepts only the issuer as aud, as a single JSON string
	// (rfc7523bis §3, S212, S215). Otherwise aud may be the issuer or one
	// of EndpointURLs, as a string or as an array of exactly that one
	// member; an array of several members is refused either way, since
	// one assertion would then be good at several servers.
	Strict bool
	// Algs are the accepted algorithms; nil means DefaultAlgs. Only
	// asymmetric ones may be listed (never none nor HMAC: A13).
	Algs []jose.SignatureAlgorithm
	// Replay makes each jti usable once.
	Replay ReplayCache
	// MaxLifetime bounds exp ahead of now and iat behind it;
	// DefaultMaxLifetime when zero.
	MaxLifetime time.Duration
	// Skew is the clock difference tolerated; DefaultSkew when zero.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks that assertion is a valid client assertion of client,
// signed with one of its registered keys, and records its jti so it
// cannot be used again. A nil error authenticates the client. An *Error
// means the assertion is refused (invalid_client, with its Description);
// any other error is a failure of the server (its configuration, or the
// replay cache).
func (v *Verifier) Verify(ctx context.Context, assertion string, client Client) error {
	// 1. The configuration and the algorithms allowed for this client.
	if v.Keys == nil || v.Replay == nil || v.Issuer == "" || client.ID == "" {
		return errors.New("clientjwt: Verifier needs Keys, Replay and Issuer, and the client an ID")
	}
	algs, err := v.algorithms(client)
	if err != nil {
		return err
	}
	// 2. The JWS and its header.
	jws, err := parseJWS(assertion, algs)
	if err != nil {
		return err
	}
	// 3. The client's key, and the signature.
	payload, err := v.verifySignature(ctx, jws, client)
	if err != nil {
		return err
	}
	// 4. The claims.
	now := v.now()
	c, err := v.checkClaims(payload, client.ID, now)
	if err != nil {
		return err
	}
	// 5. Single use until exp (and the skew that still accepts it).
	first, err := v.Replay.UseOnce(ctx, replayKey(client.ID, c.ID), c.Expiry.Time().Add(v.skew()), now)
	if err != nil {
		return fmt.Errorf("clientjwt: recording the assertion's jti: %w", err)
	}
	if !first {
		return refuse(ErrReplayed, "the assertion was used before: each needs a new jti")
	}
	return nil
}

// algorithms returns v.Algs (or the defaults) narrowed by client.Algs.
func (v *Verifier) algorithms(client Client) ([]jose.SignatureAlgorithm, error) {
	algs := v.Algs
	if algs == nil {
		algs = DefaultAlgs()
	}
	for _, a := range algs {
		if !Asymmetric(a) {
			return nil, fmt.Errorf("clientjwt: Verifier.Algs lists %q, not an asymmetric algorithm", a)
		}
	}
	if len(client.Algs) > 0 {
		algs = slices.DeleteFunc(slices.Clone(algs), func(a jose.SignatureAlgorithm) bool {
			return !slices.Contains(client.Algs, a)
		})
	}
	if len(algs) == 0 {
		return nil, refuse(ErrAlgorithm, "no signing algorithm is both registered for the client and accepted")
	}
	return algs, nil
}

// verifySignature finds the client's keys for the JWS's kid and alg and
// returns the payload of the first that verifies it.
func (v *Verifier) verifySignature(ctx context.Context, jws *jose.JSONWebSignature, client Client) ([]byte, error) {
	h := jws.Signatures[0].Header
	keys, err := v.Keys.Lookup(ctx, client.JWKS, client.JWKSURI, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, refuse(ErrSignature, "the assertion's signature does not verify with the client's registered keys")
}

// claims are the claims of RFC 7523 §3 that Verify reads.
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  json.RawMessage  `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// checkClaims reads the payload and checks it as RFC 7523 §3 and S214 ask.
func (v *Verifier) checkClaims(payload []byte, clientID string, now time.Time) (*claims, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuseBecause(ErrMalformed, "the assertion's claims are not a JSON object of the expected types", err)
	}
	if c.Issuer != clientID || c.Subject != clientID {
		return nil, refuse(ErrSubject, "iss and sub must both be the client_id")
	}
	if err := v.checkAudience(c.Audience); err != nil {
		return nil, err
	}
	if err := v.checkTimes(&c, now); err != nil {
		return nil, err
	}
	switch {
	case c.ID == "":
		return nil, refuse(ErrJTI, "the assertion has no jti")
	case len(c.ID) > maxJTIBytes:
		return nil, refuse(ErrJTI, fmt.Sprintf("the assertion's jti is longer than %d bytes", maxJTIBytes))
	}
	return &c, nil
}

// checkAudience applies Verifier.Strict's rule to aud.
func (v *Verifier) checkAudience(raw json.RawMessage) error {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if v.acceptsAudience(one) {
			return nil
		}
		return refuse(ErrAudience, v.audienceAdvice())
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || raw == nil {
		return refuse(ErrAudience, "the assertion has no aud, or one that is neither a string nor an array of strings")
	}
	if v.Strict {
		return refuse(ErrAudience, "aud must be this server's issuer as a single string, not an array")
	}
	if len(many) != 1 || !v.acceptsAudience(many[0]) {
		return refuse(ErrAudience, "an aud array must have exactly one member: "+v.audienceAdvice())
	}
	return nil
}

func (v *Verifier) acceptsAudience(aud string) bool {
	return aud != "" && (aud == v.Issuer || !v.Strict && slices.Contains(v.EndpointURLs, aud))
}

func (v *Verifier) audienceAdvice() string {
	if v.Strict || len(v.EndpointURLs) == 0 {
		return "aud must be this server's issuer identifier"
	}
	return "aud must be this server's issuer identifier or the URL of the endpoint"
}

// checkTimes checks exp, nbf and iat against now with the skew.
func (v *Verifier) checkTimes(c *claims, now time.Time) error {
	skew, life := v.skew(), v.maxLifetime()
	switch {
	case c.Expiry == nil:
		return refuse(ErrExpiry, "the assertion has no exp")
	case now.After(c.Expiry.Time().Add(skew)):
		return refuse(ErrExpiry, "the assertion has expired")
	case c.Expiry.Time().After(now.Add(life + skew)):
		return refuse(ErrExpiry, fmt.Sprintf("the assertion's exp is more than %v ahead", life))
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(skew)):
		return refuse(ErrExpiry, "the assertion is not valid yet (nbf)")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(skew)):
		return refuse(ErrExpiry, "the assertion was issued in the future (iat)")
	case c.IssuedAt != nil && c.IssuedAt.Time().Before(now.Add(-life-skew)):
		return refuse(ErrExpiry, fmt.Sprintf("the assertion was issued more than %v ago (iat)", life))
	}
	return nil
}

// replayKey is the ReplayCache key of a client assertion's jti.
func replayKey(clientID, jti string) string { return ReplayKey("jwt-jti:", clientID, jti) }

// ReplayKey is the replay-cache key of a jti of owner (a client, a
// trusted issuer): prefix and a digest of owner and jti together, so one
// owner's jti never blocks another's and the key has a fixed, printable
// size whatever the jti holds.
func ReplayKey(prefix, owner, jti string) string {
	h := sha256.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(owner)))
	h.Write(n[:])
	h.Write([]byte(owner))
	h.Write([]byte(jti))
	return prefix + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

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

func (v *Verifier) maxLifetime() time.Duration {
	if v.MaxLifetime <= 0 {
		return DefaultMaxLifetime
	}
	return v.MaxLifetime
}

// typAccepted reports whether a typ header is one of typs, with or
// without the application/ prefix RFC 7515 §4.1.9 lets senders omit
// (S213 for client assertions: JWT or client-authentication+jwt).
func typAccepted(typ string, typs []string) bool {
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	for _, want := range typs {
		if t == strings.ToLower(want) {
			return true
		}
	}
	return false
}
