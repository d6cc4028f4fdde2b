package server

import (
	"context"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
)

// fapiAlgs are the signing algorithms the FAPI 2.0 Security Profile
// allows (§5.4): never RS256.
var fapiAlgs = []jose.SignatureAlgorithm{jose.PS256, jose.ES256, jose.EdDSA}

// assertionAlgNames are the algorithms client assertions may be signed
// with, for the metadata (never none, never HMAC).
func assertionAlgNames() []string {
	var out []string
	for _, a := range clientjwt.DefaultAlgs() {
		out = append(out, string(a))
	}
	return out
}

// keyJWTAuth is private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9):
// a JWT signed with a key the client registered, inline or at its
// jwks_uri, used once (its jti is kept in the store, so the whole cluster
// refuses a replay; S214).
type keyJWTAuth struct {
	s *Server
	v *clientjwt.Verifier
}

// newKeyJWTAuth builds the authenticator from the configuration. The
// endpoints taking assertions are accepted as aud unless the audience is
// strict (STANDARDS §0 decision 3, S212, S215).
func newKeyJWTAuth(s *Server, cfg AssertionConfig, st store.ReplayStore, fetch *safefetch.Client) keyJWTAuth {
	if fetch == nil {
		fetch = safefetch.New(safefetch.Options{AllowLoopback: cfg.AllowLoopbackJWKS})
	}
	keys := clientjwt.NewKeys(clientjwt.KeysConfig{Fetch: fetch, Now: s.now})
	return keyJWTAuth{s: s, v: &clientjwt.Verifier{
		Keys:   keys,
		Issuer: s.issuer,
		EndpointURLs: []string{s.endpoint("/token"), s.endpoint("/par"), s.endpoint("/introspect"),
			s.endpoint("/revoke")},
		Strict: cfg.StrictAudience,
		Replay: assertionReplay{st},
		Now:    s.now,
	}}
}

func (keyJWTAuth) Method() protocol.AuthMethod { return protocol.AuthPrivateKeyJWT }

func (a keyJWTAuth) Authenticate(ctx context.Context, c store.Client, creds protocol.Credentials) (bool, error) {
	if creds.AssertionType != protocol.AssertionTypeJWT {
		return false, nil
	}
	cl := clientjwt.Client{ID: c.ID, JWKS: c.JWKS, JWKSURI: c.JWKSURI}
	if c.Profile == protocol.ProfileFAPI2 {
		cl.Algs = fapiAlgs
	}
	err := a.v.Verify(ctx, creds.Assertion, cl)
	var refused *clientjwt.Error
	switch {
	case errors.As(err, &refused):
		// The answer stays the one invalid_client; the reason is for the
		// operator, and never holds the assertion.
		a.s.log.InfoContext(ctx, "client assertion refused", "client_id", c.ID, "reason", refused.Description)
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// assertionReplay keeps the jti of client assertions in the store.
type assertionReplay struct{ st store.ReplayStore }

func (r assertionReplay) UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error) {
	return r.st.UseOnce(ctx, "assertion:"+key, exp, now)
}
