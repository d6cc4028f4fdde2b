package store

import (
	"log/slog"
	"time"
)

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string
	// SecretHash is "" for public clients, "sha256:<base64url>" for secrets
	// Latchkey generated, or an argon2id PHC string for secrets from the
	// config file.
	SecretHash string
	Public     bool
	// TokenEndpointAuthMethod is how the client authenticates (RFC 7591
	// §2): "" means the default for its kind, client_secret_basic or
	// client_secret_post for a confidential client and none for a public one.
	TokenEndpointAuthMethod string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string
	// Scopes the client may be granted; DefaultScopes are granted when a
	// request names none (empty means all of Scopes).
	Scopes        []string
	DefaultScopes []string
	// Audience of its access tokens; empty means the issuer.
	Audience []string
	// AccessTokenFormat is "jwt" (default) or "opaque".
	AccessTokenFormat string
	// Lifetimes; zero means the server default.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RefreshGrace, when positive, lets concurrent refreshes of one token
	// by this client within the window get the same successor.
	RefreshGrace time.Duration
	// IDTokenAlg signs its ID tokens ("" means RS256).
	IDTokenAlg string
	// BackchannelLogoutURI receives logout tokens when a user's session
	// ends (OpenID Connect Back-Channel Logout 1.0 §2.2), or "".
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired: the client needs the sid claim in
	// ID tokens and logout tokens.
	BackchannelLogoutSessionRequired bool
	// Introspection lets the client introspect any token (resource servers).
	Introspection bool
	// RequireMFA makes every sign-in for the client use a second factor
	// (acr urn:latchkey:acr:mfa).
	RequireMFA bool
	// PasswordGrantMFA lets the client use the password grant for users
	// who have a second factor, which the grant cannot ask for; without
	// it they are refused (S026).
	PasswordGrantMFA bool
	// SkipConsent marks a first-party client whose users are not asked.
	SkipConsent bool
	// JWKS is the client's public JWK Set as JSON, for private_key_jwt
	// (RFC 7523 §2.2); empty when it has none or publishes them at JWKSURI.
	JWKS string
	// JWKSURI is where the client publishes its JWK Set (RFC 7591 §2).
	JWKSURI string
	// Resources are the resource indicators (RFC 8707) the client may
	// request; each becomes an audience of its access tokens.
	Resources []string
	// DPoPBoundAccessTokens makes a DPoP proof mandatory at the token
	// endpoint (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool
	// RequireDPoPNonce makes the client's DPoP proofs carry a server nonce
	// (RFC 9449 §8) even when the server does not require one globally.
	RequireDPoPNonce bool
	// RequirePAR makes the client push its authorization requests (RFC
	// 9126 §6).
	RequirePAR bool
	// Profile is "" or "fapi2" (the FAPI 2.0 Security Profile).
	Profile string
	// RefreshRotation is "" (the default for its profile: rotate, except
	// under fapi2), "rotate" or "reuse" (the token stays valid when used).
	RefreshRotation string
	// TokenExchange is what the client may do with token exchange (RFC
	// 8693); it matters only when GrantTypes lists the grant.
	TokenExchange ExchangePolicy
	// ClientURI and LogoURI are what a self-registered client asserts
	// about itself (RFC 7591 §2): shown as text, never fetched (S202).
	ClientURI string
	LogoURI   string
	// Metadata holds the rest of a registered client's self-asserted
	// metadata (policy_uri, tos_uri, contacts, software_id,
	// software_version) as a JSON object, or "".
	Metadata string
	// RegistrationTokenHash is the digest of the client's RFC 7592
	// registration access token, or "" when it has none.
	RegistrationTokenHash string
	// Source says who owns the record: "config", "cli", "dev", or
	// "registration" (RFC 7591 dynamic registration).
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ExchangePolicy is a client's token exchange policy (RFC 8693 §2.1
// leaves it to the server).
type ExchangePolicy struct {
	// AllowedSubjectClients lists the clients whose tokens this client may
	// exchange; a token whose aud names this client or one of its
	// resources may be exchanged too.
	AllowedSubjectClients []string
	// Impersonation lets the issued token carry no act claim when no
	// actor token is sent (RFC 8693 §1.1); otherwise the client is the actor.
	Impersonation bool
	// RefreshTokens lets the client ask for, and receive, refresh tokens.
	RefreshTokens bool
	// BeyondSubjectLifetime lets the issued token outlive the subject token.
	BeyondSubjectLifetime bool
}

// LogValue keeps the secret hash out of logs.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.Bool("public", c.Public), slog.String("source", c.Source))
}

// InitialToken is an initial access token (RFC 7591 §3) minted by the
// CLI: a bearer credential that allows registering clients, stored by
// digest.
type InitialToken struct {
	// ID names the token in listings and for revocation; it is not secret.
	ID     string
	Digest string
	// UsesLeft is how many registrations it still allows; negative means
	// no limit.
	UsesLeft  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// User is a resource owner.
type User struct {
	// ID is the stable subject identifier, generated by Latchkey.
	ID           string
	Username     string
	PasswordHash string
	// Claims are OpenID Connect claims (name, email, ...).
	Claims    map[string]any
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// DisabledAt is when an administrator disabled the user, or zero: a
	// disabled user cannot sign in, use the password grant, redeem a code
	// or refresh a token.
	DisabledAt time.Time
	// MFARequired makes every sign-in of the user use a second factor; a
	// user without one enrols at sign-in.
	MFARequired bool
}

// Disabled reports whether the user is disabled.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// LogValue keeps the password hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("username", u.Username))
}

// Key is a signing key.
type Key struct {
	KID string
	Alg string
	// Private is the private key, encrypted with the system secret.
	Private []byte
	// Public is the public JWK as JSON.
	Public    []byte
	CreatedAt time.Time
	// ActiveAt is when the key may start signing; it is published at once.
	ActiveAt time.Time
}

// AuthCode is an authorization code (RFC 6749 §4.1.2), stored by digest.
type AuthCode struct {
	Digest      string
	ClientID    string
	UserID      string
	RedirectURI string
	// RedirectURIGiven is whether the authorization request named it (S022).
	RedirectURIGiven bool
	CodeChallenge    string
	Scopes           []string
	// Resources are the resource indicators the user consented to (RFC 8707).
	Resources []string
	// DPoPJKT binds the code to a DPoP key thumbprint (RFC 9449 §10), or "".
	DPoPJKT  string
	Nonce    string
	AuthTime time.Time
	// AMR and ACR are how the user signed in (the session's).
	AMR       []string
	ACR       string
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	// ConsumedAt and GrantID are set when the code is redeemed.
	ConsumedAt time.Time
	GrantID    string
}

// Grant is what a user (or a client on its own behalf) authorized: the root
// of a refresh-token family and the access tokens issued under it.
type Grant struct {
	ID       string
	ClientID string
	UserID   string // "" for client credentials
	// ParentID is the grant of the subject token a token exchange started
	// from, or "": revoking a grant revokes its descendants with it.
	ParentID string
	// Subject is the sub of tokens issued under the grant when it is
	// neither UserID nor the client itself (an exchanged client or
	// external subject), or "".
	Subject string
	// Act is the JSON of the act claim (RFC 8693 §4.1) of tokens issued
	// under the grant, or "".
	Act    string
	Scopes []string
	// Resources are the resource indicators granted (RFC 8707 §2.2): later
	// requests under the grant may only narrow them.
	Resources []string
	AuthTime  time.Time
	// AMR and ACR are how the user signed in when the grant was made:
	// ID tokens of later refreshes repeat them.
	AMR   []string
	ACR   string
	Nonce string
	// SessionID is the sid of the browser session the grant was approved
	// in, or "": ending that session notifies the client (back-channel
	// logout).
	SessionID string
	CreatedAt time.Time
	// ExpiresAt bounds the life of the whole family (absolute lifetime).
	ExpiresAt time.Time
	RevokedAt time.Time
}

// RefreshToken is one member of a grant's rotation family.
type RefreshToken struct {
	Digest   string
	GrantID  string
	ClientID string
	UserID   string
	Scopes   []string
	// Resources are the grant's resource indicators, copied on rotation.
	Resources []string
	// JKT binds the token to a DPoP key thumbprint (RFC 9449 §5, public
	// clients), or "".
	JKT       string
	CreatedAt time.Time
	ExpiresAt time.Time
	// RotatedAt and Next are set when the token was exchanged for Next.
	RotatedAt time.Time
	Next      string
	RevokedAt time.Time
	// GrantRevokedAt is the grant's revocation time, and GrantSubject and
	// GrantAct are its Subject and Act, filled in on reads.
	GrantRevokedAt time.Time
	GrantSubject   string
	GrantAct       string
}

// AccessToken is an opaque (reference) access token.
type AccessToken struct {
	Digest   string
	JTI      string
	GrantID  string // "" when issued without a grant
	ClientID string
	Subject  string
	UserID   string
	Scopes   []string
	Audience []string
	// JKT is the DPoP key thumbprint the token is bound to (cnf.jkt), or "".
	JKT string
	// Act is the JSON of its act claim (RFC 8693 §4.1), or "".
	Act       string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Issue is what one token response stores: a grant (when the flow has one)
// with its first refresh token and opaque access token, each optional.
type Issue struct {
	Grant   *Grant
	Refresh *RefreshToken
	Access  *AccessToken
}

// Rotation asks to exchange the refresh token OldDigest for Next.
//
// When the old token is active, belongs to ClientID, has not expired and its
// grant stands, it is marked rotated with Next as successor, Next (and
// Access) are stored, and Next is returned.
//
// When the old token was rotated already: if Grace is positive, the rotation
// happened no longer than Grace before Now, its successor is Next.Digest and
// that successor is still active, the stored successor is returned (and
// Access stored) — concurrent refreshes get the same successor. Otherwise the
// whole grant is revoked and ErrReused returned (RFC 9700 §4.14.2).
//
// Unknown, expired or revoked tokens, and tokens of another client, give
// ErrNotFound and change nothing.
type Rotation struct {
	OldDigest string
	ClientID  string
	Next      RefreshToken
	Access    *AccessToken
	Now       time.Time
	Grace     time.Duration
}

// Session is a browser login session, stored by the digest of its cookie.
type Session struct {
	Digest string
	UserID string
	// SID is the session's public identifier: the sid claim of ID tokens
	// and logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.1).
	// It is random and unrelated to the cookie, so an RP that learns it
	// cannot use it to sign in.
	SID string
	// UserAgent and IP describe the browser for the account page; IP is
	// the address last seen.
	UserAgent string
	IP        string
	AuthTime  time.Time
	// AMR are the authentication methods used (RFC 8176: "pwd", "otp",
	// "mfa"), ACR the authentication context class they reached; a
	// session from before they were kept has neither (a password).
	AMR        []string
	ACR        string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// Factor kinds.
const (
	// FactorTOTP is a time-based one-time password (RFC 6238).
	FactorTOTP = "totp"
	// FactorWebAuthn is a passkey (WebAuthn credential); a user may have
	// several.
	FactorWebAuthn = "webauthn"
)

// Factor is one of a user's second factors.
type Factor struct {
	ID     string
	UserID string
	// Kind is FactorTOTP or FactorWebAuthn.
	Kind  string
	Label string
	// Data is what the factor checks against, sealed with the system
	// secret (the store never sees it in the clear): for TOTP the secret,
	// for a passkey its credential record (public key, flags).
	Data []byte
	// Counter is the last TOTP step accepted (a code of that step or an
	// earlier one is refused), or a passkey's signature counter.
	Counter   int64
	CreatedAt time.Time
	// ConfirmedAt is when the user proved the factor with a first code;
	// zero while enrolment is under way.
	ConfirmedAt time.Time
	LastUsedAt  time.Time
}

// Confirmed reports whether enrolment of f was completed.
func (f Factor) Confirmed() bool { return !f.ConfirmedAt.IsZero() }

// LogValue keeps the factor's data out of logs.
func (f Factor) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", f.ID), slog.String("user_id", f.UserID), slog.String("kind", f.Kind))
}

// Consent is a user's remembered decision to grant scopes to a client.
type Consent struct {
	UserID   string
	ClientID string
	Scopes   []string
	// Resources are the resource indicators (RFC 8707) the user allowed
	// the client to reach; a request for another asks again.
	Resources []string
	GrantedAt time.Time
}

// Throttle is a failure counter.
type Throttle struct {
	Key         string
	Failures    int
	LastFailure time.Time
	ExpiresAt   time.Time
}

// PushedRequest is an authorization request pushed to the PAR endpoint
// (RFC 9126), stored by the digest of its request_uri.
type PushedRequest struct {
	Digest   string
	ClientID string
	// Params are the request's parameters, form-encoded.
	Params string
	// DPoPJKT is the thumbprint of the key of a DPoP proof sent with the
	// push (RFC 9449 §10.1), or "".
	DPoPJKT   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SlowDownStep is what a poll that comes too soon adds to a device code's
// polling interval (RFC 8628 §3.5).
const SlowDownStep = 5 * time.Second

// PollTolerance is how much sooner than the interval a poll may come and
// still be in time: a client that waits exactly the interval between
// requests sees them arrive a little early or late with network delays,
// and must not be slowed down for that.
const PollTolerance = 500 * time.Millisecond

// DeviceCode is a device authorization request (RFC 8628 §3.1), stored by
// the digest of its device_code and found by a keyed digest of its
// user_code, so that a read of the database reveals neither.
type DeviceCode struct {
	Digest string
	// UserCodeDigest is the keyed digest of the normalised user code.
	UserCodeDigest string
	ClientID       string
	Scopes         []string
	// Resources are the resource indicators asked for (RFC 8707).
	Resources []string
	// Interval is the least time between two polls; it grows by
	// SlowDownStep with every poll that comes sooner.
	Interval time.Duration
	// LastPollAt is the time of the last poll, zero before the first.
	LastPollAt time.Time
	// SlowDown reports that the last poll came sooner than the interval.
	SlowDown  bool
	CreatedAt time.Time
	ExpiresAt time.Time
	// UserID and AuthTime are set when the signed-in user decides;
	// ApprovedAt or DeniedAt says what they decided.
	UserID     string
	AuthTime   time.Time
	ApprovedAt time.Time
	DeniedAt   time.Time
	// AMR and ACR are how the deciding user signed in.
	AMR []string
	ACR string
	// ConsumedAt and GrantID are set when the device redeems the approval.
	ConsumedAt time.Time
	GrantID    string
}

// DeviceDecision is a user's answer on the verification page.
type DeviceDecision struct {
	UserID string
	// AuthTime is when the user signed in (the ID token's auth_time);
	// AMR and ACR how.
	AuthTime time.Time
	AMR      []string
	ACR      string
	Approved bool
	At       time.Time
}
