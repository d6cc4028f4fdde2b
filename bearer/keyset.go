package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Limits on what is read from the authorization server.
const (
	maxDocumentBytes = 1 << 20
	maxKIDBytes      = 256
	fetchTimeout     = 10 * time.Second
)

// verificationKey is one usable key of the issuer's JWKS.
type verificationKey struct {
	// key is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	key any
	// alg is the JWK's alg member, "" when it has none.
	alg string
}

// accepts reports whether a JWS with algorithm alg may be verified with
// k: the algorithm must suit the key's type and curve, and match the
// JWK's own alg when it names one (RFC 8725 §3.1, §2.8).
func (k verificationKey) accepts(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return alg == curveAlg(pub.Curve)
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

func curveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return string(jose.ES256)
	case elliptic.P384():
		return string(jose.ES384)
	case elliptic.P521():
		return string(jose.ES512)
	}
	return ""
}

// keySet is an immutable snapshot of the issuer's JWKS. Readers load it
// without a lock; refreshes swap in a new one.
type keySet struct {
	byKID map[string]verificationKey
	// err is why the latest refresh failed; nil after a success.
	err error
}

// keyCache holds the current keySet and refreshes it: in the background,
// and when a token names an unknown kid, at most once per minInterval,
// with concurrent callers sharing one fetch.
type keyCache struct {
	url         string
	client      *http.Client
	log         *slog.Logger
	now         func() time.Time
	minInterval time.Duration

	set atomic.Pointer[keySet]

	mu        sync.Mutex
	inflight  chan struct{} // closed when the running fetch ends
	lastFetch time.Time
}

func newKeyCache(url string, cfg Config) *keyCache {
	kc := &keyCache{url: url, client: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now, minInterval: cfg.MinRefreshInterval}
	kc.set.Store(&keySet{byKID: map[string]verificationKey{}, err: errors.New("keys not fetched yet")})
	return kc
}

// lookup returns the key with kid. An unknown kid may trigger a refresh;
// if the kid is still unknown the token is refused, or, when the issuer
// could not be reached, reported unavailable.
func (kc *keyCache) lookup(ctx context.Context, kid string) (verificationKey, *Error) {
	if k, ok := kc.set.Load().byKID[kid]; ok {
		return k, nil
	}
	if kid == "" || len(kid) > maxKIDBytes {
		return verificationKey{}, tokenError(ErrSignature, "the token names no key of the issuer")
	}
	kc.refresh(ctx, true)
	set := kc.set.Load()
	if k, ok := set.byKID[kid]; ok {
		return k, nil
	}
	if set.err != nil {
		return verificationKey{}, unavailable("the issuer's keys could not be fetched", kc.minInterval)
	}
	return verificationKey{}, tokenError(ErrSignature, "the token names no key of the issuer")
}

// refresh fetches the key set, or waits for the fetch already running.
// An onDemand refresh is skipped when the last fetch started less than
// minInterval ago, so unknown kids cannot make us hammer the issuer.
func (kc *keyCache) refresh(ctx context.Context, onDemand bool) {
	kc.mu.Lock()
	if ch := kc.inflight; ch != nil {
		kc.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	now := kc.now()
	if onDemand && !kc.lastFetch.IsZero() && now.Sub(kc.lastFetch) < kc.minInterval {
		kc.mu.Unlock()
		return
	}
	kc.lastFetch = now
	ch := make(chan struct{})
	kc.inflight = ch
	kc.mu.Unlock()

	defer func() {
		kc.mu.Lock()
		kc.inflight = nil
		kc.mu.Unlock()
		close(ch)
	}()
	// The fetch outlives a caller that gives up: others may be waiting.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	byKID, err := kc.fetch(fctx)
	if err != nil {
		// Keep the keys we have: the issuer may only have blinked.
		kc.log.WarnContext(ctx, "bearer: cannot refresh the issuer's keys; keeping the old ones", "jwks_uri", kc.url, "err", err)
		kc.set.Store(&keySet{byKID: kc.set.Load().byKID, err: err})
		return
	}
	kc.set.Store(&keySet{byKID: byKID})
}

// run refreshes the key set every interval until ctx ends.
func (kc *keyCache) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			kc.refresh(ctx, false)
		}
	}
}

// fetch reads the JWKS (RFC 7517 §5) from the issuer's jwks_uri.
func (kc *keyCache) fetch(ctx context.Context) (map[string]verificationKey, error) {
	body, err := getJSON(ctx, kc.client, kc.url)
	if err != nil {
		return nil, err
	}
	byKID, skipped, err := parseJWKS(body)
	for _, reason := range skipped {
		kc.log.DebugContext(ctx, "bearer: skipped a key of the issuer's JWKS", "reason", reason)
	}
	return byKID, err
}

// parseJWKS keeps the keys that can verify signatures: public, asymmetric,
// for signing, with a kid. A key it cannot read is skipped, as is a kid
// that appears twice (which key would it be?). A set with no usable key
// is an error.
func parseJWKS(body []byte) (map[string]verificationKey, []string, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("bearer: JWKS: %w", err)
	}
	byKID := make(map[string]verificationKey, len(set.Keys))
	dup := map[string]bool{}
	var skipped []string
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if reason := unusable(jwk); reason != "" {
			skipped = append(skipped, reason)
			continue
		}
		if _, seen := byKID[jwk.KeyID]; seen || dup[jwk.KeyID] {
			dup[jwk.KeyID] = true
			delete(byKID, jwk.KeyID)
			skipped = append(skipped, "duplicate kid")
			continue
		}
		byKID[jwk.KeyID] = verificationKey{key: jwk.Key, alg: jwk.Algorithm}
	}
	if len(byKID) == 0 {
		return nil, skipped, errors.New("bearer: JWKS has no usable signing key")
	}
	return byKID, skipped, nil
}

// unusable says why jwk cannot verify our tokens, or "" if it can.
func unusable(jwk jose.JSONWebKey) string {
	switch {
	case jwk.KeyID == "" || len(jwk.KeyID) > maxKIDBytes:
		return "no kid, or a kid too long"
	case jwk.Use != "" && jwk.Use != "sig":
		return "not a signing key"
	case !jwk.IsPublic():
		return "not a public key"
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return "RSA key shorter than 2048 bits"
		}
	case *ecdsa.PublicKey:
		if curveAlg(pub.Curve) == "" {
			return "unsupported curve"
		}
	case ed25519.PublicKey:
	default:
		return "unsupported key type"
	}
	return ""
}

// getJSON GETs a JSON document of at most maxDocumentBytes; anything but
// 200 is an error.
func getJSON(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bearer: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bearer: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bearer: GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bearer: GET %s: %w", url, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("bearer: GET %s: larger than %d bytes", url, maxDocumentBytes)
	}
	return body, nil
}
