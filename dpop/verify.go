package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults and limits of Verifier.
const (
	// DefaultWindow is how far a proof's iat may lie from now, either way,
	// when Verifier.Window is zero (S174).
	DefaultWindow = 60 * time.Second
	// DefaultMaxSize is the longest proof looked at when Verifier.MaxSize
	// is zero.
	DefaultMaxSize = 8 << 10
	// MaxJTILength is the longest jti accepted.
	MaxJTILength = 256
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
)

// DefaultAlgorithms returns the algorithms a Verifier accepts when its
// Algs is empty: ES256, EdDSA and PS256.
func DefaultAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256}
}

// Verifier checks DPoP proofs (RFC 9449 §4.3). Its fields are read on the
// first call to Verify and must not change afterwards; a Verifier must not
// be copied after first use. It is safe for concurrent use.
type Verifier struct {
	// Algs are the JWS algorithms accepted. Empty means
	// DefaultAlgorithms. Only asymmetric algorithms count (ES256, ES384,
	// ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA): none and the
	// HMAC algorithms are never accepted, even when listed (S176).
	Algs []jose.SignatureAlgorithm

	// Window is how far a proof's iat may lie before or after the time of
	// the check (S174). Zero means DefaultWindow.
	Window time.Duration

	// Replay remembers accepted proofs so that each is used once. Nil
	// means a NewMemoryReplayCache of DefaultReplayCacheSize, which only
	// this process consults; servers running as several instances should
	// share one.
	Replay ReplayCache

	// MaxSize is the longest proof accepted, in bytes. Zero means
	// DefaultMaxSize.
	MaxSize int

	once   sync.Once
	algs   []jose.SignatureAlgorithm
	replay ReplayCache
}

// Check is the request a proof must have been made for.
type Check struct {
	// Method is the request's HTTP method, compared exactly with htm.
	Method string
	// URL is the endpoint's URL as its clients know it: the configured
	// external URL, never one built from the Host header (S162, A21). It
	// and htu are compared after NormalizeURL, so its query is ignored.
	URL string
	// AccessToken, when set, is the access token presented with the proof;
	// the proof must then carry its ath (RFC 9449 §4.3 item 12).
	AccessToken string
	// Nonce, when set, must accept the proof's nonce claim; a proof
	// without one, or with one it refuses, fails with CodeUseNonce (S175).
	Nonce func(nonce string) bool
	// Now is the time of the check; zero means time.Now().
	Now time.Time
}

// Proof is what a verified proof says.
type Proof struct {
	// JTI, HTM, HTU (normalized), Nonce and ATH are the proof's claims.
	JTI, HTM, HTU, Nonce, ATH string
	// IssuedAt is iat.
	IssuedAt time.Time
	// JKT is the RFC 7638 thumbprint of Key, to compare with a token's
	// cnf.jkt (RFC 9449 §6).
	JKT string
	// Key is the public key the proof was signed with.
	Key jose.JSONWebKey
	// Alg is the proof's JWS algorithm.
	Alg string
}

// proofClaims are the claims of RFC 9449 §4.2.
type proofClaims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   string   `json:"ath"`
	Nonce string   `json:"nonce"`
}

func (v *Verifier) init() {
	v.once.Do(func() {
		algs := v.Algs
		if len(algs) == 0 {
			algs = DefaultAlgorithms()
		}
		for _, a := range algs {
			if asymmetric(a) && !slices.Contains(v.algs, a) {
				v.algs = append(v.algs, a)
			}
		}
		v.replay = v.Replay
		if v.replay == nil {
			v.replay = NewMemoryReplayCache(DefaultReplayCacheSize)
		}
	})
}

// Algorithms returns the algorithms v accepts, for a challenge's algs
// parameter or the dpop_signing_alg_values_supported metadata (RFC 9449
// §5.1, §7.1).
func (v *Verifier) Algorithms() []jose.SignatureAlgorithm {
	v.init()
	return slices.Clone(v.algs)
}

// Verify checks the proof in headers, every value of the request's DPoP
// header, against c (RFC 9449 §4.3). A refused proof gives an *Error; any
// other error means the replay cache failed and the proof could not be
// checked.
func (v *Verifier) Verify(ctx context.Context, headers []string, c Check) (Proof, error) {
	v.init()
	// 1. Exactly one proof, of bounded size.
	switch {
	case len(headers) == 0:
		return Proof{}, invalid("a DPoP proof is required")
	case len(headers) > 1:
		return Proof{}, invalid("the request has more than one DPoP header")
	}
	raw := headers[0]
	maxSize := v.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(raw) > maxSize {
		return Proof{}, invalid("the DPoP proof is too long")
	}
	// 2. The JOSE header, then the signature with the key it embeds.
	p, payload, e := v.verifySignature(raw)
	if e != nil {
		return Proof{}, e
	}
	// 3. The claims, and the request they must describe.
	if e := checkClaims(&p, payload, c, v.window()); e != nil {
		return Proof{}, e
	}
	// 4. Once only, per URL (S174).
	fresh, err := v.replay.UseOnce(ctx, replayKey(p.HTU, p.JTI), p.IssuedAt.Add(v.window()))
	if err != nil {
		return Proof{}, fmt.Errorf("dpop: replay cache: %w", err)
	}
	if !fresh {
		return Proof{}, invalid("the DPoP proof has been used before")
	}
	return p, nil
}

func (v *Verifier) window() time.Duration {
	if v.Window <= 0 {
		return DefaultWindow
	}
	return v.Window
}

// verifySignature checks the header (S160, S176, A13, A14) and the
// signature, and returns the proof with its key and the payload.
func (v *Verifier) verifySignature(raw string) (Proof, []byte, *Error) {
	if strings.Count(raw, ".") != 2 {
		return Proof{}, nil, invalid("the DPoP proof is not a compact JWS")
	}
	if e := v.checkHeader(raw[:strings.IndexByte(raw, '.')]); e != nil {
		return Proof{}, nil, e
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		return Proof{}, nil, invalid("the DPoP proof is not a well-formed JWS")
	}
	if len(jws.Signatures) != 1 {
		return Proof{}, nil, invalid("the DPoP proof must carry exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		return Proof{}, nil, invalid("the DPoP proof's jwk must be a public key")
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)
	if !keySuits(h.JSONWebKey.Key, alg) {
		return Proof{}, nil, invalid("the DPoP proof's algorithm does not suit its key")
	}
	payload, err := jws.Verify(h.JSONWebKey.Key)
	if err != nil {
		return Proof{}, nil, invalid("the DPoP proof's signature is invalid")
	}
	jkt, err := Thumbprint(*h.JSONWebKey)
	if err != nil {
		return Proof{}, nil, invalid("the DPoP proof's key has no thumbprint")
	}
	return Proof{Key: *h.JSONWebKey, JKT: jkt, Alg: h.Algorithm}, payload, nil
}

// checkHeader reads the protected header itself, so that what go-jose
// would quietly drop is seen too: typ dpop+jwt, an allowed alg, a jwk
// with public members only, no other way to name a key (jku, x5u, x5c),
// and no critical extension.
func (v *Verifier) checkHeader(seg string) *Error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return invalid("the DPoP proof's header is not base64url")
	}
	var h struct {
		Typ  string                     `json:"typ"`
		Alg  string                     `json:"alg"`
		JWK  map[string]json.RawMessage `json:"jwk"`
		Crit json.RawMessage            `json:"crit"`
		JKU  json.RawMessage            `json:"jku"`
		X5U  json.RawMessage            `json:"x5u"`
		X5C  json.RawMessage            `json:"x5c"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return invalid("the DPoP proof's header is not a JSON object")
	}
	switch {
	case !strings.EqualFold(h.Typ, "dpop+jwt") && !strings.EqualFold(h.Typ, "application/dpop+jwt"):
		return invalid("the DPoP proof is not typed dpop+jwt")
	case !slices.Contains(v.algs, jose.SignatureAlgorithm(h.Alg)):
		return invalid("the DPoP proof's algorithm is not accepted")
	case h.Crit != nil:
		return invalid("the DPoP proof uses a critical extension")
	case h.JKU != nil || h.X5U != nil || h.X5C != nil:
		return invalid("the DPoP proof must carry its key in jwk only")
	case h.JWK == nil:
		return invalid("the DPoP proof has no jwk")
	}
	for m := range h.JWK {
		if isPrivateMember(m) {
			return invalid("the DPoP proof's jwk must be a public key")
		}
	}
	return nil
}

// isPrivateMember reports whether m is a JWK member of a private or
// symmetric key (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
func isPrivateMember(m string) bool {
	switch m {
	case "d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv":
		return true
	}
	return false
}

// checkClaims reads the claims into p and checks them against c.
func checkClaims(p *Proof, payload []byte, c Check, window time.Duration) *Error {
	var cl proofClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return invalid("the DPoP proof's claims are malformed")
	}
	if cl.JTI == "" || cl.HTM == "" || cl.HTU == "" || cl.IAT == nil {
		return invalid("the DPoP proof lacks a required claim (jti, htm, htu, iat)")
	}
	if len(cl.JTI) > MaxJTILength {
		return invalid("the DPoP proof's jti is too long")
	}
	if cl.HTM != c.Method {
		return invalid("the DPoP proof was made for another method")
	}
	htu, err := NormalizeURL(cl.HTU)
	if err != nil {
		return invalid("the DPoP proof's htu is not an http or https URL")
	}
	want, err := NormalizeURL(c.URL)
	if err != nil || htu != want {
		return invalid("the DPoP proof was made for another URL")
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	f := *cl.IAT
	if f <= 0 || f > math.MaxInt32*4 {
		return invalid("the DPoP proof's iat is not a time")
	}
	sec, frac := math.Modf(f)
	iat := time.Unix(int64(sec), int64(frac*1e9))
	if iat.Before(now.Add(-window)) || iat.After(now.Add(window)) {
		return invalid("the DPoP proof was not made just now")
	}
	if c.AccessToken != "" && cl.ATH != AccessTokenHash(c.AccessToken) {
		return invalid("the DPoP proof's ath does not match the access token")
	}
	if c.Nonce != nil && (cl.Nonce == "" || !c.Nonce(cl.Nonce)) {
		return &Error{Code: CodeUseNonce, Description: "the DPoP proof must carry the nonce the server gives in DPoP-Nonce"}
	}
	p.JTI, p.HTM, p.HTU, p.Nonce, p.ATH, p.IssuedAt = cl.JTI, cl.HTM, htu, cl.Nonce, cl.ATH, iat
	return nil
}

// asymmetric reports whether a is an algorithm this package accepts.
func asymmetric(a jose.SignatureAlgorithm) bool {
	switch a {
	case jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512, jose.EdDSA:
		return true
	}
	return false
}

// keySuits reports whether key can sign with alg: the algorithm comes from
// the key's type, never from the header alone (A13).
func keySuits(key any, alg jose.SignatureAlgorithm) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return k.Curve == elliptic.P256()
		case jose.ES384:
			return k.Curve == elliptic.P384()
		case jose.ES512:
			return k.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		switch alg {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return k.N.BitLen() >= minRSABits
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}
