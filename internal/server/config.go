package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
)

// Config is what the server needs to know, typed and already validated by
// whoever read it (cmd/latchkey maps the YAML file onto it). A zero field
// takes the default that DefaultConfig documents, so a test sets only what
// it cares about.
type Config struct {
	// Issuer is the issuer identifier (RFC 8414 §2): an absolute http(s)
	// URL without query or fragment. Every endpoint lives under its path.
	Issuer string
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix

	// Lifetimes of what the server issues.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long an unused refresh token lives;
	// RefreshTokenAbsoluteTTL bounds a whole chain (RFC 9700 §4.14.2).
	RefreshTokenTTL         time.Duration
	RefreshTokenAbsoluteTTL time.Duration
	IDTokenTTL              time.Duration
	CodeTTL                 time.Duration
	SessionTTL              time.Duration
	// AccessTokenAlg signs JWT access tokens (keys.ES256, EdDSA, RS256 or PS256).
	AccessTokenAlg string
	// KeyActivationDelay is how long a staged key is published before it
	// signs; the JWKS cache lifetime stays well below it.
	KeyActivationDelay time.Duration

	// Passwords are the argon2id parameters of the timing equaliser that an
	// unknown username is checked against.
	Passwords password.Params
	// Limits are the guessing limits.
	Limits Limits

	// DPoP tunes sender-constrained tokens (RFC 9449).
	DPoP DPoPConfig
	// PAR tunes pushed authorization requests (RFC 9126).
	PAR PARConfig
	// ClientAssertions tunes private_key_jwt client authentication.
	ClientAssertions AssertionConfig
	// Device tunes the device authorization grant (RFC 8628).
	Device DeviceConfig
	// TrustedIssuers are the external issuers whose JWTs the JWT bearer
	// grant (RFC 7523 §2.1) and token exchange accept.
	TrustedIssuers []TrustedIssuer

	// CIMD turns on Client ID Metadata Documents: https URLs as client_ids.
	CIMD CIMDConfig

	// Registration turns on dynamic client registration (RFC 7591, RFC
	// 7592); off unless Enabled.
	Registration RegistrationConfig

	// JWKSFetcher fetches the jwks_uri of private_key_jwt clients; nil
	// means the production policy of safefetch (tests trust their own
	// TLS certificate through it).
	JWKSFetcher *safefetch.Client

	// BackchannelLogout tunes the delivery of logout tokens (OpenID
	// Connect Back-Channel Logout 1.0).
	BackchannelLogout BackchannelConfig

	// ClientAuthenticators adds client authentication methods to the
	// built-in ones (client_secret_basic, client_secret_post, none), or
	// replaces one of the same name.
	ClientAuthenticators []ClientAuthenticator

	// Audit receives the security-relevant events (sign-ins, tokens
	// issued, revocations, replays, limits reached); nil means audit.Nop.
	// Record must not block: the token endpoint calls it on every token.
	Audit audit.Recorder
}

// RegistrationConfig tunes dynamic client registration (RFC 7591, RFC
// 7592). Its zero value is off.
type RegistrationConfig struct {
	// Enabled serves POST /register and the RFC 7592 client configuration
	// endpoint, and names registration_endpoint in the metadata.
	Enabled bool
	// Open lets anyone register without an initial access token (S196),
	// limited to PerIP registrations per client IP within Window.
	Open bool
	// InitialTokenDigests are the token.HashSecret digests of the initial
	// access tokens from the configuration file; tokens minted by the CLI
	// live in the store.
	InitialTokenDigests []string
	// Policy is what a registered client may be.
	Policy RegistrationPolicy
	// PerIP and Window bound anonymous registrations per client IP; zero
	// means 10 per hour.
	PerIP  int
	Window time.Duration
}

// RegistrationPolicy is what a self-registered client may ask for. Zero
// fields take the defaults that withDefaults documents.
type RegistrationPolicy struct {
	// GrantTypes a client may register; empty means authorization_code,
	// refresh_token, client_credentials and the device grant.
	GrantTypes []string
	// AuthMethods a client may register; empty means client_secret_basic,
	// client_secret_post, private_key_jwt and none.
	AuthMethods []string
	// DefaultAuthMethod applies when a request names none; empty means
	// client_secret_basic (RFC 7591 §2).
	DefaultAuthMethod string
	// Scopes a client may register; empty means openid, profile, email
	// and offline_access. DefaultScopes are registered when a request
	// names none; empty means all of Scopes.
	Scopes, DefaultScopes []string
	// Resources are the resource indicators (RFC 8707) every registered
	// client may ask for (an MCP server's URL).
	Resources []string
	// Redirects are the redirect URI forms allowed; the zero value means
	// all of https, loopback http and private-use schemes.
	Redirects RedirectRules
	// MaxClients caps the number of registered clients; 0 means 10 000.
	MaxClients int
}

// RedirectRules are the redirect URI forms a registered client may use.
type RedirectRules struct {
	HTTPS, Loopback, PrivateSchemes bool
}

// Limits guard against guessing (RFC 6749 §4.3.2, §10.10): failures
// allowed per username, client and IP before each further attempt waits a
// delay that doubles from BaseDelay up to MaxDelay; counters are forgotten
// Window after their last failure.
type Limits struct {
	PerUsername, PerClient, PerIP int
	Window, BaseDelay, MaxDelay   time.Duration
}

// DPoPConfig tunes DPoP (RFC 9449).
type DPoPConfig struct {
	// RequireNonce makes every proof carry a server nonce (§8); a client
	// may also require it for itself.
	RequireNonce bool
	// NonceLifetime is how often the nonce changes; one is accepted for up
	// to twice as long. Nonces derive from the system secret and the time,
	// so every instance accepts every other's.
	NonceLifetime time.Duration
	// ProofWindow is how far a proof's iat may be from now (S174).
	ProofWindow time.Duration
	// Algs are the proof algorithms accepted: ES256, EdDSA, PS256.
	Algs []string
}

// PARConfig tunes pushed authorization requests (RFC 9126).
type PARConfig struct {
	// Require makes every client push its authorization requests (§5).
	Require bool
	// Lifetime is how long a request_uri is valid (§2.2).
	Lifetime time.Duration
}

// DeviceConfig tunes the device authorization grant (RFC 8628).
type DeviceConfig struct {
	// CodeLifetime is how long a device code and its user code are valid
	// (expires_in, §3.2).
	CodeLifetime time.Duration
	// Interval is the least time between two polls of one device code; it
	// is sent to the device and enforced (§3.5). Whole seconds.
	Interval time.Duration
	// VerificationURI is where users enter their code (verification_uri);
	// "" means the issuer's /device page.
	VerificationURI string
}

// TrustedIssuer is an external issuer whose JWTs authenticate workloads
// (a Kubernetes cluster's service accounts, a CI provider's jobs). Their
// tokens' subjects become "<Name>:<subject>", which no Latchkey user id
// (never a colon) nor client subject ("client:…") can equal.
type TrustedIssuer struct {
	// Name is short ([a-z0-9-], not "client") and unique: the namespace of
	// the issuer's subjects.
	Name string
	// Issuer is the exact iss of its tokens; unique among trusted issuers.
	Issuer string
	// JWKS (a JWK Set as JSON) or JWKSURI (https, fetched through the
	// SSRF guard) holds its public keys; exactly one is set.
	JWKS, JWKSURI string
	// Audience is what the tokens' aud must contain; "" means this
	// server's issuer.
	Audience string
	// SubjectClaim names the claim identifying the workload; "" means sub.
	SubjectClaim string
	// AllowedClients are the clients that may present its tokens.
	AllowedClients []string
	// AllowedSubjects, when set, are the subjects accepted: exact values,
	// or prefixes written with a final * ("system:serviceaccount:ns:*").
	AllowedSubjects []string
	// Scopes are the most a token of this issuer may be given.
	Scopes []string
	// MaxTokenAge bounds iat's age and exp − iat; 0 means one hour.
	MaxTokenAge time.Duration
	// Algorithms is the signature allowlist; nil means RS256, ES256,
	// PS256 and EdDSA. none and HMAC are never accepted.
	Algorithms []string
	// AllowTokenReuse accepts one token several times within its life;
	// otherwise each jti is accepted once.
	AllowTokenReuse bool
}

// AssertionConfig tunes JWT client authentication (RFC 7523 §2.2).
type AssertionConfig struct {
	// StrictAudience accepts only the issuer as aud (rfc7523bis), not the
	// token or PAR endpoint URLs (STANDARDS §0 decision 3).
	StrictAudience bool
	// AllowLoopbackJWKS lets a client's jwks_uri be http on loopback, for
	// development; never in production.
	AllowLoopbackJWKS bool
}

// BackchannelConfig tunes back-channel logout delivery. Zero fields take
// the defaults named.
type BackchannelConfig struct {
	// Poster posts logout tokens; nil means safefetch's production policy
	// (loopback allowed only under ClientAssertions.AllowLoopbackJWKS).
	Poster *safefetch.Client
	// Attempts is how often one token is tried (default 5); RetryDelay
	// the first wait between tries, doubling after each (default 2s).
	Attempts   int
	RetryDelay time.Duration
	// QueueSize bounds the tokens waiting for delivery (default 1024);
	// beyond it a token is dropped and logged, never blocking a request.
	QueueSize int
}

// DefaultConfig returns the defaults that a zero field of Config takes:
// the same values as the configuration file's (a test in cmd/latchkey
// holds the two together).
func DefaultConfig() Config {
	return Config{
		AccessTokenTTL:          15 * time.Minute,
		RefreshTokenTTL:         30 * 24 * time.Hour,
		RefreshTokenAbsoluteTTL: 90 * 24 * time.Hour,
		IDTokenTTL:              time.Hour,
		CodeTTL:                 60 * time.Second,
		SessionTTL:              12 * time.Hour,
		AccessTokenAlg:          keys.ES256,
		KeyActivationDelay:      time.Hour,
		Passwords:               password.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1},
		Limits: Limits{PerUsername: 5, PerClient: 100, PerIP: 20,
			Window: 15 * time.Minute, BaseDelay: time.Second, MaxDelay: 15 * time.Minute},
		DPoP: DPoPConfig{NonceLifetime: 5 * time.Minute, ProofWindow: 60 * time.Second,
			Algs: []string{"ES256", "EdDSA", "PS256"}},
		PAR:          PARConfig{Lifetime: 60 * time.Second},
		Device:       DeviceConfig{CodeLifetime: 10 * time.Minute, Interval: 5 * time.Second},
		Registration: defaultRegistration(),
	}
}

// withDefaults fills every zero field of c from DefaultConfig and checks
// what the server cannot work without.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.AccessTokenTTL, d.AccessTokenTTL)
	set(&c.RefreshTokenTTL, d.RefreshTokenTTL)
	set(&c.RefreshTokenAbsoluteTTL, d.RefreshTokenAbsoluteTTL)
	set(&c.IDTokenTTL, d.IDTokenTTL)
	set(&c.CodeTTL, d.CodeTTL)
	set(&c.SessionTTL, d.SessionTTL)
	set(&c.KeyActivationDelay, d.KeyActivationDelay)
	if c.Audit == nil {
		c.Audit = audit.Nop{}
	}
	if c.AccessTokenAlg == "" {
		c.AccessTokenAlg = d.AccessTokenAlg
	}
	if c.Passwords == (password.Params{}) {
		c.Passwords = d.Passwords
	}
	setN := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setN(&c.Limits.PerUsername, d.Limits.PerUsername)
	setN(&c.Limits.PerClient, d.Limits.PerClient)
	setN(&c.Limits.PerIP, d.Limits.PerIP)
	set(&c.Limits.Window, d.Limits.Window)
	set(&c.Limits.BaseDelay, d.Limits.BaseDelay)
	set(&c.Limits.MaxDelay, d.Limits.MaxDelay)
	set(&c.DPoP.NonceLifetime, d.DPoP.NonceLifetime)
	set(&c.DPoP.ProofWindow, d.DPoP.ProofWindow)
	if len(c.DPoP.Algs) == 0 {
		c.DPoP.Algs = d.DPoP.Algs
	}
	set(&c.PAR.Lifetime, d.PAR.Lifetime)
	set(&c.Device.CodeLifetime, d.Device.CodeLifetime)
	set(&c.Device.Interval, d.Device.Interval)
	c.Registration = c.Registration.withDefaults()
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return c, fmt.Errorf("server: issuer %q is not an absolute http(s) URL without query or fragment", c.Issuer)
	}
	if c.Device.VerificationURI == "" {
		c.Device.VerificationURI = strings.TrimSuffix(c.Issuer, "/") + "/device"
	}
	if c.Device.Interval < time.Second {
		return c, fmt.Errorf("server: device polling interval %v is shorter than a second", c.Device.Interval)
	}
	if !keys.SupportedAlg(c.AccessTokenAlg) {
		return c, fmt.Errorf("server: access token algorithm %q is not supported", c.AccessTokenAlg)
	}
	return c, nil
}

// Store is what the server needs from persistence: reading clients and
// users, and everything about codes, device codes, grants, tokens,
// sessions, consents and throttles. Creating, changing and deleting
// clients and users is the CLI's business, except for clients that
// register themselves.
type Store interface {
	// GetClient returns the client with id, or store.ErrNotFound.
	GetClient(ctx context.Context, id string) (store.Client, error)
	// ListOperatorClients returns the clients an operator made (metadata).
	ListOperatorClients(ctx context.Context) ([]store.Client, error)
	// RedirectURIsOfOrigin returns candidate redirect URIs of an origin
	// (CORS), by an index.
	RedirectURIsOfOrigin(ctx context.Context, origin string) ([]string, error)
	// GetUser returns the user whose subject is id, or store.ErrNotFound.
	GetUser(ctx context.Context, id string) (store.User, error)
	// GetUserByUsername returns the user with username, or store.ErrNotFound.
	GetUserByUsername(ctx context.Context, username string) (store.User, error)
	// SetUserPassword replaces the user's password hash (the account page).
	SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error
	store.TokenStore
	store.SessionStore
	store.ThrottleStore
	store.ReplayStore
	store.PushedRequestStore
	store.DeviceStore
	// FactorStore keeps second factors and recovery codes.
	store.FactorStore
	// RegistrationStore and DeleteClient serve dynamic client
	// registration (RFC 7591, RFC 7592), the one place where the server
	// itself creates, changes and deletes clients.
	store.RegistrationStore
	DeleteClient(ctx context.Context, id string) error
	// Ping reports whether the backend is reachable (/readyz).
	Ping(ctx context.Context) error
}

// freshReader is implemented by a store that caches client records
// (readcache): it reads one past the cache. A client whose credentials
// fail is read again this way before the failure counts, so a secret
// rotated through another instance works at once.
type freshReader interface {
	GetClientFresh(ctx context.Context, id string) (store.Client, error)
}

// clientUncached reads a client past any read cache: the browser
// endpoints are not a hot path, and they must see a change to a client
// (a redirect URI removed) at once, and fail while the store is away
// rather than show a page they cannot complete.
func (s *Server) clientUncached(ctx context.Context, id string) (store.Client, error) {
	if fr, ok := s.st.(freshReader); ok {
		return fr.GetClientFresh(ctx, id)
	}
	return s.st.GetClient(ctx, id)
}

// errMissingDeps is returned by New when a required dependency is missing.
var errMissingDeps = errors.New("server: store, keys, clock, randomness and a system secret of 16 bytes or more are required")

// defaultRegistration is registration off, with the policy and limits it
// takes when turned on.
func defaultRegistration() RegistrationConfig {
	return RegistrationConfig{
		Policy: RegistrationPolicy{
			GrantTypes: []string{protocol.GrantAuthorizationCode, protocol.GrantRefreshToken,
				protocol.GrantClientCredentials, protocol.GrantDeviceCode},
			AuthMethods: []string{string(protocol.AuthBasic), string(protocol.AuthPost),
				string(protocol.AuthPrivateKeyJWT), string(protocol.AuthNone)},
			Scopes:     []string{"openid", "profile", "email", "offline_access"},
			Redirects:  RedirectRules{HTTPS: true, Loopback: true, PrivateSchemes: true},
			MaxClients: 10000,
		},
		PerIP:  10,
		Window: time.Hour,
	}
}

// withDefaults fills the zero fields of a registration configuration from
// defaultRegistration; DefaultScopes empty means all of Scopes.
func (r RegistrationConfig) withDefaults() RegistrationConfig {
	d := defaultRegistration()
	p := &r.Policy
	if len(p.GrantTypes) == 0 {
		p.GrantTypes = d.Policy.GrantTypes
	}
	if len(p.AuthMethods) == 0 {
		p.AuthMethods = d.Policy.AuthMethods
	}
	if len(p.Scopes) == 0 {
		p.Scopes = d.Policy.Scopes
	}
	if len(p.DefaultScopes) == 0 {
		p.DefaultScopes = p.Scopes
	}
	if p.Redirects == (RedirectRules{}) {
		p.Redirects = d.Policy.Redirects
	}
	if p.MaxClients == 0 {
		p.MaxClients = d.Policy.MaxClients
	}
	if r.PerIP == 0 {
		r.PerIP = d.PerIP
	}
	if r.Window == 0 {
		r.Window = d.Window
	}
	return r
}
