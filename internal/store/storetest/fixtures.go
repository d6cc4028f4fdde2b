package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// jkt is a JWK SHA-256 thumbprint (RFC 7638), what a DPoP binding holds
// (RFC 9449 §6.1).
const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

// fixture is what most subtests start from: two clients and two users.
type fixture struct {
	client, other store.Client
	user, user2   store.User
}

// setup stores a fixture in s.
func setup(t *testing.T, s store.Store) fixture {
	t.Helper()
	f := fixture{
		client: fullClient("app"),
		other:  fullClient("other"),
		user:   fullUser("u-alice", "alice"),
		user2:  fullUser("u-bob", "bob"),
	}
	for _, c := range []store.Client{f.client, f.other} {
		must(t, s.CreateClient(t.Context(), c))
	}
	for _, u := range []store.User{f.user, f.user2} {
		must(t, s.CreateUser(t.Context(), u))
	}
	return f
}

// fullClient is a client with every field set to a value that is not the
// default, so that a field the backend drops shows up in a diff. The codes,
// grants and tokens below set every field too, DPoP key thumbprints
// (RFC 9449) and resource indicators (RFC 8707) included.
func fullClient(id string) store.Client {
	return store.Client{
		ID:                               id,
		Name:                             "Client " + id,
		SecretHash:                       "sha256:2jmj7l5rSw0yVb_vlWAYkK_YBwk",
		Public:                           false,
		TokenEndpointAuthMethod:          "client_secret_post",
		RedirectURIs:                     []string{"https://" + id + ".example/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs:           []string{"https://" + id + ".example/bye"},
		GrantTypes:                       []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes:                           []string{"openid", "profile", "email", "offline_access"},
		DefaultScopes:                    []string{"openid"},
		Audience:                         []string{"https://api.example", "notes"},
		AccessTokenFormat:                "opaque",
		AccessTokenTTL:                   5 * time.Minute,
		RefreshTokenTTL:                  30 * 24 * time.Hour,
		RefreshGrace:                     1500 * ms,
		IDTokenAlg:                       "ES256",
		BackchannelLogoutURI:             "https://" + id + ".example/backchannel",
		BackchannelLogoutSessionRequired: true,
		Introspection:                    true,
		RequireMFA:                       true,
		PasswordGrantMFA:                 true,
		SkipConsent:                      true,
		JWKS:                             `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"` + id + `-1"}]}`,
		JWKSURI:                          "https://" + id + ".example/jwks.json",
		Resources:                        []string{"https://api.example", "https://files.example/"},
		DPoPBoundAccessTokens:            true,
		RequireDPoPNonce:                 true,
		RequirePAR:                       true,
		Profile:                          "fapi2",
		RefreshRotation:                  "reuse",
		TokenExchange: store.ExchangePolicy{AllowedSubjectClients: []string{"web", "mobile"},
			Impersonation: true, RefreshTokens: true, BeyondSubjectLifetime: true},
		ClientURI:             "https://" + id + ".example/",
		LogoURI:               "https://cdn." + id + ".example/logo.png",
		Metadata:              `{"policy_uri":"https://` + id + `.example/policy","contacts":["ops@` + id + `.example"]}`,
		RegistrationTokenHash: "sha256:reg-" + id,
		Source:                "cli",
		CreatedAt:             at(-48*time.Hour + 123*ms),
		UpdatedAt:             at(-24*time.Hour + 456*ms),
	}
}

// fullUser is a user with claims of every JSON kind (numbers as float64,
// as JSON decodes them).
func fullUser(id, username string) store.User {
	return store.User{
		ID:           id,
		Username:     username,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Claims: map[string]any{
			"name":           "Name of " + username,
			"email":          username + "@example.com",
			"email_verified": true,
			"age":            float64(36),
			"groups":         []any{"admins", "ops"},
			"address":        map[string]any{"locality": "Paris", "country": "FR"},
		},
		Source:      "config",
		CreatedAt:   at(-72*time.Hour + 7*ms),
		UpdatedAt:   at(-1*time.Hour + 9*ms),
		MFARequired: true,
	}
}

// challengeFor is a distinct S256-shaped challenge per code: a client may
// use a challenge for one code only.
func challengeFor(digest string) string {
	sum := sha256.Sum256([]byte(digest))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newCode is an unconsumed code of f.client for f.user, expiring at exp.
func newCode(digest string, f fixture, exp time.Time) store.AuthCode {
	return store.AuthCode{
		Digest:           digest,
		ClientID:         f.client.ID,
		UserID:           f.user.ID,
		RedirectURI:      "https://app.example/cb?x=1",
		RedirectURIGiven: true,
		CodeChallenge:    challengeFor(digest),
		Scopes:           []string{"openid", "profile"},
		Resources:        []string{"https://api.example", "https://files.example/"},
		DPoPJKT:          jkt,
		Nonce:            "n-0S6_WzA2Mj",
		AuthTime:         at(-time.Minute + 250*ms),
		AMR:              []string{"pwd", "otp", "mfa"},
		ACR:              "urn:latchkey:acr:mfa",
		SessionID:        "session-1",
		CreatedAt:        at(12 * ms),
		ExpiresAt:        exp,
	}
}

// newGrant is a grant of client for user ("" for client credentials) with
// an absolute lifetime of 30 days.
func newGrant(id, clientID, userID string) store.Grant {
	return store.Grant{
		ID:        id,
		ClientID:  clientID,
		UserID:    userID,
		Scopes:    []string{"openid", "offline_access"},
		Resources: []string{"https://api.example", "https://files.example/"},
		AuthTime:  at(-time.Minute + 250*ms),
		AMR:       []string{"pwd", "otp", "mfa"},
		ACR:       "urn:latchkey:acr:mfa",
		Nonce:     "n-0S6_WzA2Mj",
		SessionID: "sid-" + id,
		CreatedAt: at(34 * ms),
		ExpiresAt: at(30*24*time.Hour + 56*ms),
	}
}

// newRefresh is an active refresh token of grant g, expiring at exp.
func newRefresh(digest string, g store.Grant, exp time.Time) store.RefreshToken {
	return store.RefreshToken{
		Digest:    digest,
		GrantID:   g.ID,
		ClientID:  g.ClientID,
		UserID:    g.UserID,
		Scopes:    []string{"openid", "offline_access"},
		Resources: []string{"https://api.example", "https://files.example/"},
		JKT:       jkt,
		CreatedAt: at(78 * ms),
		ExpiresAt: exp,
	}
}

// newAccess is an opaque access token under grant g, expiring at exp.
func newAccess(digest string, g store.Grant, exp time.Time) store.AccessToken {
	subject := g.UserID
	if subject == "" {
		subject = g.ClientID
	}
	return store.AccessToken{
		Digest:    digest,
		JTI:       "jti-" + digest,
		GrantID:   g.ID,
		ClientID:  g.ClientID,
		Subject:   subject,
		UserID:    g.UserID,
		Scopes:    []string{"openid"},
		Audience:  []string{"https://api.example"},
		JKT:       jkt,
		CreatedAt: at(90 * ms),
		ExpiresAt: exp,
	}
}

// newIssue is a grant named name of f.client for f.user with a refresh
// token name+"-rt" (expiring after a day) and an access token name+"-at"
// (after an hour).
func newIssue(name string, f fixture) store.Issue {
	g := newGrant(name, f.client.ID, f.user.ID)
	rt := newRefresh(name+"-rt", g, at(24*time.Hour+321*ms))
	a := newAccess(name+"-at", g, at(time.Hour+654*ms))
	return store.Issue{Grant: &g, Refresh: &rt, Access: &a}
}

// newPushed is a pushed authorization request of clientID, expiring at exp.
func newPushed(digest, clientID string, exp time.Time) store.PushedRequest {
	return store.PushedRequest{
		Digest:   digest,
		ClientID: clientID,
		Params: "client_id=" + clientID + "&code_challenge=" + challengeFor(digest) +
			"&code_challenge_method=S256&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&resource=https%3A%2F%2Fapi.example" +
			"&response_type=code&scope=openid+profile&state=af0ifjsldkj",
		DPoPJKT:   jkt,
		CreatedAt: at(111 * ms),
		ExpiresAt: exp,
	}
}
