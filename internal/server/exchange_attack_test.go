package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// Attacks on token exchange (RFC 8693 §5 asks the server to check every
// token it is given): dead, forged or foreign subject tokens, widening,
// act spoofing, and clients that may not exchange. Every refusal leaves
// the tables as they were, and the description of a bad token never says
// what was wrong with it (A23).

// wantRefused checks an error answer and that nothing was stored.
func (f exchangeFixture) wantRefused(t *testing.T, before map[string]int, r result, code string) {
	t.Helper()
	status := http.StatusBadRequest
	if code == protocol.ErrInvalidClient {
		status = http.StatusUnauthorized
	}
	wantOAuthError(t, r, status, code)
	if after := f.countRows(t); !maps.Equal(before, after) {
		t.Errorf("a refused exchange changed the tables: %v → %v (A15: no partial state)", before, after)
	}
}

// forgeJWT re-signs the claims of real, edited by edit, with a fresh key
// that claims the real kid, or with alg none when none is true.
func forgeJWT(t *testing.T, real string, none bool, edit func(map[string]any)) string {
	t.Helper()
	header, claims := azJWT(t, real)
	edit(claims)
	payload, _ := json.Marshal(claims)
	if none {
		h, _ := json.Marshal(map[string]any{"alg": "none", "typ": header["typ"], "kid": header["kid"]})
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(header["typ"].(string))).WithHeader("kid", header["kid"])
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTokenExchangeDeadOrForgedSubject: a subject token that is revoked
// (its jti, or its grant), expired, forged (another key, alg none, a
// payload edited under the old signature; A13), of another type than
// stated (A18), or garbage is invalid_grant, with one description for all.
func TestTokenExchangeDeadOrForgedSubject(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{AllowedSubjectClients: []string{"web"}}))
	live := f.userToken(t, "notes calendar")
	at, rt := live["access_token"].(string), live["refresh_token"].(string)
	revokedAT := f.userToken(t, "notes")["access_token"].(string)
	wantRevoked200(t, post(t, f.Env, "/revoke", formOf("token", revokedAT), basic("web", f.secrets["web"])))
	widened := func(c map[string]any) { c["scope"] = "notes calendar admin" }
	parts := strings.Split(at, ".")
	edited, _ := json.Marshal(map[string]any{"sub": "someone-else"})
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(edited) + "." + parts[2]

	cases := map[string]url.Values{
		"revoked at /revoke (jti)": subject(revokedAT, protocol.TokenTypeAccessToken),
		"signed by another key":    subject(forgeJWT(t, at, false, widened), protocol.TokenTypeAccessToken),
		"alg none":                 subject(forgeJWT(t, at, true, widened), protocol.TokenTypeJWT),
		"payload edited":           subject(tampered, protocol.TokenTypeAccessToken),
		"refresh token as access":  subject(rt, protocol.TokenTypeAccessToken),
		"access token as refresh":  subject(at, protocol.TokenTypeRefreshToken),
		"access token as ID token": subject(at, protocol.TokenTypeIDToken),
		"unknown opaque token":     subject("lk_at_"+strings.Repeat("A", 43), protocol.TokenTypeAccessToken),
		"unknown refresh token":    subject("lk_rt_"+strings.Repeat("A", 43), protocol.TokenTypeRefreshToken),
		"garbage":                  subject("' OR '1'='1", protocol.TokenTypeAccessToken),
		"an injection as a JWT":    subject("a.b.c", protocol.TokenTypeJWT),
	}
	before := f.countRows(t)
	var descriptions []string
	for name, form := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.exchange(t, "notes-api", form)
			f.wantRefused(t, before, r, "invalid_grant")
			descriptions = append(descriptions, r.str(t, "error_description"))
		})
	}
	for _, d := range descriptions {
		if d != descriptions[0] {
			t.Errorf("descriptions differ: %q and %q; a bad subject token must not say what is wrong (A23)", d, descriptions[0])
		}
	}

	// The operator learns why; the log never holds the token (no secrets in logs).
	if logs := f.Logs.String(); !strings.Contains(logs, `"reason":"revoked or expired"`) || strings.Contains(logs, revokedAT) {
		t.Errorf("logs lack the refusal reason, or hold the token:\n%s", logs)
	}

	// The grant revoked: the live tokens die, and so does what was exchanged from them.
	exchanged := f.exchangeToken(t, "notes-api", subject(at, protocol.TokenTypeAccessToken))
	if got := introspect(t, f.Env, "rs", f.secrets["rs"], exchanged); got["active"] != true { // now in the read cache
		t.Fatalf("exchanged token inactive before any revocation: %v", got)
	}
	wantRevoked200(t, post(t, f.Env, "/revoke", formOf("token", rt), basic("web", f.secrets["web"])))
	before = f.countRows(t)
	f.wantRefused(t, before, f.exchange(t, "notes-api", subject(at, protocol.TokenTypeAccessToken)), "invalid_grant")
	f.wantRefused(t, before, f.exchange(t, "notes-api", subject(rt, protocol.TokenTypeRefreshToken)), "invalid_grant")
	wantInactive(t, introspect(t, f.Env, "rs", f.secrets["rs"], exchanged)) // at once: the revocation purged the cache

	// Expired: 15 minutes of life, 16 gone.
	fresh := f.userToken(t, "notes")["access_token"].(string)
	f.Clock.Advance(16 * time.Minute)
	before = f.countRows(t)
	f.wantRefused(t, before, f.exchange(t, "notes-api", subject(fresh, protocol.TokenTypeAccessToken)), "invalid_grant")
}

// TestTokenExchangeForeignSubject: a token neither issued to a client the
// policy lists nor addressed to the exchanging client or its resources is
// refused (invalid_grant): a client cannot trade a token that merely
// passed through it (A18).
func TestTokenExchangeForeignSubject(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	user := f.userToken(t, "notes calendar")
	before := f.countRows(t)
	for name, tc := range map[string]struct {
		client string
		form   url.Values
	}{
		"audience is another service's": {"intruder", subject(user["access_token"].(string), protocol.TokenTypeAccessToken)},
		"refresh token of an unlisted client": {"notes-api",
			subject(user["refresh_token"].(string), protocol.TokenTypeRefreshToken)},
		"another client's client credentials token": {"notes-api",
			subject(f.clientToken(t, "intruder"), protocol.TokenTypeAccessToken)},
	} {
		t.Run(name, func(t *testing.T) {
			r := f.exchange(t, tc.client, tc.form)
			f.wantRefused(t, before, r, "invalid_grant")
			// The same answer as for a dead token: no oracle on tokens held by others (A23).
			if d := r.str(t, "error_description"); d != "the subject token is invalid, expired or revoked" {
				t.Errorf("description %q", d)
			}
		})
	}
}

// TestTokenExchangeWidening: scope and audience may only narrow what the
// subject carries and the client may have (invalid_scope, invalid_target).
func TestTokenExchangeWidening(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	notesOnly := wantToken(t, post(t, f.Env, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"wonderland"}, "scope": {"notes admin"}, "resource": {notesAPI}}, basic("web", f.secrets["web"])))
	at := notesOnly["access_token"].(string)
	before := f.countRows(t)
	for name, tc := range map[string]struct {
		form url.Values
		code string
	}{
		"a scope the subject lacks":             {subject(at, protocol.TokenTypeAccessToken, "scope", "notes calendar"), "invalid_scope"},
		"a scope the client may not have":       {subject(at, protocol.TokenTypeAccessToken, "scope", "admin"), "invalid_scope"},
		"a resource the user did not grant":     {subject(at, protocol.TokenTypeAccessToken, "resource", calendarAPI), "invalid_target"},
		"an audience the user did not grant":    {subject(at, protocol.TokenTypeAccessToken, "audience", calendarAPI), "invalid_target"},
		"a resource the client may not address": {subject(at, protocol.TokenTypeAccessToken, "resource", "https://intruder.example.com"), "invalid_target"},
		"a malformed resource":                  {subject(at, protocol.TokenTypeAccessToken, "resource", "/notes"), "invalid_target"},
	} {
		t.Run(name, func(t *testing.T) { f.wantRefused(t, before, f.exchange(t, "notes-api", tc.form), tc.code) })
	}
}

// TestTokenExchangeActSpoofing: act comes from verified tokens only. A
// forged actor token carrying an act claim, another client's token as
// actor, or act sent as a parameter cannot put anyone in the chain.
func TestTokenExchangeActSpoofing(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	user := f.userToken(t, "notes calendar")["access_token"].(string)
	own := f.clientToken(t, "notes-api")
	boss := func(c map[string]any) { c["sub"] = "client:admin"; c["act"] = map[string]any{"sub": "root"} }
	before := f.countRows(t)
	for name, actor := range map[string]string{
		"forged actor with an act claim":     forgeJWT(t, own, false, boss),
		"alg none actor":                     forgeJWT(t, own, true, boss),
		"another client's token":             f.clientToken(t, "intruder"),
		"the user's token, not the client's": user,
	} {
		t.Run(name, func(t *testing.T) {
			r := f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken,
				"actor_token", actor, "actor_token_type", protocol.TokenTypeJWT))
			f.wantRefused(t, before, r, "invalid_grant")
			if d := r.str(t, "error_description"); d != "the actor token is invalid, expired or revoked" {
				t.Errorf("description %q", d)
			}
		})
	}
	// An act parameter is not a parameter of RFC 8693: it is ignored.
	_, claims := wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken,
		"act", `{"sub":"root"}`)))
	if got := actOf(claims); len(got) != 1 || got[0] != "client:notes-api" {
		t.Errorf("act = %v, want only client:notes-api", got)
	}
}

// TestTokenExchangeClientsAndRequests: a client without the grant or a
// public one is unauthorized_client (S027); malformed requests are
// invalid_request (RFC 8693 §2.1), with nothing stored.
func TestTokenExchangeClientsAndRequests(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	f.AddClient(t, store.Client{ID: "spa", Public: true, GrantTypes: []string{grantExchange}, Scopes: []string{"notes"}})
	user := f.userToken(t, "notes")["access_token"].(string)
	before := f.countRows(t)
	f.wantRefused(t, before, f.exchange(t, "web", subject(user, protocol.TokenTypeAccessToken)), "unauthorized_client")
	public := subject(user, protocol.TokenTypeAccessToken, "client_id", "spa", "grant_type", grantExchange)
	f.wantRefused(t, before, post(t, f.Env, "/token", public), "unauthorized_client")
	wrong := subject(user, protocol.TokenTypeAccessToken, "grant_type", grantExchange)
	f.wantRefused(t, before, post(t, f.Env, "/token", wrong, basic("notes-api", "not-the-secret")), "invalid_client")

	for name, body := range map[string]string{
		"no subject_token":          "subject_token_type=" + url.QueryEscape(protocol.TokenTypeAccessToken),
		"no subject_token_type":     "subject_token=" + user,
		"an unknown subject type":   "subject_token=" + user + "&subject_token_type=urn:x:saml",
		"subject_token twice":       "subject_token=" + user + "&subject_token=" + user + "&subject_token_type=" + protocol.TokenTypeAccessToken,
		"actor_token without type":  "subject_token=" + user + "&subject_token_type=" + protocol.TokenTypeAccessToken + "&actor_token=" + user,
		"actor type without token":  "subject_token=" + user + "&subject_token_type=" + protocol.TokenTypeAccessToken + "&actor_token_type=" + protocol.TokenTypeJWT,
		"an unknown requested type": "subject_token=" + user + "&subject_token_type=" + protocol.TokenTypeAccessToken + "&requested_token_type=" + protocol.TokenTypeIDToken,
	} {
		t.Run(name, func(t *testing.T) {
			r := send(t, f.Env, http.MethodPost, "/token", "application/x-www-form-urlencoded",
				"grant_type="+url.QueryEscape(grantExchange)+"&"+body, basic("notes-api", f.secrets["notes-api"]))
			f.wantRefused(t, before, r, "invalid_request")
		})
	}
}
