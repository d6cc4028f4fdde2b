package protocol

// Grant type values (RFC 6749 §4, §6). The grants Latchkey implements,
// with what each needs and may issue, are declared once, in the server's
// grant registry; these are only the names the rest of the code refers to.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	// GrantDeviceCode is the device authorization grant (RFC 8628 §3.4).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	// GrantTokenExchange is token exchange (RFC 8693 §2.1).
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// GrantJWTBearer is a JWT used as an authorization grant (RFC 7523 §2.1).
	GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Token type identifiers of RFC 8693 §3 (subject_token_type,
// actor_token_type, requested_token_type, issued_token_type).
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
)

// GrantInfo describes one grant type: what the token endpoint, the
// metadata, configuration validation and the CLI need to know of it
// without running it.
type GrantInfo struct {
	// Type is the grant_type value.
	Type string
	// Summary says in a few words what the grant is for (CLI help).
	Summary string
	// Public reports whether public clients may use it (RFC 6749 §2.1):
	// grants where the client proves nothing but its id are confidential-only.
	Public bool
	// User reports whether the grant acts for a resource owner; without
	// one the client acts for itself. The server refuses to issue a
	// grant's tokens against what this says.
	User bool
	// Refresh reports whether the grant starts a refresh-token chain for a
	// client that may refresh (RFC 9700 §4.14.2); client credentials never
	// does (S028), and the refresh grant continues a chain.
	Refresh bool
	// Redirect reports whether the grant runs through the front channel and
	// so needs the client's registered redirect URIs.
	Redirect bool
	// Legacy marks a grant that OAuth 2.1 drops: it is advertised in the
	// metadata only while some client may use it.
	Legacy bool
}

// ProfileFAPI2 is the client profile that turns on every server-side rule
// of the FAPI 2.0 Security Profile.
const ProfileFAPI2 = "fapi2"
