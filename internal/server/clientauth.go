package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// Client authentication methods (RFC 6749 §2.3.1, OpenID Connect Core §9).
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// SecretHashPrefix marks the SHA-256 digest of a secret Latchkey generated.
const SecretHashPrefix = "sha256:"

// HashGeneratedSecret is the stored form of a secret Latchkey generated:
// 32 random bytes need no slow hash, so checking one costs microseconds.
func HashGeneratedSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return SecretHashPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// authenticateClient identifies the client of a request to the token,
// introspection or revocation endpoint. Confidential clients prove their
// secret by exactly one method (S002); public clients name themselves with
// client_id (S014). Failures are counted per client and per IP, and a
// client or IP past its limit waits (S005).
func (s *Server) authenticateClient(r *http.Request, form protocol.Form) (store.Client, string, error) {
	ctx := r.Context()
	id, secret, method, perr := credentials(r, form)
	if perr != nil {
		return store.Client{}, "", perr
	}
	info(ctx).clientID = id
	keys := []limitKey{{"secret:client:" + id, s.cfg.Limits.PerClient}, {"secret:ip:" + s.clientIP(r).String(), s.cfg.Limits.PerIP}}
	now := s.now()
	if wait, _, _ := s.guard.wait(ctx, s.guard.local, keys, now); wait > 0 {
		e := invalidClient("too many failed attempts; retry later")
		e.RetryAfter = wait
		return store.Client{}, "", e
	}
	c, err := s.cachedClient(ctx, id, now, false)
	if errors.Is(err, store.ErrNotFound) {
		_ = s.guard.fail(ctx, s.guard.local, keys, now)
		return store.Client{}, "", invalidClient("client authentication failed")
	}
	if err != nil {
		return store.Client{}, "", fmt.Errorf("authenticate client: %w", err)
	}
	switch {
	case c.Public && secret != "":
		return store.Client{}, "", invalidClient("a public client has no secret")
	case c.Public:
		return c, authNone, nil
	case method == authNone:
		return store.Client{}, "", invalidClient("client authentication is required")
	}
	ok, err := s.checkSecret(ctx, c, secret)
	if err == nil && !ok && s.clients.ttl > 0 {
		// The cached record may predate a secret rotation made elsewhere:
		// a mismatch reads the client again before it counts as a failure.
		cached := c
		if c, err = s.cachedClient(ctx, id, now, true); err == nil && !c.Public &&
			subtle.ConstantTimeCompare([]byte(c.SecretHash), []byte(cached.SecretHash)) == 0 {
			ok, err = s.checkSecret(ctx, c, secret)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		_ = s.guard.fail(ctx, s.guard.local, keys, now)
		return store.Client{}, "", invalidClient("client authentication failed")
	}
	if err != nil {
		return store.Client{}, "", fmt.Errorf("authenticate client %s: %w", id, err)
	}
	if !ok {
		_ = s.guard.fail(ctx, s.guard.local, keys, now)
		s.log.WarnContext(ctx, "client authentication failed", "client_id", c.ID, "ip", s.clientIP(r).String())
		return store.Client{}, "", invalidClient("client authentication failed")
	}
	return c, method, nil
}

// credentials extracts the client id and secret and the method used,
// refusing two methods at once (S002, S153) and secrets in the URL (S004).
func credentials(r *http.Request, form protocol.Form) (id, secret, method string, err *protocol.Error) {
	if r.URL.Query().Has("client_secret") {
		return "", "", "", protocol.Errorf(protocol.ErrInvalidRequest, "client credentials must not be sent in the URL")
	}
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", "", "", protocol.Errorf(protocol.ErrInvalidRequest, "more than one Authorization header")
	}
	if len(auth) == 1 {
		bid, bsecret, berr := protocol.ParseBasic(auth[0])
		switch {
		case errors.Is(berr, protocol.ErrNoBasic):
			// Another scheme (Bearer, DPoP) is not client authentication.
		case berr != nil:
			return "", "", "", invalidClient("malformed Basic credentials")
		case form.Has("client_secret"):
			return "", "", "", protocol.Errorf(protocol.ErrInvalidRequest, "use one client authentication method, not two")
		case form.Has("client_id") && form.Get("client_id") != bid:
			return "", "", "", protocol.Errorf(protocol.ErrInvalidRequest, "client_id differs from the Basic credentials")
		default:
			return bid, bsecret, authBasic, nil
		}
	}
	id = form.Get("client_id")
	if id == "" {
		return "", "", "", invalidClient("client authentication is required")
	}
	if form.Has("client_secret") {
		return id, form.Get("client_secret"), authPost, nil
	}
	return id, "", authNone, nil
}

// checkSecret compares secret with the client's stored hash in constant
// time. Generated secrets are SHA-256 digests; configured ones are
// argon2id, and a successful check is remembered briefly, keyed by a
// digest of what was presented, so the endpoint stays fast.
func (s *Server) checkSecret(ctx context.Context, c store.Client, secret string) (bool, error) {
	if secret == "" || c.SecretHash == "" {
		return false, nil
	}
	if strings.HasPrefix(c.SecretHash, SecretHashPrefix) {
		got := HashGeneratedSecret(secret)
		return subtle.ConstantTimeCompare([]byte(got), []byte(c.SecretHash)) == 1, nil
	}
	key := cacheKey(c.ID, secret, c.SecretHash)
	now := s.now()
	if s.secrets.has(key, now) {
		return true, nil
	}
	ok, err := s.hashes.check(ctx, secret, c.SecretHash)
	if err != nil {
		return false, err
	}
	if ok {
		s.secrets.add(key, now)
	}
	return ok, nil
}

func cacheKey(id, secret, hash string) [32]byte {
	h := sha256.New()
	for _, part := range []string{id, secret, hash} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// secretCache remembers successful argon2id checks for a short while. It
// holds digests only, never a secret.
type secretCache struct {
	mu   sync.Mutex
	ttl  time.Duration
	max  int
	seen map[[32]byte]time.Time
}

func newSecretCache(max int, ttl time.Duration) *secretCache {
	return &secretCache{ttl: ttl, max: max, seen: make(map[[32]byte]time.Time)}
}

func (c *secretCache) has(k [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.seen[k]
	return ok && now.Sub(at) < c.ttl
}

func (c *secretCache) add(k [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= c.max {
		for old := range c.seen {
			delete(c.seen, old)
			if len(c.seen) < c.max*9/10 {
				break
			}
		}
	}
	c.seen[k] = now
}

// requireConfidential is for endpoints where a public client's bare client_id is
// not enough (introspection, RFC 7662 §2.1).
func requireConfidential(c store.Client, method string) error {
	if c.Public || method == authNone {
		return invalidClient("this endpoint needs client authentication")
	}
	return nil
}

// invalidClient is the one invalid_client answer: 401 with a Basic
// challenge, whichever method the client tried. RFC 6749 §5.2 demands the
// challenge when Basic was used (S033), and RFC 9110 §15.5.2 on every 401.
func invalidClient(desc string) *protocol.Error {
	return &protocol.Error{Code: protocol.ErrInvalidClient, Description: desc, Challenge: `Basic realm="latchkey"`}
}
