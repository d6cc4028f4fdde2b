package bearer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// Defaults and limits of Config.
const (
	// DefaultLeeway is the clock skew tolerated when Config.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest Config.Leeway allowed (RFC 7519 §4.1.4 and
	// RFC 9068 §4 speak of a few minutes at most).
	MaxLeeway = 5 * time.Minute
	// DefaultJWKSRefreshInterval is how often the keys are fetched in the
	// background when Config.JWKSRefreshInterval is zero.
	DefaultJWKSRefreshInterval = 5 * time.Minute
	// DefaultMinRefreshInterval is the least time between fetches caused
	// by unknown kids when Config.MinRefreshInterval is zero.
	DefaultMinRefreshInterval = 30 * time.Second
	// DefaultIntrospectionTTL bounds how long an introspection answer is
	// reused when IntrospectionConfig.CacheTTL is zero.
	DefaultIntrospectionTTL = 60 * time.Second
	// MaxTokenBytes is the longest token looked at; longer ones are
	// refused before parsing.
	MaxTokenBytes = 8 << 10
)

// Config describes the authorization server whose tokens a Validator
// accepts, and the resource server that checks them.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2),
	// for example "https://login.example". Its metadata is fetched from
	// Issuer's well-known URLs, and the metadata's issuer, like every
	// token's iss, must equal it exactly (RFC 8414 §3.3). It must be https,
	// or http on a loopback address. Required.
	Issuer string

	// Resource is this resource server's resource identifier (RFC 9728
	// §1.2, RFC 8707 §2): the URL its clients call, for example
	// "https://mcp.example/mcp", which they send as the resource parameter
	// and which the authorization server then puts in the tokens' aud.
	// Setting it publishes Protected Resource Metadata (RFC 9728) about
	// this server (see MetadataHandler), makes every challenge point to it
	// with resource_metadata (RFC 9728 §5.1), and gives Audience and
	// PublicURL their defaults. It must be https, or http on a loopback
	// address, without query or fragment. Optional.
	Resource string

	// Audience is this resource server's identifier: a token is accepted
	// only if its aud contains it (RFC 9068 §4, RFC 8707). Empty means
	// Resource; one of the two is required. Set both only when the
	// authorization server maps the resource indicator to another
	// audience.
	Audience string

	// ScopesSupported are the scopes this resource server understands,
	// published as scopes_supported in its metadata (RFC 9728 §2) so that
	// clients know what to ask for. Optional.
	ScopesSupported []string

	// ResourceName is a human-readable name of this resource server,
	// published as resource_name in its metadata (RFC 9728 §2). Optional.
	ResourceName string

	// Algorithms are the JWS algorithms accepted (RFC 8725 §3.1). Empty
	// means ES256, RS256 and EdDSA. "none" and the HMAC algorithms are
	// refused by New.
	Algorithms []string

	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway; it may not exceed MaxLeeway.
	Leeway time.Duration

	// HTTPClient fetches metadata and keys and calls the introspection
	// endpoint. Nil means a client with a 10-second timeout that does not
	// follow redirects.
	HTTPClient *http.Client

	// Realm is the realm of WWW-Authenticate challenges (RFC 6750 §3).
	// Empty means Audience.
	Realm string

	// PublicURL is this resource server's URL as its clients call it, for
	// example "https://api.example": a DPoP proof must be made for
	// PublicURL followed by the request's path (RFC 9449 §4.3, S162). When
	// a proxy strips a path prefix before the request gets here, include
	// the prefix ("https://example.com/api"). Empty means the URL is
	// rebuilt from each request, https if it came over TLS and http
	// otherwise, with its Host header: right only when clients reach this
	// server directly, since behind a proxy or load balancer neither can
	// be trusted (A21). When Resource is set, empty means Resource's
	// scheme and host, which clients do call. It must be https, or http on
	// a loopback address.
	PublicURL string

	// DPoP configures DPoP-bound access tokens (RFC 9449). Its zero value
	// accepts them beside bearer tokens.
	DPoP DPoPConfig

	// Introspection, when set, lets the Validator accept opaque tokens by
	// asking the authorization server's introspection endpoint (RFC 7662).
	Introspection *IntrospectionConfig

	// JWKSRefreshInterval is how often the key set is fetched again in the
	// background. Zero means DefaultJWKSRefreshInterval.
	JWKSRefreshInterval time.Duration

	// MinRefreshInterval is the least time between two fetches of the key
	// set caused by tokens whose kid is unknown. Zero means
	// DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration

	// Logger receives warnings, for example when the key set cannot be
	// refreshed. Nil means nothing is logged.
	Logger *slog.Logger

	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// IntrospectionConfig holds the resource server's own client credentials at
// the authorization server, used to introspect opaque tokens (RFC 7662 §2.1).
// The client needs the server's permission to introspect tokens issued to
// other clients.
type IntrospectionConfig struct {
	// ClientID and ClientSecret authenticate with HTTP Basic, each
	// form-urlencoded first (RFC 6749 §2.3.1). ClientSecret prints and
	// logs masked (see Secret).
	ClientID     string
	ClientSecret Secret

	// CacheTTL bounds how long an introspection result is reused; a result
	// is never kept past the token's exp (S083). Zero means
	// DefaultIntrospectionTTL; a negative value turns caching off.
	CacheTTL time.Duration
}

// DPoPConfig says how DPoP-bound access tokens are accepted: sent as
// "Authorization: DPoP <token>" with a proof in the DPoP header, signed by
// the key whose thumbprint is the token's cnf.jkt (RFC 9449 §6, §7). A
// token bound to a key is never accepted as a bearer token (S169).
type DPoPConfig struct {
	// Require refuses bearer tokens altogether: only DPoP-bound tokens
	// with their proofs get through, and challenges name DPoP only.
	Require bool

	// Algorithms are the JWS algorithms accepted for proofs, advertised in
	// the challenge's algs (RFC 9449 §7.1). Empty means ES256, EdDSA and
	// PS256. "none" and the HMAC algorithms are refused by New.
	Algorithms []string

	// Window is how far a proof's iat may lie from now, either way
	// (S174). Zero means dpop.DefaultWindow; it may not exceed MaxLeeway.
	Window time.Duration

	// Replay remembers the proofs accepted so that each is used once
	// (S174). Nil means a dpop.NewMemoryReplayCache of this process;
	// several instances serving one PublicURL should share one.
	Replay dpop.ReplayCache

	// Nonces, when set, makes every proof carry a nonce of this source: a
	// proof without a valid one is answered 401 use_dpop_nonce with a
	// fresh nonce in DPoP-Nonce (RFC 9449 §9, S171). Its Key must have 32
	// bytes or more.
	Nonces *dpop.NonceSource
}

// defaultHTTPClient is used when Config.HTTPClient is nil. Redirects are
// not followed: metadata, keys and introspection answer directly.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if err := checkURL("issuer", c.Issuer); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.resourceDefaults()...)
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{string(jose.ES256), string(jose.RS256), string(jose.EdDSA)}
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(asymmetricAlgorithms(), jose.SignatureAlgorithm(a)) {
			errs = append(errs, fmt.Errorf("bearer: algorithm %q is not allowed (only asymmetric JWS algorithms; never none or HMAC)", a))
		}
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0 || c.Leeway > MaxLeeway:
		errs = append(errs, fmt.Errorf("bearer: Leeway %v is outside 0..%v", c.Leeway, MaxLeeway))
	}
	if c.Realm == "" {
		c.Realm = c.Audience
	}
	if strings.ContainsFunc(c.Realm, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		errs = append(errs, errors.New("bearer: Realm must be printable ASCII"))
	}
	c.JWKSRefreshInterval = orDefault(c.JWKSRefreshInterval, DefaultJWKSRefreshInterval)
	c.MinRefreshInterval = orDefault(c.MinRefreshInterval, DefaultMinRefreshInterval)
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	errs = append(errs, c.dpopDefaults()...)
	if in := c.Introspection; in != nil {
		if in.ClientID == "" || in.ClientSecret == "" {
			errs = append(errs, errors.New("bearer: Introspection needs ClientID and ClientSecret"))
		}
		cp := *in
		if cp.CacheTTL == 0 {
			cp.CacheTTL = DefaultIntrospectionTTL
		}
		c.Introspection = &cp
	}
	return c, errors.Join(errs...)
}

// resourceDefaults checks Resource and the metadata fields, and defaults
// Audience and PublicURL to Resource.
func (c *Config) resourceDefaults() []error {
	var errs []error
	if c.Resource != "" {
		if err := checkURL("Resource", c.Resource); err != nil {
			errs = append(errs, err)
		} else if c.PublicURL == "" {
			u, _ := url.Parse(c.Resource) // checked above
			c.PublicURL = u.Scheme + "://" + u.Host
		}
		if c.Audience == "" {
			c.Audience = c.Resource
		}
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("bearer: Audience is required (or Resource, its default)"))
	}
	for _, s := range c.ScopesSupported {
		if !isScopeToken(s) {
			errs = append(errs, fmt.Errorf("bearer: ScopesSupported: %q is not a scope (RFC 6749 §3.3)", s))
		}
	}
	c.ScopesSupported = slices.Clone(c.ScopesSupported)
	if strings.ContainsFunc(c.ResourceName, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		errs = append(errs, errors.New("bearer: ResourceName has control characters"))
	}
	return errs
}

// isScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x21 || r > 0x7e || r == '"' || r == '\\'
	})
}

// dpopDefaults checks PublicURL and DPoP and fills in their defaults.
func (c *Config) dpopDefaults() []error {
	var errs []error
	if c.PublicURL != "" {
		if err := checkURL("PublicURL", c.PublicURL); err != nil {
			errs = append(errs, err)
		}
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	}
	d := &c.DPoP
	if len(d.Algorithms) == 0 {
		for _, a := range dpop.DefaultAlgorithms() {
			d.Algorithms = append(d.Algorithms, string(a))
		}
	}
	d.Algorithms = slices.Clone(d.Algorithms)
	for _, a := range d.Algorithms {
		if !slices.Contains(asymmetricAlgorithms(), jose.SignatureAlgorithm(a)) {
			errs = append(errs, fmt.Errorf("bearer: DPoP algorithm %q is not allowed (only asymmetric JWS algorithms; never none or HMAC)", a))
		}
	}
	switch {
	case d.Window == 0:
		d.Window = dpop.DefaultWindow
	case d.Window < 0 || d.Window > MaxLeeway:
		errs = append(errs, fmt.Errorf("bearer: DPoP.Window %v is outside 0..%v", d.Window, MaxLeeway))
	}
	if d.Nonces != nil && len(d.Nonces.Key) < 32 {
		errs = append(errs, errors.New("bearer: DPoP.Nonces needs a Key of 32 bytes or more"))
	}
	return errs
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// asymmetricAlgorithms are the algorithms a Config may allow.
func asymmetricAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{
		jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
	}
}

// checkURL accepts an absolute https URL, or http on a loopback address,
// without query or fragment (RFC 8414 §2). Keys fetched over plain http
// from elsewhere could be replaced on the way.
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("bearer: %s %q is not an absolute URL without query or fragment", what, raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("bearer: %s %q must use https (http only on a loopback address)", what, raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
