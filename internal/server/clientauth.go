package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// ClientAuthenticator verifies one client authentication method (RFC 6749
// §2.3; the token_endpoint_auth_method of RFC 7591 §2). The server picks
// the authenticator a client's registration names, so a new method is one
// new ClientAuthenticator in Config.ClientAuthenticators.
type ClientAuthenticator interface {
	// Method is the token_endpoint_auth_method this authenticator verifies.
	Method() protocol.AuthMethod
	// Authenticate reports whether creds prove that the request comes from
	// client c, which is registered with Method. It is called only with
	// credentials presented as Method presents them: a secret for the
	// secret methods, a client assertion for any other method except none.
	// false without an error is a failed attempt, counted against the
	// guessing limits; an error is the server's own failure.
	Authenticate(ctx context.Context, c store.Client, creds protocol.Credentials) (bool, error)
}

// authenticators are the built-in methods, then extra ones (which may
// replace a built-in of the same name).
func (s *Server) authenticators(extra []ClientAuthenticator) map[protocol.AuthMethod]ClientAuthenticator {
	m := map[protocol.AuthMethod]ClientAuthenticator{
		protocol.AuthBasic:         secretAuth{s, protocol.AuthBasic},
		protocol.AuthPost:          secretAuth{s, protocol.AuthPost},
		protocol.AuthNone:          noneAuth{},
		protocol.AuthPrivateKeyJWT: newKeyJWTAuth(s, s.cfg.ClientAssertions, s.st, s.cfg.JWKSFetcher),
	}
	for _, a := range extra {
		m[a.Method()] = a
	}
	return m
}

// AuthMethods are the client authentication methods the server has built
// in, for configuration validation.
func AuthMethods() []protocol.AuthMethod {
	return []protocol.AuthMethod{protocol.AuthBasic, protocol.AuthPost, protocol.AuthNone, protocol.AuthPrivateKeyJWT}
}

// authMethodNames are the methods an endpoint advertises, secret methods
// first; withNone adds none (public clients).
func (s *Server) authMethodNames(withNone bool) []string {
	var out []string
	for _, m := range []protocol.AuthMethod{protocol.AuthBasic, protocol.AuthPost} {
		out = append(out, string(m))
	}
	var extra []string
	for m := range s.auth {
		if m != protocol.AuthBasic && m != protocol.AuthPost && m != protocol.AuthNone {
			extra = append(extra, string(m))
		}
	}
	slices.Sort(extra)
	out = append(out, extra...)
	if withNone {
		out = append(out, string(protocol.AuthNone))
	}
	return out
}

// registeredMethods are the methods client c may authenticate with: the
// one it registered, or else the default for its kind.
func registeredMethods(c store.Client) []protocol.AuthMethod {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return []protocol.AuthMethod{protocol.AuthMethod(c.TokenEndpointAuthMethod)}
	case c.Public:
		return []protocol.AuthMethod{protocol.AuthNone}
	}
	return []protocol.AuthMethod{protocol.AuthBasic, protocol.AuthPost}
}

// authenticateClient identifies the client of a request to the token,
// introspection or revocation endpoint. The credentials must come the way
// the client registered (S002), and that method's authenticator checks
// them; public clients name themselves with client_id (S014). Failures are
// counted per client and per IP, and a client or IP past its limit waits
// (S005).
func (s *Server) authenticateClient(r *http.Request, form protocol.Form) (store.Client, protocol.AuthMethod, error) {
	ctx := r.Context()
	creds, perr := protocol.ParseCredentials(r, form)
	if perr != nil {
		return store.Client{}, "", perr
	}
	if creds.ClientID == "" && creds.HasAssertion() {
		// client_id is optional beside an assertion: its subject names the
		// client, and Verify checks it against the registration.
		sub, ok := clientjwt.UnsafeSubject(creds.Assertion)
		if !ok {
			return store.Client{}, "", protocol.InvalidClient("the client assertion names no client")
		}
		creds.ClientID = sub
	}
	id := creds.ClientID
	info(ctx).clientID = id
	keys := []limitKey{{"secret:client:" + id, s.cfg.Limits.PerClient}, {"secret:ip:" + s.clientIP(r).String(), s.cfg.Limits.PerIP}}
	now := s.now()
	if wait, _, _ := s.guard.wait(ctx, s.guard.local, keys, now); wait > 0 {
		e := protocol.InvalidClient("too many failed attempts; retry later")
		e.RetryAfter = wait
		return store.Client{}, "", e
	}
	failed := func() (store.Client, protocol.AuthMethod, error) {
		_ = s.countFailure(ctx, r, s.guard.local, keys, now, id)
		return store.Client{}, "", protocol.InvalidClient("client authentication failed")
	}
	c, err := s.st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return failed()
	}
	if err != nil {
		return store.Client{}, "", fmt.Errorf("authenticate client: %w", err)
	}
	method, ok, err := s.verifyClient(ctx, c, creds)
	if err == nil && !ok && method != "" {
		// A cached record may predate a change made elsewhere (a rotated
		// secret): a failure reads the client again before it counts.
		if fr, isFresh := s.st.(freshReader); isFresh {
			cached := c
			if c, err = fr.GetClientFresh(ctx, id); err == nil && changed(cached, c) {
				method, ok, err = s.verifyClient(ctx, c, creds)
			}
		}
	}
	switch {
	case err != nil: // the error path only: AsError's target escapes to the heap
		if pe := protocol.AsError(err); pe != nil {
			return store.Client{}, "", pe
		}
		if errors.Is(err, store.ErrNotFound) {
			return failed()
		}
		return store.Client{}, "", fmt.Errorf("authenticate client %s: %w", id, err)
	case !ok:
		s.log.WarnContext(ctx, "client authentication failed", "client_id", c.ID, "ip", s.clientIP(r).String())
		return failed()
	}
	return c, method, nil
}

// verifyClient checks creds against c with the authenticator of the method
// they were presented by, which must be one c registered. A presentation
// c did not register is a *protocol.Error (not counted as a guess);
// method is "" then.
func (s *Server) verifyClient(ctx context.Context, c store.Client, creds protocol.Credentials) (protocol.AuthMethod, bool, error) {
	methods := registeredMethods(c)
	method := creds.Presented
	if creds.HasAssertion() {
		method = methods[0] // an assertion method is registered alone
		if len(methods) != 1 || method == protocol.AuthNone || method.UsesSecret() {
			return "", false, protocol.InvalidClient("the client does not authenticate with a client assertion")
		}
	}
	if !slices.Contains(methods, method) {
		switch {
		case slices.Contains(methods, protocol.AuthNone):
			return "", false, protocol.InvalidClient("a public client has no secret")
		case method == protocol.AuthNone:
			return "", false, protocol.InvalidClient("client authentication is required")
		}
		return "", false, protocol.InvalidClient(fmt.Sprintf("the client authenticates with %s", methods[0]))
	}
	a, ok := s.auth[method]
	if !ok {
		s.log.ErrorContext(ctx, "client registered with an authentication method the server lacks", "client_id", c.ID, "method", string(method))
		return "", false, protocol.InvalidClient("client authentication failed")
	}
	ok, err := a.Authenticate(ctx, c, creds)
	return method, ok, err
}

// changed reports whether what authenticates c differs between two reads.
func changed(old, cur store.Client) bool {
	return !old.UpdatedAt.Equal(cur.UpdatedAt) || subtle.ConstantTimeCompare([]byte(old.SecretHash), []byte(cur.SecretHash)) == 0 ||
		old.TokenEndpointAuthMethod != cur.TokenEndpointAuthMethod || old.Public != cur.Public ||
		old.JWKS != cur.JWKS || old.JWKSURI != cur.JWKSURI
}

// noneAuth is the none method: a public client names itself, and nothing
// more can be checked (RFC 6749 §2.1, S014).
type noneAuth struct{}

func (noneAuth) Method() protocol.AuthMethod { return protocol.AuthNone }

func (noneAuth) Authenticate(context.Context, store.Client, protocol.Credentials) (bool, error) {
	return true, nil
}

// secretAuth is client_secret_basic or client_secret_post: the presented
// secret against the client's stored hash.
type secretAuth struct {
	s      *Server
	method protocol.AuthMethod
}

func (a secretAuth) Method() protocol.AuthMethod { return a.method }

func (a secretAuth) Authenticate(ctx context.Context, c store.Client, creds protocol.Credentials) (bool, error) {
	return a.s.checkSecret(ctx, c, creds.Secret)
}

// checkSecret compares secret with the client's stored hash in constant
// time. Generated secrets are SHA-256 digests; configured ones are
// argon2id, and a successful check is remembered briefly, keyed by a
// digest of what was presented, so the endpoint stays fast.
func (s *Server) checkSecret(ctx context.Context, c store.Client, secret string) (bool, error) {
	if secret == "" || c.SecretHash == "" {
		return false, nil
	}
	if token.IsSecretDigest(c.SecretHash) {
		return token.CheckSecretDigest(secret, c.SecretHash), nil
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

// requireConfidential is for endpoints where a public client's bare
// client_id is not enough (introspection, RFC 7662 §2.1).
func requireConfidential(c store.Client, method protocol.AuthMethod) error {
	if c.Public || method == protocol.AuthNone {
		return protocol.InvalidClient("this endpoint needs client authentication")
	}
	return nil
}
