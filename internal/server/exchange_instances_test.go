package server_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestTokenExchangeAcrossInstances runs token exchange on PostgreSQL with
// two instances joined by the database only (as TestReplayAcrossInstances
// explains): a token exchanged on A, and exchanged again on B, dies with
// the user's grant when B revokes it: the cascade is the store's, in one
// transaction, and A sees it within database.cache_ttl.
func TestTokenExchangeAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: generous})
	b := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: func(c *server.Config) {
		generous(c)
		c.Issuer = a.URL // one issuer, two listeners
	}})
	f := exchangeFixture{fixture: &fixture{Env: a}, secrets: map[string]string{}}
	f.AddUser(t, "alice", "wonderland", nil)
	for _, c := range []store.Client{
		{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"notes", "calendar"},
			Resources: []string{notesAPI, calendarAPI}},
		notesAPIClient(store.ExchangePolicy{}),
		calendarAPIClient,
		{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true},
	} {
		f.secrets[c.ID] = f.AddClient(t, c)
	}
	user := f.userToken(t, "notes calendar")
	first := f.exchangeToken(t, "notes-api", subject(user["access_token"].(string), protocol.TokenTypeAccessToken,
		"resource", calendarAPI))
	onB := exchangeFixture{fixture: &fixture{Env: b}, secrets: f.secrets}
	second := onB.exchangeToken(t, "calendar-api", subject(first, protocol.TokenTypeAccessToken))
	for _, tok := range []string{first, second} {
		if got := introspect(t, a, "rs", f.secrets["rs"], tok); got["active"] != true {
			t.Fatalf("exchanged token inactive on A before any revocation: %v", got)
		}
	}

	wantRevoked200(t, post(t, b, "/revoke", formOf("token", user["refresh_token"].(string)), basic("web", f.secrets["web"])))
	for _, tok := range []string{first, second} {
		wantInactive(t, introspect(t, b, "rs", f.secrets["rs"], tok)) // at once where it was revoked
	}
	a.Clock.Advance(config.Default().Database.CacheTTL.D() + time.Millisecond)
	for _, tok := range []string{first, second} {
		wantInactive(t, introspect(t, a, "rs", f.secrets["rs"], tok))
	}
}
