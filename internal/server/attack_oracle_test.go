package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// oracleFixture adds to grantFixture a second confidential client "other"
// without the right to introspect others' tokens.
type oracleFixture struct {
	grantFixture
	other string
}

func newOracleFixture(t *testing.T) oracleFixture {
	g := newGrantFixture(t, "jwt")
	other := g.AddClient(t, store.Client{ID: "other", GrantTypes: []string{"client_credentials", "refresh_token"}, Scopes: []string{"read"}})
	return oracleFixture{grantFixture: g, other: other}
}

// TestA23RevokeAnotherClientsToken: revoking a token issued to someone
// else is refused and revokes nothing; the token keeps working (S071).
func TestA23RevokeAnotherClientsToken(t *testing.T) {
	f := newOracleFixture(t)
	at, rt := f.login(t)
	for name, tok := range map[string]string{"access token": at, "refresh token": rt} {
		r := post(t, f.Env, "/revoke", formOf("token", tok), basic("other", f.other))
		wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
		if got := f.introspectAs(t, "rs", tok, "").JSON(t); got["active"] != true {
			t.Errorf("%s revoked by another client: %v", name, got)
		}
	}
	wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basic("app", f.app)))
}

// TestA23RevokeGarbage: unknown or invalid tokens get 200 with an empty
// body, exactly like a success (S073).
func TestA23RevokeGarbage(t *testing.T) {
	f := newOracleFixture(t)
	for _, tok := range []string{"garbage", "lk_rt_" + random43(t), "lk_at_" + random43(t), "a.b.c", "eyJhbGciOiJub25lIn0.e30."} {
		r := post(t, f.Env, "/revoke", formOf("token", tok), basic("other", f.other))
		if r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Errorf("revoke %q: %d %q, want 200 and an empty body", tok, r.Status, r.Body)
		}
	}
}

// TestA23IntrospectionNeedsConfidentialCaller: no credentials, or a public
// client's bare client_id, get 401 invalid_client (S077, S080).
func TestA23IntrospectionNeedsConfidentialCaller(t *testing.T) {
	f := newOracleFixture(t)
	at, _ := f.login(t)
	wantOAuthError(t, post(t, f.Env, "/introspect", formOf("token", at)), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, post(t, f.Env, "/introspect", formOf("token", at, "client_id", "spa")), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, post(t, f.Env, "/introspect", formOf("token", at), basic("other", "wrong")), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, post(t, f.Env, "/introspect", formOf("token", at), header("Authorization", "Bearer "+at)),
		http.StatusUnauthorized, "invalid_client")
}

// TestA23IntrospectionVisibility: a client without introspection rights
// learns exactly {"active":false} about another client's tokens, whatever
// they are; a client with Introspection: true sees everything (S077,
// S079).
func TestA23IntrospectionVisibility(t *testing.T) {
	f := newOracleFixture(t)
	at, rt := f.login(t)
	otherTok := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("other", f.other)))
	for name, tok := range map[string]string{"access token": at, "refresh token": rt} {
		r := post(t, f.Env, "/introspect", formOf("token", tok), basic("other", f.other))
		if r.Status != http.StatusOK || string(r.Body) != `{"active":false}` {
			t.Errorf("%s of app seen by other: %d %s, want exactly {\"active\":false}", name, r.Status, r.Body)
		}
		if got := f.introspectAs(t, "rs", tok, "").JSON(t); got["active"] != true || got["client_id"] != "app" {
			t.Errorf("%s seen by the resource server: %v", name, got)
		}
	}
	if got := f.introspectAs(t, "rs", otherTok["access_token"].(string), "").JSON(t); got["active"] != true {
		t.Errorf("other's token seen by the resource server: %v", got)
	}
	if got := f.introspectAs(t, "app", otherTok["access_token"].(string), "").JSON(t); len(got) != 1 {
		t.Errorf("other's token seen by app: %v", got)
	}
}

// TestA23IntrospectionSweepThrottled: a caller sweeping random tokens is
// slowed down with 429 and Retry-After after the per-client limit, in RFC
// JSON (S082, A23), while another caller is unaffected.
func TestA23IntrospectionSweepThrottled(t *testing.T) {
	f := newOracleFixture(t)
	limit := f.Config.Limits.PerClient
	at, _ := f.login(t)
	var throttled result
	for i := 0; i <= limit+1; i++ {
		r := post(t, f.Env, "/introspect", formOf("token", "lk_at_"+random43(t)), basic("other", f.other))
		if r.Status == http.StatusTooManyRequests {
			throttled = r
			if i < limit {
				t.Fatalf("throttled after %d guesses, limit is %d", i, limit)
			}
			break
		}
		wantInactive(t, r.JSON(t))
	}
	if throttled.Status != http.StatusTooManyRequests {
		t.Fatalf("%d random tokens introspected without a 429", limit+2)
	}
	wantOAuthError(t, throttled, http.StatusTooManyRequests, "invalid_request")
	if secs, err := strconv.Atoi(throttled.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q", throttled.Header.Get("Retry-After"))
	}
	// While throttled, a token the caller may not see is still refused,
	// but its own active tokens are answered, so garbage sprayed at a
	// resource server cannot make it reject valid tokens.
	if r := post(t, f.Env, "/introspect", formOf("token", at), basic("other", f.other)); r.Status != http.StatusTooManyRequests {
		t.Errorf("throttled caller asking about another client's token got %d", r.Status)
	}
	own := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("other", f.other)))
	if got := introspect(t, f.Env, "other", f.other, own["access_token"].(string)); got["active"] != true {
		t.Errorf("throttled caller's own active token: %v", got)
	}
	if got := f.introspectAs(t, "rs", at, "").JSON(t); got["active"] != true {
		t.Errorf("another caller is throttled too: %v", got)
	}
}

func random43(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
