package server_test

import (
	"net/url"
	"slices"
	"testing"
	"time"

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
	if n := f.queryStrings(t, "SELECT parent_id FROM grants WHERE client_id = 'notes-api'"); len(n) != 1 || n[0] != subj["gid"] {
		t.Errorf("child grant parent_id = %v, want the subject's grant %v", n, subj["gid"])
	}
}
