package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

// passwordGrant signs username in with the password grant at the
// running server.
func (f *fixture) passwordGrant(t *testing.T, secret, username, pw string) error {
	t.Helper()
	conf := oauth2.Config{ClientID: "web", ClientSecret: secret, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{TokenURL: f.env.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	_, err := conf.PasswordCredentialsToken(t.Context(), username, pw)
	return err
}

// TestAdminUserLifecycle: a user created over the API signs in with the
// password grant; claims are merge-patched under If-Match; a new password
// replaces the old one; deletes are idempotent.
func TestAdminUserLifecycle(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeUsersWrite)
	web := f.env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})

	r := f.call(t, "POST", "/users", tok, `{"username":"alice","password":"correct horse","claims":{"email":"alice@example.com","name":"Alice"}}`)
	wantStatus(t, "create", r, http.StatusCreated)
	u := r.json(t)
	id, _ := u["id"].(string)
	if id == "" || strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "correct horse") {
		t.Fatalf("create: %s", r.Body)
	}
	if err := f.passwordGrant(t, web, "alice", "correct horse"); err != nil {
		t.Fatalf("the new user cannot sign in: %v", err)
	}

	r = f.call(t, "GET", "/users/"+id, tok, "")
	wantStatus(t, "get", r, http.StatusOK)
	etag := r.Header.Get("ETag")
	patch := `{"claims":{"name":null,"email_verified":true}}`
	wantProblem(t, "PATCH without If-Match", f.call(t, "PATCH", "/users/"+id, tok, patch), http.StatusPreconditionRequired)
	r = f.call(t, "PATCH", "/users/"+id, tok, patch, "If-Match", etag, "Content-Type", "application/merge-patch+json")
	wantStatus(t, "PATCH", r, http.StatusOK)
	claims := r.json(t)["claims"].(map[string]any)
	if _, has := claims["name"]; has || claims["email_verified"] != true || claims["email"] != "alice@example.com" {
		t.Fatalf("PATCH claims: %v", claims)
	}
	wantProblem(t, "PATCH stale", f.call(t, "PATCH", "/users/"+id, tok, patch, "If-Match", etag), http.StatusPreconditionFailed)
	stored, err := f.env.Store.GetUser(context.Background(), id)
	if err != nil || stored.Claims["email_verified"] != true {
		t.Fatalf("stored claims %v, %v", stored.Claims, err)
	}

	wantStatus(t, "set password", f.call(t, "PUT", "/users/"+id+"/password", tok, `{"password":"battery staple"}`), http.StatusOK)
	if err := f.passwordGrant(t, web, "alice", "correct horse"); err == nil {
		t.Fatal("the old password still works")
	}
	if err := f.passwordGrant(t, web, "alice", "battery staple"); err != nil {
		t.Fatalf("the new password does not work: %v", err)
	}

	wantStatus(t, "create bob", f.call(t, "POST", "/users", tok, `{"username":"bob","password":"pw-of-bob"}`), http.StatusCreated)
	wantProblem(t, "username taken", f.call(t, "POST", "/users", tok, `{"username":"bob","password":"x"}`), http.StatusConflict)
	wantProblem(t, "rename onto bob", f.call(t, "PATCH", "/users/"+id, tok, `{"username":"bob"}`, "If-Match", "*"), http.StatusConflict)
	wantProblem(t, "no password", f.call(t, "POST", "/users", tok, `{"username":"carol"}`), http.StatusBadRequest, "password")
	wantProblem(t, "no username", f.call(t, "POST", "/users", tok, `{"password":"x"}`), http.StatusBadRequest, "username")
	wantProblem(t, "claims not an object", f.call(t, "POST", "/users", tok, `{"username":"carol","password":"x","claims":[1]}`), http.StatusBadRequest, "claims")
	wantProblem(t, "empty new password", f.call(t, "PUT", "/users/"+id+"/password", tok, `{"password":""}`), http.StatusBadRequest, "password")
	wantProblem(t, "unknown user", f.call(t, "GET", "/users/nope", tok, ""), http.StatusNotFound)

	r = f.call(t, "GET", "/users?username_prefix=al&limit=1", tok, "")
	wantStatus(t, "search", r, http.StatusOK)
	if items := r.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["username"] != "alice" {
		t.Fatalf("search: %s", r.Body)
	}
	wantStatus(t, "delete", f.call(t, "DELETE", "/users/"+id, tok, ""), http.StatusNoContent)
	wantStatus(t, "delete again", f.call(t, "DELETE", "/users/"+id, tok, ""), http.StatusNoContent)
	if err := f.passwordGrant(t, web, "alice", "battery staple"); err == nil {
		t.Fatal("a deleted user still signs in")
	}
}

// TestAdminKeys lists the signing keys with their state and stages a
// rotation: the new keys are pending, then listed.
func TestAdminKeys(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeKeysWrite)
	r := f.call(t, "GET", "/keys", tok, "")
	wantStatus(t, "list", r, http.StatusOK)
	before := r.json(t)["items"].([]any)
	if len(before) == 0 || before[0].(map[string]any)["state"] != "active" {
		t.Fatalf("keys: %s", r.Body)
	}
	if strings.Contains(string(r.Body), `"d"`) {
		t.Fatalf("a private part is listed: %s", r.Body)
	}
	r = f.call(t, "POST", "/keys/rotation", tok, "")
	wantStatus(t, "rotate", r, http.StatusCreated)
	added := r.json(t)["items"].([]any)
	if len(added) == 0 {
		t.Fatalf("rotation added nothing: %s", r.Body)
	}
	after := f.call(t, "GET", "/keys", tok, "").json(t)["items"].([]any)
	if len(after) != len(before)+len(added) {
		t.Fatalf("%d keys after rotation, want %d", len(after), len(before)+len(added))
	}
}

// TestAdminInitialTokens mints, lists and revokes initial access tokens
// of dynamic registration; the value is shown once and only its digest
// is stored.
func TestAdminInitialTokens(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeClientsWrite)
	wantProblem(t, "negative uses", f.call(t, "POST", "/registration/tokens", tok, `{"max_uses":-1}`), http.StatusBadRequest, "max_uses")
	wantProblem(t, "no life", f.call(t, "POST", "/registration/tokens", tok, `{"expires_in":0}`), http.StatusBadRequest, "expires_in")
	r := f.call(t, "POST", "/registration/tokens", tok, `{"max_uses":0}`)
	wantStatus(t, "mint", r, http.StatusCreated)
	minted := r.json(t)
	value, _ := minted["initial_access_token"].(string)
	if !strings.HasPrefix(value, "lk_") || minted["uses_left"] != nil {
		t.Fatalf("mint: %s", r.Body)
	}
	stored, err := f.env.Store.ListInitialTokens(context.Background())
	if err != nil || len(stored) != 1 || stored[0].UsesLeft != -1 || strings.Contains(stored[0].Digest, value) {
		t.Fatalf("stored %v, %v", stored, err)
	}
	r = f.call(t, "GET", "/registration/tokens", tok, "")
	if strings.Contains(string(r.Body), value) || len(r.json(t)["items"].([]any)) != 1 {
		t.Fatalf("list: %s", r.Body)
	}
	path := "/registration/tokens/" + minted["id"].(string)
	wantStatus(t, "revoke", f.call(t, "DELETE", path, tok, ""), http.StatusNoContent)
	wantStatus(t, "revoke again", f.call(t, "DELETE", path, tok, ""), http.StatusNoContent)
	if stored, _ := f.env.Store.ListInitialTokens(context.Background()); len(stored) != 0 {
		t.Fatalf("revoked token still stored: %v", stored)
	}
}
