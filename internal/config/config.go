// Package config holds Latchkey's configuration: the structs that mirror the
// YAML file, their defaults, loading with environment overrides, and
// validation that reports every problem at once with its file and line.
package config

import (
	"time"
)

// Config is the whole configuration. The YAML names are a public interface.
type Config struct {
	// Issuer is the exact issuer identifier (RFC 8414 §2); "" means
	// "http://" + Listen.
	Issuer string `yaml:"issuer"`
	// Listen is the address the server listens on.
	Listen string `yaml:"listen"`
	// Storage is sqlite://PATH or postgres://DSN. It prints with the
	// password masked.
	Storage StorageURL `yaml:"storage"`

	Secrets        Secrets  `yaml:"secrets"`
	TLS            TLS      `yaml:"tls"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	Log            Log      `yaml:"log"`
	Tokens         Tokens   `yaml:"tokens"`
	Keys           Keys     `yaml:"keys"`
	Passwords      Argon2   `yaml:"passwords"`
	Limits         Limits   `yaml:"limits"`
	Database       Database `yaml:"database"`
	GC             GC       `yaml:"gc"`
	Debug          Debug    `yaml:"debug"`
	DPoP           DPoP     `yaml:"dpop"`
	PAR            PAR      `yaml:"par"`
	// ClientAssertions tunes private_key_jwt client authentication.
	ClientAssertions ClientAssertions `yaml:"client_assertions"`
	// Device tunes the device authorization grant (RFC 8628).
	Device Device `yaml:"device"`
	// Registration turns on dynamic client registration (RFC 7591, RFC
	// 7592); off by default.
	Registration Registration `yaml:"registration"`
	// Admin serves the admin API (/admin/v1); off by default.
	Admin Admin `yaml:"admin"`
	// Audit records security-relevant events (internal/audit).
	Audit Audit `yaml:"audit"`
	// Tracing exports OpenTelemetry traces; off by default.
	Tracing Tracing `yaml:"tracing"`
	// ShutdownGrace is how long serve keeps serving after SIGTERM with
	// /readyz answering 503, so load balancers stop sending requests
	// before the listener closes.
	ShutdownGrace Duration `yaml:"shutdown_grace"`

	// TrustedIssuers are the external issuers whose JWTs clients may
	// trade for access tokens (RFC 7523 §2.1, token exchange).
	TrustedIssuers []TrustedIssuer `yaml:"trusted_issuers"`

	Clients []Client `yaml:"clients"`
	Users   []User   `yaml:"users"`

	// File is the path the config was read from ("" for none); not YAML.
	File string `yaml:"-"`

	// origins maps a YAML path such as clients[1].redirect_uris[0] to the
	// file line or environment variable that set it; Load fills it so
	// Validate can place each problem.
	origins map[string]origin
}

// Secrets holds the system secret that encrypts signing keys at rest and
// keys the server's HMACs. Empty means: read or create a file beside the
// SQLite database.
type Secrets struct {
	System Secret `yaml:"system"`
}

// TLS makes the server speak https directly (HTTP/2, HSTS).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Log chooses the log format and level.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is auto (text on a terminal, JSON otherwise), text or json.
	Format string `yaml:"format"`
}

// Tracing exports each request's trace (the HTTP request, its store calls
// and token signing) by OTLP over HTTP. With no endpoint nothing is traced
// and the tracing code is not on any request's path.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, such as
	// http://127.0.0.1:4318; spans are POSTed to its /v1/traces.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// ServiceName is the service.name of the traces.
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the fraction of new traces recorded, 0 to 1. A
	// request whose caller sent a traceparent follows the caller's
	// decision.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Debug holds what operators turn on to look inside a running server.
type Debug struct {
	// PprofListen, when set, serves Go's net/http/pprof profiles on this
	// address, a listener of its own apart from the OAuth endpoints. Keep
	// it on loopback: profiles reveal memory contents.
	PprofListen string `yaml:"pprof_listen"`
}

// DPoP tunes sender-constrained tokens (RFC 9449).
type DPoP struct {
	// RequireNonce makes every proof carry a server nonce (RFC 9449 §8).
	RequireNonce bool `yaml:"require_nonce"`
	// NonceLifetime is how often the nonce changes; a nonce is accepted for
	// up to twice this long.
	NonceLifetime Duration `yaml:"nonce_lifetime"`
	// ProofWindow is how far a proof's iat may be from now.
	ProofWindow Duration `yaml:"proof_window"`
	// SigningAlgs are the proof algorithms accepted (ES256, EdDSA, PS256).
	SigningAlgs []string `yaml:"signing_algs"`
}

// PAR tunes pushed authorization requests (RFC 9126).
type PAR struct {
	// Require makes every client push its authorization requests.
	Require bool `yaml:"require"`
	// Lifetime is how long a request_uri stays valid.
	Lifetime Duration `yaml:"lifetime"`
}

// ClientAssertions tunes JWT client authentication (RFC 7523 §2.2).
type ClientAssertions struct {
	// StrictAudience accepts only the issuer as aud, refusing the token
	// and PAR endpoint URLs (rfc7523bis; STANDARDS §0 decision 3).
	StrictAudience bool `yaml:"strict_audience"`
	// AllowLoopbackJWKS lets jwks_uri be http on a loopback address (for
	// development only).
	AllowLoopbackJWKS bool `yaml:"allow_loopback_jwks"`
}

// Audit keeps the audit trail: every sign-in, token issued, revocation,
// replay, limit reached and admin change, in the database for Retention
// (removed by gc), in the log, and, when Webhook.URL is set, POSTed to a
// webhook.
type Audit struct {
	// Enabled records events (the default); false records none.
	Enabled bool `yaml:"enabled"`
	// Retention is how long stored events are kept; gc removes older ones.
	Retention Duration `yaml:"retention"`
	// Queue bounds the events waiting to be written; beyond it events are
	// dropped and counted (latchkey_audit_dropped_total), never waited for.
	Queue   int          `yaml:"queue"`
	Webhook AuditWebhook `yaml:"webhook"`
}

// AuditWebhook delivers audit events as signed JSON batches.
type AuditWebhook struct {
	// URL receives the batches: https, fetched through the SSRF guard.
	URL string `yaml:"url"`
	// Secret keys the Latchkey-Signature HMAC; at least 32 characters.
	Secret Secret `yaml:"secret"`
	// AllowLoopback lets URL be http on a loopback address (development
	// and tests only).
	AllowLoopback bool `yaml:"allow_loopback"`
}

// Device tunes the device authorization grant (RFC 8628). A client uses
// it by listing urn:ietf:params:oauth:grant-type:device_code in its
// grant_types.
type Device struct {
	// CodeLifetime is how long a device code and its user code are valid.
	CodeLifetime Duration `yaml:"code_lifetime"`
	// Interval is the least time between two polls of one code: sent to
	// the device, and enforced (a poll sooner is slow_down and adds 5 s).
	Interval Duration `yaml:"interval"`
	// VerificationURI is the page where users enter their code; "" means
	// the issuer's /device.
	VerificationURI string `yaml:"verification_uri"`
}

// Admin configures the admin API: clients, users and keys over HTTP for
// clients holding a latchkey:admin scope.
type Admin struct {
	// Enabled serves the admin API.
	Enabled bool `yaml:"enabled"`
	// Listen is a separate host:port for it (recommended in production:
	// keep it off the public listener); empty means the main listener.
	Listen string `yaml:"listen"`
}

// Registration configures dynamic client registration (RFC 7591) and
// its management (RFC 7592). Settings of Client ID Metadata Documents
// belong here too (registration.client_id_metadata_documents).
type Registration struct {
	// Enabled serves POST /register and names registration_endpoint in
	// the metadata.
	Enabled bool `yaml:"enabled"`
	// Open lets anyone register without an initial access token, within
	// RateLimit; otherwise a token is required (S196).
	Open bool `yaml:"open"`
	// InitialAccessTokens are bearer tokens that allow registering, at
	// least 32 characters each; more can be minted with
	// latchkey registration token create.
	InitialAccessTokens []Secret `yaml:"initial_access_tokens"`
	// Policy is what a registered client may be.
	Policy RegistrationPolicy `yaml:"policy"`
	// RateLimit bounds anonymous registrations per client IP.
	RateLimit RegistrationRateLimit `yaml:"rate_limit"`

	// The client_id_* keys are Client ID Metadata Documents
	// (draft-ietf-oauth-client-id-metadata-document): a client_id that is
	// an https URL names the client's own metadata, fetched through the
	// SSRF guard. They do not depend on Enabled.

	// ClientIDDocuments accepts https URLs as client_ids and advertises
	// client_id_metadata_document_supported.
	ClientIDDocuments bool `yaml:"client_id_metadata_documents"`
	// ClientIDHosts limit which hosts may publish documents.
	ClientIDHosts ClientIDHosts `yaml:"client_id_hosts"`
	// ClientIDScopes are the most such a client may be granted; a
	// document's scope narrows them. Empty grants none.
	ClientIDScopes []string `yaml:"client_id_scopes"`
	// ClientIDResources are the resource indicators (RFC 8707) such
	// clients may ask tokens for: the MCP servers and APIs behind this
	// server.
	ClientIDResources []string `yaml:"client_id_resources"`
	// ClientIDAllowLoopback lets documents be fetched from loopback
	// addresses, for development only.
	ClientIDAllowLoopback bool `yaml:"client_id_allow_loopback"`
}

// RegistrationPolicy is what a self-registered client may ask for.
type RegistrationPolicy struct {
	GrantTypes  []string `yaml:"grant_types"`
	AuthMethods []string `yaml:"auth_methods"`
	// DefaultAuthMethod applies when a request names none; "" means
	// client_secret_basic (RFC 7591 §2).
	DefaultAuthMethod string `yaml:"default_auth_method"`
	// Scopes a client may register; DefaultScopes when it names none
	// (empty means all of Scopes).
	Scopes        []string `yaml:"scopes"`
	DefaultScopes []string `yaml:"default_scopes"`
	// Resources are the resource indicators (RFC 8707) every registered
	// client may ask for, such as an MCP server's URL.
	Resources    []string              `yaml:"resources"`
	RedirectURIs RegistrationRedirects `yaml:"redirect_uris"`
	// MaxClients caps the number of registered clients.
	MaxClients int `yaml:"max_clients"`
}

// RegistrationRedirects are the redirect URI forms a registered client
// may use (S198).
type RegistrationRedirects struct {
	HTTPS          bool `yaml:"https"`
	Loopback       bool `yaml:"loopback"`
	PrivateSchemes bool `yaml:"private_schemes"`
}

// RegistrationRateLimit bounds anonymous registrations: PerIP within
// Window, counted in the store so every instance agrees.
type RegistrationRateLimit struct {
	PerIP  int      `yaml:"per_ip"`
	Window Duration `yaml:"window"`
}

// TrustedIssuer is an external issuer (a Kubernetes cluster, a CI
// provider) whose JWTs identify workloads. A workload's tokens carry the
// subject "<name>:<subject>", which never equals a Latchkey user id.
type TrustedIssuer struct {
	// Name is short (a-z, 0-9, -) and unique: the namespace of the
	// issuer's subjects. "client" is reserved.
	Name string `yaml:"name"`
	// Issuer is the exact iss of its tokens.
	Issuer string `yaml:"issuer"`
	// JWKSURI (https, fetched through the SSRF guard) or JWKS (inline)
	// holds its public keys.
	JWKSURI string         `yaml:"jwks_uri"`
	JWKS    map[string]any `yaml:"jwks"`
	// Audience is what the tokens' aud must contain; "" means the issuer
	// of this server.
	Audience string `yaml:"audience"`
	// SubjectClaim names the claim identifying the workload; "" means sub.
	SubjectClaim string `yaml:"subject_claim"`
	// AllowedClients are the clients that may present its tokens.
	AllowedClients []string `yaml:"allowed_clients"`
	// AllowedSubjects, when set, are the subjects accepted: exact, or a
	// prefix ending in * ("system:serviceaccount:payments:*").
	AllowedSubjects []string `yaml:"allowed_subjects"`
	// Scopes are the most its tokens may be given.
	Scopes []string `yaml:"scopes"`
	// MaxTokenAge bounds iat's age and exp − iat; 0 means 1h.
	MaxTokenAge Duration `yaml:"max_token_age"`
	// Algorithms is the signature allowlist; empty means RS256, ES256,
	// PS256 and EdDSA. none and HMAC are never accepted.
	Algorithms []string `yaml:"algorithms"`
	// AllowTokenReuse accepts a token more than once within its life
	// (Kubernetes projected tokens); otherwise each jti is used once.
	AllowTokenReuse bool `yaml:"allow_token_reuse"`
}

// Tokens sets lifetimes and formats.
type Tokens struct {
	AccessTokenTTL Duration `yaml:"access_token_ttl"`
	// RefreshTokenTTL is how long a refresh token lives unused (it is
	// replaced at every use); RefreshTokenAbsoluteTTL bounds the whole
	// chain from the user's grant (RFC 9700 §4.14.2, S135).
	RefreshTokenTTL         Duration `yaml:"refresh_token_ttl"`
	RefreshTokenAbsoluteTTL Duration `yaml:"refresh_token_absolute_ttl"`
	IDTokenTTL              Duration `yaml:"id_token_ttl"`
	CodeTTL                 Duration `yaml:"code_ttl"`
	SessionTTL              Duration `yaml:"session_ttl"`
	// AccessTokenAlg signs JWT access tokens: ES256, EdDSA, RS256 or PS256.
	AccessTokenAlg string `yaml:"access_token_alg"`
}

// Keys schedules signing-key rotation.
type Keys struct {
	// RotationPeriod, when positive, makes the server stage a new key this
	// often.
	RotationPeriod Duration `yaml:"rotation_period"`
	// ActivationDelay is how long a new key is published before it signs.
	ActivationDelay Duration `yaml:"activation_delay"`
	// ReloadInterval bounds how long a key staged by another instance (or
	// by latchkey keys rotate) takes to appear in this instance's JWKS.
	ReloadInterval Duration `yaml:"reload_interval"`
}

// Argon2 are the argon2id parameters for new password hashes.
type Argon2 struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

// Limits guard against guessing (RFC 6749 §4.3.2, §10.10).
type Limits struct {
	// Failures allowed per username, per client and per IP before each
	// further attempt must wait; the wait doubles from BaseDelay up to
	// MaxDelay. Counters are forgotten Window after the last failure.
	PerUsername int      `yaml:"per_username"`
	PerClient   int      `yaml:"per_client"`
	PerIP       int      `yaml:"per_ip"`
	Window      Duration `yaml:"window"`
	BaseDelay   Duration `yaml:"base_delay"`
	MaxDelay    Duration `yaml:"max_delay"`
}

// Database tunes the PostgreSQL pool (and SQLite's busy timeout).
type Database struct {
	// DirectURL, when set, is a PostgreSQL URL that reaches the database
	// itself, not a transaction-pooling PgBouncer: migrations (which hold
	// a session advisory lock) and LISTEN for changes use it, everything
	// else uses storage. Empty: storage serves both.
	DirectURL      Secret   `yaml:"direct_url"`
	MaxConns       int32    `yaml:"max_conns"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	QueryTimeout   Duration `yaml:"query_timeout"`
	// CacheTTL is how long an instance reuses a client record or a
	// "not revoked" answer it read, on the hot paths of client
	// authentication and introspection. Changes made through the
	// instance itself apply at once; changes made through another
	// instance or the CLI show within CacheTTL. 0 reads every time.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// GC schedules the removal of expired rows.
type GC struct {
	Interval Duration `yaml:"interval"`
	Batch    int      `yaml:"batch"`
}

// Client is a client defined in the file (upserted at start).
type Client struct {
	ID                     string   `yaml:"id"`
	Name                   string   `yaml:"name"`
	Secret                 Secret   `yaml:"secret"`
	SecretHash             string   `yaml:"secret_hash"`
	Public                 bool     `yaml:"public"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	GrantTypes             []string `yaml:"grant_types"`
	Scopes                 []string `yaml:"scopes"`
	DefaultScopes          []string `yaml:"default_scopes"`
	Audience               []string `yaml:"audience"`
	// AccessTokenFormat is jwt (default) or opaque.
	AccessTokenFormat string   `yaml:"access_token_format"`
	AccessTokenTTL    Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL   Duration `yaml:"refresh_token_ttl"`
	// RefreshGrace: concurrent refreshes within it get the same successor.
	RefreshGrace             Duration `yaml:"refresh_grace"`
	IDTokenSignedResponseAlg string   `yaml:"id_token_signed_response_alg"`
	Introspection            bool     `yaml:"introspection"`
	// TokenEndpointAuthMethod is how the client authenticates (RFC 7591
	// §2); empty means client_secret_basic or client_secret_post for a
	// confidential client and none for a public one.
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	SkipConsent             bool   `yaml:"skip_consent"`
	// RequireMFA makes every sign-in for the client use a second factor
	// (acr urn:latchkey:acr:mfa); a user without one enrols at sign-in.
	RequireMFA bool `yaml:"require_mfa"`
	// PasswordGrantMFA lets the client use the password grant for users
	// who have a second factor, which the grant cannot ask for; without
	// it they are refused (invalid_grant).
	PasswordGrantMFA bool `yaml:"password_grant_mfa"`
	// JWKS (a JWK Set, written as YAML) or JWKSURI (where the client
	// publishes one) holds the public keys of a private_key_jwt client.
	JWKS    map[string]any `yaml:"jwks"`
	JWKSURI string         `yaml:"jwks_uri"`
	// BackchannelLogoutURI receives a signed logout token when a user's
	// session ends (OpenID Connect Back-Channel Logout 1.0): https, posted
	// through the SSRF guard (client_assertions.allow_loopback_jwks allows
	// http on loopback, for development).
	BackchannelLogoutURI string `yaml:"backchannel_logout_uri"`
	// BackchannelLogoutSessionRequired: the client needs sid in its ID
	// tokens and logout tokens.
	BackchannelLogoutSessionRequired bool `yaml:"backchannel_logout_session_required"`
	// Resources are the resource indicators (RFC 8707) the client may ask
	// tokens for; each is an absolute URI without fragment.
	Resources []string `yaml:"resources"`
	// DPoPBoundAccessTokens makes a DPoP proof mandatory (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool `yaml:"dpop_bound_access_tokens"`
	// RequireDPoPNonce makes the client's proofs carry a server nonce.
	RequireDPoPNonce bool `yaml:"require_dpop_nonce"`
	// RequirePushedAuthorizationRequests makes the client use PAR (RFC
	// 9126 §6).
	RequirePushedAuthorizationRequests bool `yaml:"require_pushed_authorization_requests"`
	// Profile is "" or fapi2: every rule of the FAPI 2.0 Security Profile.
	Profile string `yaml:"profile"`
	// RefreshTokenRotation is rotate (the default) or reuse (the default
	// under fapi2, FAPI 2.0 §5.3.2.1).
	RefreshTokenRotation string `yaml:"refresh_token_rotation"`
	// TokenExchange is the client's token exchange policy (RFC 8693); it
	// needs the token-exchange grant type.
	TokenExchange *TokenExchange `yaml:"token_exchange"`
}

// TokenExchange says which subject tokens a client may exchange and what
// it may get for them.
type TokenExchange struct {
	// AllowedSubjectClients are the clients whose tokens it may exchange;
	// a token whose aud names it or one of its resources is accepted too.
	AllowedSubjectClients []string `yaml:"allowed_subject_clients"`
	// Impersonation lets it get tokens without an act claim when it sends
	// no actor token; otherwise the client is named as actor (delegation).
	Impersonation bool `yaml:"impersonation"`
	// RefreshTokens lets it ask for, and receive, refresh tokens; it needs
	// the refresh_token grant type too.
	RefreshTokens bool `yaml:"refresh_tokens"`
	// BeyondSubjectLifetime lets the issued token outlive the subject token.
	BeyondSubjectLifetime bool `yaml:"beyond_subject_lifetime"`
}

// User is a user defined in the file (upserted at start, keyed by username).
type User struct {
	Username     string         `yaml:"username"`
	Password     Secret         `yaml:"password"`
	PasswordHash string         `yaml:"password_hash"`
	Claims       map[string]any `yaml:"claims"`
	// MFARequired makes every sign-in of the user use a second factor.
	MFARequired bool `yaml:"mfa_required"`
}

// Duration is a time.Duration written as "15m", "1h30m" or "60s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration used where the file and the
// environment say nothing.
func Default() Config {
	return Config{
		Listen:  "127.0.0.1:8080",
		Storage: "sqlite://latchkey.db",
		Log:     Log{Level: "info", Format: "auto"},
		Tokens: Tokens{
			AccessTokenTTL:          Duration(15 * time.Minute),
			RefreshTokenTTL:         Duration(30 * 24 * time.Hour),
			RefreshTokenAbsoluteTTL: Duration(90 * 24 * time.Hour),
			IDTokenTTL:              Duration(time.Hour),
			CodeTTL:                 Duration(60 * time.Second),
			SessionTTL:              Duration(12 * time.Hour),
			AccessTokenAlg:          "ES256",
		},
		Keys:      Keys{ActivationDelay: Duration(time.Hour), ReloadInterval: Duration(30 * time.Second)},
		Passwords: Argon2{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1},
		Limits: Limits{
			PerUsername: 5, PerClient: 100, PerIP: 20,
			Window:    Duration(15 * time.Minute),
			BaseDelay: Duration(time.Second),
			MaxDelay:  Duration(15 * time.Minute),
		},
		Database: Database{MaxConns: 10, ConnectTimeout: Duration(5 * time.Second), QueryTimeout: Duration(5 * time.Second),
			CacheTTL: Duration(time.Second)},
		GC: GC{Interval: Duration(5 * time.Minute), Batch: 100},
		DPoP: DPoP{NonceLifetime: Duration(5 * time.Minute), ProofWindow: Duration(60 * time.Second),
			SigningAlgs: []string{"ES256", "EdDSA", "PS256"}},
		PAR:    PAR{Lifetime: Duration(60 * time.Second)},
		Device: Device{CodeLifetime: Duration(10 * time.Minute), Interval: Duration(5 * time.Second)},
		Registration: Registration{
			Policy: RegistrationPolicy{
				GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials",
					"urn:ietf:params:oauth:grant-type:device_code"},
				AuthMethods:  []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
				Scopes:       []string{"openid", "profile", "email", "offline_access"},
				RedirectURIs: RegistrationRedirects{HTTPS: true, Loopback: true, PrivateSchemes: true},
				MaxClients:   10000,
			},
			RateLimit: RegistrationRateLimit{PerIP: 10, Window: Duration(time.Hour)},
		},
		Audit:         Audit{Enabled: true, Retention: Duration(90 * 24 * time.Hour), Queue: 8192},
		Tracing:       Tracing{ServiceName: "latchkey", SampleRatio: 1},
		ShutdownGrace: Duration(5 * time.Second),
	}
}

// IssuerURL is the issuer, or "http://" + Listen when none is set.
func (c Config) IssuerURL() string {
	if c.Issuer != "" {
		return c.Issuer
	}
	return "http://" + c.Listen
}
