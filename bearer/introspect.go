package bearer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// introspectionCacheSize bounds the number of cached results.
	introspectionCacheSize = 10000
	// inactiveTTL is how long a refusal is remembered, so that a flood of
	// one bad token costs one call a few seconds.
	inactiveTTL = 5 * time.Second
	// defaultRetryAfter and maxRetryAfter bound the Retry-After we pass on
	// when the authorization server cannot answer.
	defaultRetryAfter = 5 * time.Second
	maxRetryAfter     = 5 * time.Minute
)

// introspector asks the authorization server about opaque tokens (RFC
// 7662) and caches its answers by the tokens' SHA-256.
type introspector struct {
	endpoint string
	auth     string // the Authorization header value
	ttl      time.Duration
	client   *http.Client
	log      *slog.Logger
	cache    *ttlCache[introResult]
	group    singleflight.Group
}

// introResult is one answer: claims, or the error to refuse the token with.
type introResult struct {
	claims *Claims
	err    *Error
}

func newIntrospector(endpoint string, cfg Config) *introspector {
	in := cfg.Introspection
	// RFC 6749 §2.3.1: the client id and secret are form-urlencoded before
	// they are joined for HTTP Basic (S003).
	basic := url.QueryEscape(in.ClientID) + ":" + url.QueryEscape(in.ClientSecret.Reveal())
	return &introspector{
		endpoint: endpoint,
		auth:     "Basic " + base64.StdEncoding.EncodeToString([]byte(basic)),
		ttl:      in.CacheTTL,
		client:   cfg.HTTPClient,
		log:      cfg.Logger,
		cache:    newTTLCache[introResult](introspectionCacheSize),
	}
}

// introspect checks an opaque token: from the cache when an answer is
// fresh, otherwise with one call to the introspection endpoint shared by
// every request that presents the same token meanwhile.
func (v *Validator) introspect(ctx context.Context, raw string) (*Claims, *Error) {
	in := v.intro
	key := digest(sha256.Sum256([]byte(raw)))
	if r, ok := in.cache.get(key, v.cfg.Now()); ok {
		return r.claims, r.err
	}
	ch := in.group.DoChan(string(key[:]), func() (any, error) {
		// A call that finished between the cache check above and here has
		// cached its answer: use it rather than ask again.
		if r, ok := in.cache.get(key, v.cfg.Now()); ok {
			return r, nil
		}
		// The call outlives a caller that gives up: others may be waiting.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return v.introspectOnce(cctx, raw, key), nil
	})
	select {
	case res := <-ch:
		r := res.Val.(introResult)
		return r.claims, r.err
	case <-ctx.Done():
		return nil, unavailable("the request ended before the token was checked", 0)
	}
}

// introspectOnce asks the server and caches the answer: an accepted token
// until its exp or CacheTTL, whichever comes first (S083); a refused one
// for a few seconds. Failures to get an answer are not cached.
func (v *Validator) introspectOnce(ctx context.Context, raw string, key digest) introResult {
	in := v.intro
	resp, e := in.post(ctx, raw)
	if e != nil {
		return introResult{err: e}
	}
	now := v.cfg.Now()
	c, e := v.introspectionClaims(resp)
	if in.ttl < 0 {
		return introResult{claims: c, err: e}
	}
	if e != nil {
		in.cache.put(key, introResult{err: e}, now.Add(min(inactiveTTL, in.ttl)), now)
		return introResult{err: e}
	}
	expires := now.Add(in.ttl)
	if !c.Expiry.IsZero() && c.Expiry.Before(expires) {
		expires = c.Expiry
	}
	in.cache.put(key, introResult{claims: c}, expires, now)
	return introResult{claims: c}
}

// introspectionClaims turns an RFC 7662 §2.2 response into claims and
// checks them like a JWT's. Only an active bearer token issued by the
// configured issuer for this resource server passes; a response without
// aud (a refresh token's, say) does not.
func (v *Validator) introspectionClaims(m map[string]any) (*Claims, *Error) {
	active, ok := m["active"].(bool)
	if !ok {
		v.intro.log.Warn("bearer: introspection response without a boolean active member")
		return nil, unavailable("the authorization server gave an unusable answer", defaultRetryAfter)
	}
	if !active {
		return nil, tokenError(ErrInactive, "the token is not active")
	}
	c := &Claims{Raw: m, Issuer: v.cfg.Issuer}
	jkt, ok := confirmationJKT(m)
	if !ok {
		return nil, tokenError(ErrMalformed, "the introspection response's cnf is malformed")
	}
	c.JKT = jkt
	// RFC 9449 §6.2: a bound token's token_type, if given, is DPoP.
	tt, hasType := m["token_type"].(string)
	switch {
	case !hasType:
	case strings.EqualFold(tt, "bearer"):
	case strings.EqualFold(tt, "dpop") && jkt != "":
	default:
		return nil, tokenError(ErrTokenType, "the token is not a bearer or DPoP access token")
	}
	if _, present := m["iss"]; present {
		c.Issuer, _ = m["iss"].(string)
	}
	c.Subject, _ = stringClaim(m, "sub")
	c.ClientID, _ = stringClaim(m, "client_id")
	c.JTI, _ = stringClaim(m, "jti")
	c.Expiry, _ = timeClaim(m, "exp")
	c.IssuedAt, _ = timeClaim(m, "iat")
	c.Audience, _ = audienceClaim(m)
	if s, ok := m["scope"].(string); ok {
		c.Scopes = strings.Fields(s)
	}
	if c.Actor, ok = actorClaim(m); !ok {
		return nil, tokenError(ErrMalformed, "the introspection response's act is malformed")
	}
	if e := v.checkClaims(c); e != nil {
		return nil, e
	}
	return c, nil
}

// post sends the introspection request (RFC 7662 §2.1) and decodes a 200
// answer. Anything else means the server could not answer: the token may
// be valid, so the caller is told to retry rather than refused.
func (in *introspector) post(ctx context.Context, raw string) (map[string]any, *Error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, in.failed(ctx, err, 0)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.auth)
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, in.failed(ctx, err, 0)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, in.failed(ctx, fmt.Errorf("status %d", resp.StatusCode), retryAfter(resp.Header))
	}
	var m map[string]any
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes))
	if err := dec.Decode(&m); err != nil {
		return nil, in.failed(ctx, fmt.Errorf("decode response: %w", err), 0)
	}
	return m, nil
}

func (in *introspector) failed(ctx context.Context, err error, wait time.Duration) *Error {
	in.log.WarnContext(ctx, "bearer: introspection failed", "endpoint", in.endpoint, "err", err)
	if wait <= 0 {
		wait = defaultRetryAfter
	}
	return unavailable("the authorization server could not check the token", min(wait, maxRetryAfter))
}

// retryAfter reads a Retry-After given in seconds (RFC 9110 §10.2.3).
func retryAfter(h http.Header) time.Duration {
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(min(secs, int(maxRetryAfter/time.Second))) * time.Second
}
