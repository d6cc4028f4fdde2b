package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// Token exchange (RFC 8693): a user signs in to "web", whose grant the user
// consented to for the notes and the calendar API; web calls the notes API
// with a token addressed to it alone; the notes API's client "notes-api"
// exchanges that token for one to call the calendar API for the user.

const grantExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// exchangeFixture has the user alice, her app "web" (password and refresh
// grants, both APIs as resources), the notes API's client "notes-api"
// (token exchange; it may address both APIs), "intruder" (token exchange,
// another resource), the resource server "rs" (introspects everything)
// and the secrets of all of them.
type exchangeFixture struct {
	*fixture
	secrets map[string]string
}

func newExchangeFixture(t *testing.T, notesAPIClient store.Client) exchangeFixture {
	t.Helper()
	f := exchangeFixture{fixture: newFixture(t, generous), secrets: map[string]string{}}
	f.AddUser(t, "alice", "wonderland", nil)
	for _, c := range []store.Client{
		{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "notes", "calendar", "admin"},
			Resources: []string{notesAPI, calendarAPI}},
		notesAPIClient,
		{ID: "intruder", GrantTypes: []string{grantExchange, "client_credentials"}, Scopes: []string{"notes", "calendar", "admin"},
			Resources: []string{"https://intruder.example.com"}},
		{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true},
	} {
		f.secrets[c.ID] = f.AddClient(t, c)
	}
	return f
}

// notesAPIClient is the notes API's client with the given policy.
func notesAPIClient(policy store.ExchangePolicy, grants ...string) store.Client {
	return store.Client{ID: "notes-api", GrantTypes: append([]string{grantExchange, "client_credentials"}, grants...),
		Scopes: []string{"notes", "calendar"}, Resources: []string{notesAPI, calendarAPI}, TokenExchange: policy}
}

// userToken signs alice in at web with scope and both APIs, then
// refreshes to a token addressed to the notes API only: the grant holds
// both resources, the token one (RFC 8707 §2.2). It returns the response.
func (f exchangeFixture) userToken(t *testing.T, scope string) map[string]any {
	t.Helper()
	login := wantToken(t, post(t, f.Env, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"wonderland"}, "scope": {scope}, "resource": {notesAPI, calendarAPI}}, basic("web", f.secrets["web"])))
	return wantToken(t, post(t, f.Env, "/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {login["refresh_token"].(string)}, "resource": {notesAPI}}, basic("web", f.secrets["web"])))
}

// exchange sends a token exchange request as client.
func (f exchangeFixture) exchange(t *testing.T, client string, form url.Values) result {
	t.Helper()
	form.Set("grant_type", grantExchange)
	return post(t, f.Env, "/token", form, basic(client, f.secrets[client]))
}

// subject is the form of an exchange of subject token tok of type typ.
func subject(tok, typ string, more ...string) url.Values {
	form := formOf(more...)
	form.Set("subject_token", tok)
	form.Set("subject_token_type", typ)
	return form
}

// wantExchanged checks an RFC 8693 §2.2.1 response for an access token and
// returns it with the claims of the JWT.
func wantExchanged(t *testing.T, r result) (body, claims map[string]any) {
	t.Helper()
	body = wantToken(t, r)
	if body["issued_token_type"] != protocol.TokenTypeAccessToken {
		t.Errorf("issued_token_type = %v, want %s (RFC 8693 §2.2.1)", body["issued_token_type"], protocol.TokenTypeAccessToken)
	}
	_, claims = azJWT(t, body["access_token"].(string))
	return body, claims
}

// actOf returns the act claim chain of claims as subjects, outermost first.
func actOf(claims map[string]any) []string {
	var out []string
	for act, _ := claims["act"].(map[string]any); act != nil; act, _ = act["act"].(map[string]any) {
		sub, _ := act["sub"].(string)
		out = append(out, sub)
	}
	return out
}

// TestTokenExchangeDelegation is the main case: notes-api exchanges the
// user's token for the notes API (aud names one of its resources) for a
// token to the calendar API, which the user's grant holds. The issued
// token is the user's, names notes-api as actor (RFC 8693 §4.1), carries
// the asked-for resource only, and lives no longer than the subject.
func TestTokenExchangeDelegation(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	user := f.userToken(t, "notes calendar")
	at := user["access_token"].(string)
	if got := audOf(t, at); !slices.Equal(got, []string{notesAPI}) {
		t.Fatalf("subject token aud = %v, want only the notes API", got)
	}
	_, subj := azJWT(t, at)
	f.Clock.Advance(5 * time.Minute) // the subject has 10 of its 15 minutes left

	body, claims := wantExchanged(t, f.exchange(t, "notes-api", subject(at, protocol.TokenTypeAccessToken,
		"resource", calendarAPI, "scope", "calendar")))
	if body["scope"] != "calendar" || body["token_type"] != "Bearer" {
		t.Errorf("scope %v, token_type %v; want calendar, Bearer", body["scope"], body["token_type"])
	}
	if exp := body["expires_in"].(float64); exp > 600 || exp < 590 {
		t.Errorf("expires_in = %v, want the subject's remaining 600 s at most", exp)
	}
	if claims["exp"].(float64) > subj["exp"].(float64) {
		t.Errorf("exp %v is after the subject token's %v", claims["exp"], subj["exp"])
	}
	if claims["sub"] != subj["sub"] || claims["client_id"] != "notes-api" {
		t.Errorf("sub %v client_id %v; want the user %v and notes-api", claims["sub"], claims["client_id"], subj["sub"])
	}
	if got := audOf(t, body["access_token"].(string)); !slices.Equal(got, []string{calendarAPI}) {
		t.Errorf("aud = %v, want the calendar API only", got)
	}
	act, _ := claims["act"].(map[string]any)
	if act["sub"] != "client:notes-api" || act["client_id"] != "notes-api" || act["act"] != nil {
		t.Errorf("act = %v, want {sub: client:notes-api, client_id: notes-api}", claims["act"])
	}

	// Introspection shows the chain (RFC 8693 §4.1) and the token is active.
	got := introspect(t, f.Env, "rs", f.secrets["rs"], body["access_token"].(string))
	gotAct, _ := got["act"].(map[string]any)
	if got["active"] != true || gotAct["sub"] != "client:notes-api" || got["username"] != "alice" {
		t.Errorf("introspection = %v, want active with act client:notes-api for alice", got)
	}
	// Without a refresh token nothing outlives the access token: it rests
	// on the subject's grant and the exchange writes no grant of its own.
	if claims["gid"] != subj["gid"] {
		t.Errorf("gid = %v, want the subject's grant %v", claims["gid"], subj["gid"])
	}
	if n := f.queryStrings(t, "SELECT id FROM grants WHERE client_id = 'notes-api'"); len(n) != 0 {
		t.Errorf("the exchange stored grants %v, want none", n)
	}
}

// calendarAPIClient is the calendar API's client: it may exchange what
// notes-api was issued, and address the calendar API.
var calendarAPIClient = store.Client{ID: "calendar-api", GrantTypes: []string{grantExchange, "client_credentials"},
	Scopes: []string{"calendar"}, Resources: []string{calendarAPI},
	TokenExchange: store.ExchangePolicy{AllowedSubjectClients: []string{"notes-api"}}}

// clientToken is a client credentials token of client.
func (f exchangeFixture) clientToken(t *testing.T, client string) string {
	t.Helper()
	return wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"),
		basic(client, f.secrets[client])))["access_token"].(string)
}

// TestTokenExchangeActorChain checks the act claim (RFC 8693 §4.1): an
// exchanged token exchanged again keeps the earlier actor innermost; an
// actor token of the client's own names its subject, with the actor's own
// chain nested below it; and the chain stops growing at four actors
// (invalid_request beyond).
func TestTokenExchangeActorChain(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	f.secrets["calendar-api"] = f.AddClient(t, calendarAPIClient)
	user := f.userToken(t, "notes calendar")["access_token"].(string)
	_, t1 := wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken, "resource", calendarAPI)))
	t1Token := f.exchangeToken(t, "notes-api", subject(user, protocol.TokenTypeAccessToken, "resource", calendarAPI))
	if got := actOf(t1); !slices.Equal(got, []string{"client:notes-api"}) {
		t.Fatalf("first exchange act = %v", got)
	}

	// The calendar API's own client credentials token as actor.
	own := f.clientToken(t, "calendar-api")
	_, t2 := wantExchanged(t, f.exchange(t, "calendar-api", subject(t1Token, protocol.TokenTypeAccessToken,
		"actor_token", own, "actor_token_type", protocol.TokenTypeAccessToken)))
	if got := actOf(t2); !slices.Equal(got, []string{"client:calendar-api", "client:notes-api"}) {
		t.Errorf("act with the client's own actor token = %v, want calendar-api then notes-api", got)
	}
	if t2["sub"] != t1["sub"] {
		t.Errorf("sub = %v, want the user's %v", t2["sub"], t1["sub"])
	}

	// An exchanged token of its own as actor: its subject acts, its chain
	// nested below, then the subject token's chain.
	t2Token := f.exchangeToken(t, "calendar-api", subject(t1Token, protocol.TokenTypeAccessToken))
	_, t3 := wantExchanged(t, f.exchange(t, "calendar-api", subject(t1Token, protocol.TokenTypeAccessToken,
		"actor_token", t2Token, "actor_token_type", protocol.TokenTypeJWT)))
	want := []string{t1["sub"].(string), "client:calendar-api", "client:notes-api", "client:notes-api"}
	if got := actOf(t3); !slices.Equal(got, want) {
		t.Errorf("act with an exchanged actor token = %v, want %v", got, want)
	}

	// Exchanging its own tokens again and again: four actors, then no more.
	tok := t2Token // act: calendar-api, notes-api
	for depth := 3; depth <= 4; depth++ {
		tok = f.exchangeToken(t, "calendar-api", subject(tok, protocol.TokenTypeAccessToken))
	}
	r := f.exchange(t, "calendar-api", subject(tok, protocol.TokenTypeAccessToken))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
}

// exchangeToken runs an exchange that must succeed and returns the token.
func (f exchangeFixture) exchangeToken(t *testing.T, client string, form url.Values) string {
	t.Helper()
	body, _ := wantExchanged(t, f.exchange(t, client, form))
	return body["access_token"].(string)
}

// TestTokenExchangeImpersonation: with impersonation: true and no actor
// token the issued token has no act (RFC 8693 §1.1); an actor token still
// makes it delegation. Without the policy the client is always named.
func TestTokenExchangeImpersonation(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{Impersonation: true}))
	user := f.userToken(t, "notes")["access_token"].(string)
	_, claims := wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken)))
	if claims["act"] != nil {
		t.Errorf("impersonation: act = %v, want none", claims["act"])
	}
	got := introspect(t, f.Env, "rs", f.secrets["rs"], f.exchangeToken(t, "notes-api", subject(user, protocol.TokenTypeAccessToken)))
	if got["active"] != true || got["act"] != nil {
		t.Errorf("introspection of an impersonating token = %v, want active without act", got)
	}
	own := f.clientToken(t, "notes-api")
	_, claims = wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken,
		"actor_token", own, "actor_token_type", protocol.TokenTypeJWT)))
	if got := actOf(claims); !slices.Equal(got, []string{"client:notes-api"}) {
		t.Errorf("impersonation policy with an actor token: act = %v, want the actor", got)
	}
}

// TestTokenExchangeSubjectKinds exchanges each kind of Latchkey token as
// subject (RFC 8693 §3): a refresh token (which stays usable: exchange does
// not consume it), an ID token (identity only: the client's own scopes),
// and an opaque access token. Each issued token is alice's.
func TestTokenExchangeSubjectKinds(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{AllowedSubjectClients: []string{"web", "mobile"}}))
	f.secrets["mobile"] = f.AddClient(t, store.Client{ID: "mobile", GrantTypes: []string{"password"},
		Scopes: []string{"notes"}, AccessTokenFormat: "opaque"})
	login := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", "alice",
		"password", "wonderland", "scope", "openid notes calendar"), basic("web", f.secrets["web"])))
	mobile := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", "alice",
		"password", "wonderland", "scope", "notes"), basic("mobile", f.secrets["mobile"])))
	_, id := azJWT(t, login["id_token"].(string))

	for name, tc := range map[string]struct {
		tok, typ, scope string
	}{
		"refresh token":       {login["refresh_token"].(string), protocol.TokenTypeRefreshToken, "notes calendar"},
		"ID token":            {login["id_token"].(string), protocol.TokenTypeIDToken, "notes calendar"},
		"opaque access token": {mobile["access_token"].(string), protocol.TokenTypeAccessToken, "notes"},
		"JWT access token":    {login["access_token"].(string), protocol.TokenTypeAccessToken, "notes calendar"},
		"JWT access as jwt":   {login["access_token"].(string), protocol.TokenTypeJWT, "notes calendar"},
	} {
		t.Run(name, func(t *testing.T) {
			body, claims := wantExchanged(t, f.exchange(t, "notes-api", subject(tc.tok, tc.typ)))
			if claims["sub"] != id["sub"] || body["scope"] != tc.scope {
				t.Errorf("sub %v scope %v, want alice's %v and %q", claims["sub"], body["scope"], id["sub"], tc.scope)
			}
		})
	}
	// The refresh token was not consumed.
	wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token",
		login["refresh_token"].(string)), basic("web", f.secrets["web"])))
}

// TestTokenExchangeRefreshTokens: requested_token_type refresh_token needs
// the policy (invalid_request without); with it the refresh token comes in
// access_token, issued_token_type refresh_token, token_type N_A (RFC 8693
// §2.2.1). Refreshing it keeps the subject and the act claim.
func TestTokenExchangeRefreshTokens(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{RefreshTokens: true}, "refresh_token"))
	plain := notesAPIClient(store.ExchangePolicy{}, "refresh_token")
	plain.ID = "plain"
	f.secrets["plain"] = f.AddClient(t, plain)
	user := f.userToken(t, "notes calendar")["access_token"].(string)
	_, subj := azJWT(t, user)
	ask := func() url.Values {
		return subject(user, protocol.TokenTypeAccessToken, "requested_token_type", protocol.TokenTypeRefreshToken)
	}

	wantOAuthError(t, f.exchange(t, "plain", ask()), http.StatusBadRequest, "invalid_request")

	r := f.exchange(t, "notes-api", ask())
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	rt, _ := body["access_token"].(string)
	if body["issued_token_type"] != protocol.TokenTypeRefreshToken || body["token_type"] != "N_A" ||
		!strings.HasPrefix(rt, "lk_rt_") || body["refresh_token"] != nil {
		t.Fatalf("response = %v, want a refresh token in access_token, N_A (RFC 8693 §2.2.1)", body)
	}
	// A refresh token outlives the access token, so it lives in a child
	// grant of the subject's, which revoking the user's grant revokes.
	if n := f.queryStrings(t, "SELECT parent_id FROM grants WHERE client_id = 'notes-api'"); len(n) != 1 || n[0] != subj["gid"] {
		t.Errorf("child grant parent_id = %v, want the subject's grant %v", n, subj["gid"])
	}
	refreshed := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt),
		basic("notes-api", f.secrets["notes-api"])))
	_, claims := azJWT(t, refreshed["access_token"].(string))
	if claims["sub"] != subj["sub"] || !slices.Equal(actOf(claims), []string{"client:notes-api"}) {
		t.Errorf("refreshed: sub %v act %v, want the user and client:notes-api", claims["sub"], actOf(claims))
	}

	// An access token asked for comes with a refresh token under the policy.
	body, _ = wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken)))
	if rt, _ := body["refresh_token"].(string); !strings.HasPrefix(rt, "lk_rt_") {
		t.Errorf("refresh_token = %v, want one under refresh_tokens: true", body["refresh_token"])
	}
}

// TestTokenExchangeNarrowing: with nothing asked, the issued scope is what
// the subject carries and the client may have, and the audience every
// resource of the user's grant the client may address; asked ones narrow.
func TestTokenExchangeNarrowing(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	user := f.userToken(t, "notes calendar admin")["access_token"].(string)
	body, _ := wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken)))
	if body["scope"] != "notes calendar" {
		t.Errorf("default scope = %v, want the subject's minus admin, which notes-api may not have", body["scope"])
	}
	if got := audOf(t, body["access_token"].(string)); !slices.Equal(got, []string{notesAPI, calendarAPI}) {
		t.Errorf("default aud = %v, want both resources of the user's grant", got)
	}
	body, _ = wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken,
		"scope", "notes", "audience", notesAPI)))
	if body["scope"] != "notes" || !slices.Equal(audOf(t, body["access_token"].(string)), []string{notesAPI}) {
		t.Errorf("narrowed: scope %v aud %v, want notes and the notes API", body["scope"], audOf(t, body["access_token"].(string)))
	}
}

// TestTokenExchangeDPoP: a DPoP proof with the exchange binds the issued
// token to its key (RFC 9449 §5, S163, S166), as for every other grant.
func TestTokenExchangeDPoP(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	user := f.userToken(t, "notes")["access_token"].(string)
	p := newProver(t, f.Clock)
	form := subject(user, protocol.TokenTypeAccessToken)
	form.Set("grant_type", grantExchange)
	r := post(t, f.Env, "/token", form, basic("notes-api", f.secrets["notes-api"]),
		header("DPoP", proof(t, p, f.Env, http.MethodPost, "/token", "", "")))
	body := wantBound(t, r, p.Thumbprint())
	if body["issued_token_type"] != protocol.TokenTypeAccessToken {
		t.Errorf("issued_token_type = %v", body["issued_token_type"])
	}
}

// TestTokenExchangeEndsWithItsClient: an exchanged token rests on the
// user's grant, which is another client's, so deleting the exchanging
// client must end it by itself: introspection says inactive, while the
// user's own token, under the same grant, stays active.
func TestTokenExchangeEndsWithItsClient(t *testing.T) {
	f := newExchangeFixture(t, notesAPIClient(store.ExchangePolicy{}))
	user := f.userToken(t, "notes calendar")["access_token"].(string)
	body, _ := wantExchanged(t, f.exchange(t, "notes-api", subject(user, protocol.TokenTypeAccessToken, "resource", calendarAPI)))
	exchanged := body["access_token"].(string)
	if got := introspect(t, f.Env, "rs", f.secrets["rs"], exchanged); got["active"] != true {
		t.Fatalf("the exchanged token before its client is deleted: %v, want active", got)
	}
	// Deleted elsewhere (another instance, the CLI): this one sees it once
	// its read cache has expired.
	if err := f.Store.DeleteClient(t.Context(), "notes-api"); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(config.Default().Database.CacheTTL.D() + time.Second)
	if got := introspect(t, f.Env, "rs", f.secrets["rs"], exchanged); got["active"] != false {
		t.Errorf("the exchanged token of a deleted client: %v, want inactive", got)
	}
	if got := introspect(t, f.Env, "rs", f.secrets["rs"], user); got["active"] != true {
		t.Errorf("the user's own token under the same grant: %v, want active", got)
	}
}
