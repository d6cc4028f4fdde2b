package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// Validator checks access tokens issued by one authorization server for
// one resource server. It is safe for concurrent use. Create one with New
// and Close it when done.
type Validator struct {
	cfg   Config
	algs  []jose.SignatureAlgorithm
	keys  *keyCache
	intro *introspector // nil unless Config.Introspection is set

	proofs   *dpop.Verifier
	dpopAlgs string // the challenge's algs

	metadataURL string // RFC 9728 §3.1; "" without Config.Resource

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// metadata is the part of the authorization server's metadata (RFC 8414
// §2) that a resource server needs.
type metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// New discovers the authorization server's metadata at cfg.Issuer (RFC 8414
// §3, then OpenID Connect Discovery §4), checks that its issuer is
// cfg.Issuer exactly (RFC 8414 §3.3), fetches its JWKS, and starts
// refreshing the keys in the background. ctx bounds the discovery only.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	meta, err := discover(ctx, cfg)
	if err != nil {
		return nil, err
	}
	v := &Validator{cfg: cfg, keys: newKeyCache(meta.JWKSURI, cfg), done: make(chan struct{})}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	v.proofs = &dpop.Verifier{Window: cfg.DPoP.Window, Replay: cfg.DPoP.Replay}
	for _, a := range cfg.DPoP.Algorithms {
		v.proofs.Algs = append(v.proofs.Algs, jose.SignatureAlgorithm(a))
	}
	v.dpopAlgs = strings.Join(cfg.DPoP.Algorithms, " ")
	if cfg.Resource != "" {
		v.metadataURL, _ = MetadataURL(cfg.Resource) // checked by withDefaults
	}
	if cfg.Introspection != nil {
		if err := checkURL("introspection_endpoint", meta.IntrospectionEndpoint); err != nil {
			return nil, fmt.Errorf("%w (Introspection is configured, so the issuer's metadata must name it)", err)
		}
		v.intro = newIntrospector(meta.IntrospectionEndpoint, cfg)
	}
	byKID, err := v.keys.fetch(ctx)
	if err != nil {
		return nil, err
	}
	v.keys.set.Store(&keySet{byKID: byKID})
	v.keys.lastFetch = cfg.Now()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	v.stop = stop
	go func() {
		defer close(v.done)
		v.keys.run(bg, cfg.JWKSRefreshInterval)
	}()
	return v, nil
}

// Close stops the background refresh of the keys. Validate and the
// middleware keep working with the keys already fetched.
func (v *Validator) Close() {
	v.closeOnce.Do(func() {
		v.stop()
		<-v.done
	})
}

// discover fetches and checks the metadata, trying the RFC 8414 URL first.
func discover(ctx context.Context, cfg Config) (metadata, error) {
	var errs []error
	for _, u := range wellKnownURLs(cfg.Issuer) {
		m, err := fetchMetadata(ctx, cfg, u)
		if err == nil {
			return m, nil
		}
		errs = append(errs, err)
	}
	return metadata{}, fmt.Errorf("bearer: no usable metadata for issuer %q: %w", cfg.Issuer, errors.Join(errs...))
}

// wellKnownURLs are RFC 8414 §3.1's URL (the well-known segment inserted
// before the issuer's path) and OpenID Connect Discovery §4's (appended).
func wellKnownURLs(issuer string) []string {
	u, _ := url.Parse(issuer) // checked by withDefaults
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	return []string{
		base + "/.well-known/oauth-authorization-server" + path,
		base + path + "/.well-known/openid-configuration",
	}
}

func fetchMetadata(ctx context.Context, cfg Config, u string) (metadata, error) {
	body, err := getJSON(ctx, cfg.HTTPClient, u)
	if err != nil {
		return metadata{}, err
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return metadata{}, fmt.Errorf("bearer: %s: %w", u, err)
	}
	if m.Issuer != cfg.Issuer {
		return metadata{}, fmt.Errorf("bearer: %s: issuer %q is not %q (RFC 8414 §3.3)", u, m.Issuer, cfg.Issuer)
	}
	if err := checkURL("jwks_uri", m.JWKSURI); err != nil {
		return metadata{}, fmt.Errorf("%w (from %s)", err, u)
	}
	return m, nil
}

// Validate checks a bearer access token outside HTTP: a JWT (RFC 9068 §4)
// against the issuer's keys, or, when Config.Introspection is set, an
// opaque token by introspection (RFC 7662). A token bound to a DPoP key
// is refused with ErrBinding (S169): check it with ValidateDPoP. It does
// not check scopes. The error is an *Error wrapping one of the sentinel
// errors.
func (v *Validator) Validate(ctx context.Context, rawToken string) (*Claims, error) {
	c, e := v.validateBearer(ctx, rawToken)
	if e != nil {
		return nil, e
	}
	return c, nil
}

// validateBearer validates a token sent as a bearer token, which must not
// be bound to a DPoP key (RFC 9449 §7.2, S169).
func (v *Validator) validateBearer(ctx context.Context, raw string) (*Claims, *Error) {
	c, e := v.validate(ctx, raw)
	if e != nil {
		return nil, e
	}
	if c.JKT != "" {
		return nil, tokenError(ErrBinding, "the token is bound to a DPoP key: send it with the DPoP scheme and a proof")
	}
	return c, nil
}

// validate sorts the token out by shape: a compact JWS has two dots, a
// JWE four; anything else is opaque.
func (v *Validator) validate(ctx context.Context, raw string) (*Claims, *Error) {
	switch {
	case raw == "":
		return nil, &Error{Description: "a bearer token is required", Err: ErrNoToken}
	case len(raw) > MaxTokenBytes:
		return nil, tokenError(ErrMalformed, "the token is too long")
	case !isB64Token(raw):
		return nil, tokenError(ErrMalformed, "the token has characters a bearer token cannot have")
	}
	switch strings.Count(raw, ".") {
	case 2:
		return v.verifyJWT(ctx, raw)
	case 4:
		return nil, tokenError(ErrMalformed, "encrypted tokens are not accepted")
	}
	if v.intro != nil {
		return v.introspect(ctx, raw)
	}
	return nil, tokenError(ErrMalformed, "the token is not a JWT")
}

// isB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := range end {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}
