package clientjwt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/latchkey/latchkey/internal/safefetch"
)

// Defaults of KeysConfig.
const (
	DefaultKeysTTL    = 5 * time.Minute
	DefaultMinRefetch = 30 * time.Second
	DefaultMaxStale   = time.Hour
	DefaultMaxSets    = 1000
)

// KeysConfig configures Keys. Zero fields take the defaults.
type KeysConfig struct {
	// Fetch fetches jwks_uri documents; nil refuses clients that
	// register a jwks_uri (ErrKeysUnavailable). Its MaxBytes caps a set.
	Fetch *safefetch.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TTL is how long a fetched set is used before it is fetched again.
	TTL time.Duration
	// MinRefetch is the least time between two fetches of one jwks_uri,
	// whatever triggers them (an unknown kid, an expired set, a failed
	// fetch), so assertions cannot make us hammer the client's server.
	MinRefetch time.Duration
	// MaxStale is how long past its TTL a set is still used while
	// fetching it again fails.
	MaxStale time.Duration
	// MaxSets bounds the sets held: jwks_uri sets and parsed inline sets,
	// each. The least recently fetched goes first.
	MaxSets int
}

// Keys finds the public keys of a client's registration: an inline JWK
// Set (the jwks metadata of RFC 7591 §2) or one at its jwks_uri. Fetched
// sets are cached per URI for TTL and fetched again early, once per
// MinRefetch at most, when an assertion names a kid the cached set does
// not have (key rotation). Parsed inline sets are cached by digest. Keys
// is safe for concurrent use.
type Keys struct {
	cfg   KeysConfig
	group singleflight.Group

	mu     sync.Mutex
	remote map[string]*remoteSet
	inline map[[sha256.Size]byte]*keySet
}

// remoteSet is what is known of one jwks_uri.
type remoteSet struct {
	set       *keySet   // nil until a fetch succeeds
	fetched   time.Time // when set was fetched
	attempted time.Time // when the latest fetch started
	inflight  bool      // a fetch is running
	err       error     // why the latest fetch failed; nil after a success
}

// NewKeys returns Keys for cfg.
func NewKeys(cfg KeysConfig) *Keys {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultKeysTTL
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = DefaultMinRefetch
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = DefaultMaxStale
	}
	if cfg.MaxSets <= 0 {
		cfg.MaxSets = DefaultMaxSets
	}
	return &Keys{cfg: cfg, remote: map[string]*remoteSet{}, inline: map[[sha256.Size]byte]*keySet{}}
}

// Lookup returns the keys of the client's registration that may verify
// a JWS signed with alg and naming kid ("" for none): exactly one of
// jwks (a JWK Set as JSON) and jwksURI must be set. Without a kid, at
// most a few keys of the right type are returned. The error is an *Error:
// ErrKeys when the registration holds no usable key for the assertion,
// ErrKeysUnavailable when the jwks_uri cannot be fetched.
func (k *Keys) Lookup(ctx context.Context, jwks, jwksURI, kid string, alg jose.SignatureAlgorithm) ([]jose.JSONWebKey, error) {
	var found []jose.JSONWebKey
	var named int
	switch {
	case jwks != "" && jwksURI != "":
		return nil, refuse(ErrKeys, "the client registers both jwks and jwks_uri")
	case jwks != "":
		set, err := k.inlineSet(jwks)
		if err != nil {
			return nil, refuseBecause(ErrKeys, "the client's registered jwks is not usable", err)
		}
		found, named = set.match(kid, alg)
	case jwksURI != "":
		var err error
		if found, named, err = k.remoteKeys(ctx, jwksURI, kid, alg); err != nil {
			return nil, err
		}
	default:
		return nil, refuse(ErrKeys, "the client registers no keys")
	}
	switch {
	case len(found) == 0 && named > 0:
		return nil, refuse(ErrAlgorithm, "the assertion's alg does not suit the registered key its kid names")
	case len(found) == 0:
		return nil, refuse(ErrKeys, "no registered key of the client suits the assertion's kid and alg")
	case len(found) > maxCandidates:
		return nil, refuse(ErrKeys, "the client has too many keys of this type: the assertion must name its kid")
	}
	return found, nil
}

// inlineSet parses jwks, or returns the set parsed before.
func (k *Keys) inlineSet(jwks string) (*keySet, error) {
	sum := sha256.Sum256([]byte(jwks))
	k.mu.Lock()
	set, ok := k.inline[sum]
	k.mu.Unlock()
	if ok {
		return set, nil
	}
	set, err := parseKeySet([]byte(jwks))
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.inline) >= k.cfg.MaxSets {
		for d := range k.inline { // any one: registrations rarely change
			delete(k.inline, d)
			break
		}
	}
	k.inline[sum] = set
	k.mu.Unlock()
	return set, nil
}

// remoteKeys returns the keys of the set at uri that match kid and alg
// (as keySet.match), fetching the set when it is missing or older than
// TTL, or when it has no key of the kid (or, without a kid, none of the
// type) and was fetched more than MinRefetch ago: the client rotated.
func (k *Keys) remoteKeys(ctx context.Context, uri, kid string, alg jose.SignatureAlgorithm) ([]jose.JSONWebKey, int, error) {
	if k.cfg.Fetch == nil {
		return nil, 0, refuse(ErrKeysUnavailable, "this server does not fetch jwks_uri")
	}
	set, err := k.remoteSet(ctx, uri, false)
	if err != nil {
		return nil, 0, err
	}
	if found, named := set.match(kid, alg); len(found) > 0 || named > 0 {
		return found, named, nil
	}
	if set, err = k.remoteSet(ctx, uri, true); err != nil {
		return nil, 0, err
	}
	found, named := set.match(kid, alg)
	return found, named, nil
}

// remoteSet returns the set at uri: the cached one while younger than
// TTL (unless force), else the outcome of a new fetch, or of the last
// one if it started less than MinRefetch ago. Concurrent callers share
// one fetch.
func (k *Keys) remoteSet(ctx context.Context, uri string, force bool) (*keySet, error) {
	now := k.cfg.Now()
	k.mu.Lock()
	if e := k.remote[uri]; e != nil {
		fresh := e.set != nil && now.Sub(e.fetched) < k.cfg.TTL
		if (fresh && !force) || (!e.inflight && now.Sub(e.attempted) < k.cfg.MinRefetch) {
			set, err := k.usable(e, now)
			k.mu.Unlock()
			return set, err
		}
	}
	k.mu.Unlock()

	ch := k.group.DoChan(uri, func() (any, error) {
		k.fetch(ctx, uri)
		return nil, nil
	})
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, refuseBecause(ErrKeysUnavailable, "the client's jwks_uri could not be fetched in time", ctx.Err())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.usable(k.remote[uri], k.cfg.Now())
}

// usable returns e's set if it may still be used at now. k.mu is held.
func (k *Keys) usable(e *remoteSet, now time.Time) (*keySet, error) {
	if e == nil {
		return nil, refuse(ErrKeysUnavailable, "the client's jwks_uri could not be fetched")
	}
	if e.set != nil && (e.err == nil || now.Sub(e.fetched) < k.cfg.TTL+k.cfg.MaxStale) {
		return e.set, nil
	}
	if _, bad := errors.AsType[*parseError](e.err); bad {
		return nil, refuseBecause(ErrKeys, "the document at the client's jwks_uri is not a usable JWK Set", e.err)
	}
	return nil, refuseBecause(ErrKeysUnavailable, "the client's jwks_uri could not be fetched", e.err)
}

// parseError marks a fetched document that is not a usable JWK Set.
type parseError struct{ err error }

func (p *parseError) Error() string { return "jwks_uri: " + p.err.Error() }
func (p *parseError) Unwrap() error { return p.err }

// fetch fetches uri and records the outcome, unless a fetch started
// less than MinRefetch ago (a caller that checked before that fetch
// ended). The fetch does not end when the caller that started it gives
// up: others may be waiting for it, and safefetch bounds it.
func (k *Keys) fetch(ctx context.Context, uri string) {
	started := k.cfg.Now()
	k.mu.Lock()
	e := k.remote[uri]
	if e != nil && started.Sub(e.attempted) < k.cfg.MinRefetch {
		k.mu.Unlock()
		return
	}
	if e == nil {
		k.evictLocked()
		e = &remoteSet{}
		k.remote[uri] = e
	}
	e.attempted, e.inflight = started, true
	k.mu.Unlock()

	body, _, err := k.cfg.Fetch.Get(context.WithoutCancel(ctx), uri)
	var set *keySet
	if err == nil {
		if set, err = parseKeySet(body); err != nil {
			err = &parseError{err}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e.inflight = false
	if err != nil {
		e.err = fmt.Errorf("fetching the JWK Set: %w", err)
		return
	}
	e.set, e.fetched, e.err = set, started, nil
}

// evictLocked makes room for one more jwks_uri by dropping the one
// attempted longest ago. k.mu is held.
func (k *Keys) evictLocked() {
	if len(k.remote) < k.cfg.MaxSets {
		return
	}
	var oldest string
	for uri, e := range k.remote {
		if oldest == "" || e.attempted.Before(k.remote[oldest].attempted) {
			oldest = uri
		}
	}
	delete(k.remote, oldest)
}
