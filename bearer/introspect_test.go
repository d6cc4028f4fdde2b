package bearer_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// rsSecret has the characters RFC 6749 §2.3.1 makes clients form-encode
// before HTTP Basic (S003).
const rsSecret = "s3cr+t %:-é"

// opaqueEnv is a Latchkey with a resource-server client allowed to
// introspect, an app client issuing opaque tokens for notes, and a
// validator on the server's clock.
type opaqueEnv struct {
	env       *testenv.Env
	v         *bearer.Validator
	cnt       *counter
	appSecret string
}

func newOpaqueEnv(t *testing.T, edit func(*bearer.Config)) *opaqueEnv {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	env.AddClientWithSecret(t, store.Client{ID: "notes-api", GrantTypes: []string{"client_credentials"}, Introspection: true}, rsSecret)
	o := &opaqueEnv{env: env, appSecret: addClient(t, env, "reports", []string{"read", "write"}, "opaque")}
	o.v, o.cnt = newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) {
		c.Introspection = &bearer.IntrospectionConfig{ClientID: "notes-api", ClientSecret: rsSecret}
		if edit != nil {
			edit(c)
		}
	})
	return o
}

func (o *opaqueEnv) token(t *testing.T) string {
	t.Helper()
	raw := getToken(t, o.env, "reports", o.appSecret, "read")
	if !strings.HasPrefix(raw, "lk_at_") {
		t.Fatalf("not an opaque token: %s", raw)
	}
	return raw
}

// RFC 7662: an opaque token is accepted by introspection, and the answer
// is reused — one call for many requests, even concurrent ones.
func TestIntrospectionAcceptsOpaque(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	raw := o.token(t)
	for range 5 {
		c, err := o.v.Validate(context.Background(), raw)
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if c.Subject != "client:reports" || !c.IsClient() || !c.HasScope("read") || c.HasScope("write") || c.Issuer != o.env.URL {
			t.Fatalf("claims %+v", c)
		}
	}
	if n := o.cnt.count("/introspect"); n != 1 {
		t.Fatalf("%d introspection calls, want 1", n)
	}

	raw = o.token(t)
	for _, err := range testkit.AtOnce(20, func(int) error {
		_, err := o.v.Validate(context.Background(), raw)
		return err
	}) {
		if err != nil {
			t.Error(err)
		}
	}
	if n := o.cnt.count("/introspect"); n != 2 {
		t.Fatalf("%d introspection calls, want 2", n)
	}

	// A JWT is still checked locally.
	jwtSecret := addClient(t, o.env, "jwt-app", []string{"read"}, "")
	if _, err := o.v.Validate(context.Background(), getToken(t, o.env, "jwt-app", jwtSecret)); err != nil {
		t.Fatal(err)
	}
	if n := o.cnt.count("/introspect"); n != 2 {
		t.Fatalf("a JWT was introspected")
	}
}

// RFC 7009 + S083: a revoked token stops working once the cached answer
// runs out (CacheTTL), and not before.
func TestIntrospectionRevoked(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	raw := o.token(t)
	if _, err := o.v.Validate(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(o.env.URL+"/revoke", url.Values{"token": {raw}, "client_id": {"reports"}, "client_secret": {o.appSecret}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := o.v.Validate(context.Background(), raw); err != nil {
		t.Fatalf("within the cache TTL the answer is reused: %v", err)
	}
	o.env.Clock.Advance(bearer.DefaultIntrospectionTTL + time.Second)
	_, err = o.v.Validate(context.Background(), raw)
	wantErr(t, err, bearer.ErrInactive)

	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	w := httptest.NewRecorder()
	notesAPI(o.v).ServeHTTP(w, r)
	checkAnswer(t, w, 401, realm+`, error="invalid_token", error_description="the token is not active"`, "invalid_token")
}

// S083: a cached answer never outlives the token's exp.
func TestIntrospectionCacheBoundedByExpiry(t *testing.T) {
	o := newOpaqueEnv(t, func(c *bearer.Config) { c.Introspection.CacheTTL = time.Hour })
	short := o.env.AddClient(t, store.Client{
		ID: "short", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		Audience: []string{notesAudience}, AccessTokenFormat: "opaque", AccessTokenTTL: 40 * time.Second,
	})
	raw := getToken(t, o.env, "short", short)
	if _, err := o.v.Validate(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	o.env.Clock.Advance(41 * time.Second)
	_, err := o.v.Validate(context.Background(), raw)
	wantErr(t, err, bearer.ErrInactive)
	if n := o.cnt.count("/introspect"); n != 2 {
		t.Fatalf("%d introspection calls, want 2", n)
	}
}

// Unknown tokens are refused, and the refusal is remembered for a few
// seconds, so a flood of one bad token costs one call.
func TestIntrospectionInactiveCachedBriefly(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	garbage := "lk_at_" + rand.Text()
	for range 3 {
		_, err := o.v.Validate(context.Background(), garbage)
		wantErr(t, err, bearer.ErrInactive)
	}
	if n := o.cnt.count("/introspect"); n != 1 {
		t.Fatalf("%d introspection calls, want 1", n)
	}
	o.env.Clock.Advance(6 * time.Second)
	o.v.Validate(context.Background(), garbage)
	if n := o.cnt.count("/introspect"); n != 2 {
		t.Fatalf("%d introspection calls, want 2", n)
	}
}

// A18: a refresh token is active at introspection, but it is no access
// token for this resource server (no aud, no token_type Bearer).
func TestIntrospectionRefusesRefreshToken(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	secret := o.env.AddClient(t, store.Client{
		ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "read"},
		Audience: []string{notesAudience}, AccessTokenFormat: "opaque",
	})
	o.env.AddUser(t, "alice", "pw", nil)
	tok := passwordToken(t, o.env, "web", secret)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	if _, err := o.v.Validate(context.Background(), tok.AccessToken); err != nil {
		t.Fatalf("the user's access token: %v", err)
	}
	_, err := o.v.Validate(context.Background(), tok.RefreshToken)
	wantErr(t, err, bearer.ErrAudience)
}

// An authorization server that cannot answer makes the middleware answer
// 503 with Retry-After, not 401: the token may be valid.
func TestIntrospectionUnavailable(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	raw := o.token(t)
	o.env.Server.Close()
	_, err := o.v.Validate(context.Background(), raw)
	wantErr(t, err, bearer.ErrUnavailable)

	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	w := httptest.NewRecorder()
	notesAPI(o.v).ServeHTTP(w, r)
	if w.Code != 503 || w.Header().Get("Retry-After") != "5" || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("answer %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// Wrong resource-server credentials are our fault, not the client's: 503.
func TestIntrospectionWrongCredentials(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	v, _ := newValidator(t, o.env.URL, o.env.Clock.Now, func(c *bearer.Config) {
		c.Introspection = &bearer.IntrospectionConfig{ClientID: "notes-api", ClientSecret: "wrong"}
	})
	_, err := v.Validate(context.Background(), o.token(t))
	wantErr(t, err, bearer.ErrUnavailable)
}

// S077: a resource server without the introspection permission sees
// other clients' tokens as inactive.
func TestIntrospectionNeedsPermission(t *testing.T) {
	o := newOpaqueEnv(t, nil)
	o.env.AddClientWithSecret(t, store.Client{ID: "nosy", GrantTypes: []string{"client_credentials"}}, rsSecret)
	v, _ := newValidator(t, o.env.URL, o.env.Clock.Now, func(c *bearer.Config) {
		c.Introspection = &bearer.IntrospectionConfig{ClientID: "nosy", ClientSecret: rsSecret}
	})
	_, err := v.Validate(context.Background(), o.token(t))
	wantErr(t, err, bearer.ErrInactive)
}
