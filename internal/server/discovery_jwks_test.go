package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

func metadata(t *testing.T, env *testenv.Env, path string) (result, map[string]any) {
	t.Helper()
	r := send(t, env, http.MethodGet, path, "", "")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %d %s", path, r.Status, r.Header.Get("Content-Type"))
	}
	return r, r.JSON(t)
}

// TestMetadataDocumentsIdentical checks S096 and S098: RFC 8414 and OIDC
// Discovery serve the same bytes, the issuer is the configured one byte
// for byte, every endpoint lives under it, and the required members are
// there (S094).
func TestMetadataDocumentsIdentical(t *testing.T) {
	f := newFixture(t, nil)
	oauth, doc := metadata(t, f.Env, "/.well-known/oauth-authorization-server")
	oidc, _ := metadata(t, f.Env, "/.well-known/openid-configuration")
	if !bytes.Equal(oauth.Body, oidc.Body) {
		t.Errorf("documents differ:\n%s\n%s", oauth.Body, oidc.Body)
	}
	if !bytes.Contains(oauth.Body, []byte(`"issuer":"`+f.URL+`"`)) {
		t.Errorf("issuer is not %q byte for byte: %s", f.URL, oauth.Body)
	}
	for _, k := range []string{"token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"} {
		if s, _ := doc[k].(string); len(s) <= len(f.URL) || s[:len(f.URL)] != f.URL {
			t.Errorf("%s = %v is not under the issuer", k, doc[k])
		}
	}
	for _, k := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported", "scopes_supported"} {
		if list, _ := doc[k].([]any); len(list) == 0 {
			t.Errorf("%s missing or empty (S094, S097)", k)
		}
	}
	if methods := doc["introspection_endpoint_auth_methods_supported"].([]any); slices.Contains(methods, any("none")) {
		t.Error("introspection advertises auth method none (S077)")
	}
}

// TestMetadataPasswordGrantOnlyWhileEnabled checks decision 0.1: password
// is in grant_types_supported only while some client may use it; the
// document is cached for ~30 s, after which it follows the clients.
func TestMetadataPasswordGrantOnlyWhileEnabled(t *testing.T) {
	f := newFixture(t, nil)
	f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}})
	grants := func() []any {
		_, doc := metadata(t, f.Env, "/.well-known/openid-configuration")
		return doc["grant_types_supported"].([]any)
	}
	if slices.Contains(grants(), any("password")) {
		t.Fatal("password advertised with no password client")
	}
	f.AddClient(t, store.Client{ID: "legacy", GrantTypes: []string{"password"}})
	if slices.Contains(grants(), any("password")) {
		t.Error("metadata rebuilt before the cache lifetime ended")
	}
	f.Clock.Advance(31 * time.Second)
	if !slices.Contains(grants(), any("password")) {
		t.Error("password not advertised 31 s after a password client was added")
	}
	if err := f.Store.DeleteClient(t.Context(), "legacy"); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(31 * time.Second)
	if slices.Contains(grants(), any("password")) {
		t.Error("password still advertised after the last password client went")
	}
}

// jwks fetches the JWKS as raw JSON maps, to see every member.
func jwks(t *testing.T, env *testenv.Env) (result, []map[string]any) {
	t.Helper()
	r := send(t, env, http.MethodGet, "/jwks", "", "")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks: %v: %s", err, r.Body)
	}
	return r, set.Keys
}

func kids(keys []map[string]any) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k["kid"].(string))
	}
	return out
}

// TestJWKSPublicOnly checks S243 and S237: public keys only, unique kids,
// use sig, an alg each, RS256 among them (S229), and a max-age short next
// to the activation delay.
func TestJWKSPublicOnly(t *testing.T) {
	f := newFixture(t, nil)
	r, keys := jwks(t, f.Env)
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	m := regexp.MustCompile(`max-age=(\d+)`).FindStringSubmatch(r.Header.Get("Cache-Control"))
	if m == nil {
		t.Fatalf("Cache-Control %q has no max-age", r.Header.Get("Cache-Control"))
	}
	if age, _ := strconv.Atoi(m[1]); age <= 0 || time.Duration(age)*time.Second > f.Config.KeyActivationDelay/2 {
		t.Errorf("max-age %d is not well below the activation delay %v", age, f.Config.KeyActivationDelay)
	}
	seen := map[string]bool{}
	var algs []string
	for _, k := range keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes private member %q (S243)", k["kid"], private)
			}
		}
		kid, _ := k["kid"].(string)
		if kid == "" || seen[kid] {
			t.Errorf("kid %q missing or repeated (A14)", kid)
		}
		seen[kid] = true
		if k["use"] != "sig" || k["alg"] == nil {
			t.Errorf("key %s: use %v alg %v", kid, k["use"], k["alg"])
		}
		algs = append(algs, k["alg"].(string))
	}
	slices.Sort(algs)
	if !slices.Equal(algs, []string{"ES256", "EdDSA", "PS256", "RS256"}) {
		t.Errorf("algorithms %v, want one key each of ES256 EdDSA PS256 RS256", algs)
	}
}

// TestKeyRotationLifecycle checks S237 over HTTP: a rotated key is
// published at once, signs only after the activation delay, and the old
// key stays published (its tokens verifiable) until retention ends, when
// Prune removes it.
func TestKeyRotationLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}})
	mint := func() (string, string) {
		tok := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("svc", secret)))
		at := tok["access_token"].(string)
		return at, verifyJWT(t, f.Env, at).Header.KeyID
	}
	_, oldKID := mint()
	_, before := jwks(t, f.Env)

	added, err := f.Keys.Rotate(t.Context())
	if err != nil || len(added) != 4 {
		t.Fatalf("rotate: %d keys, %v", len(added), err)
	}
	_, during := jwks(t, f.Env)
	if len(during) != len(before)+4 {
		t.Fatalf("after rotation the JWKS has %d keys, want %d", len(during), len(before)+4)
	}
	var newKID string
	for _, k := range added {
		if !slices.Contains(kids(during), k.KID) {
			t.Errorf("new key %s not published at once", k.KID)
		}
		if k.Alg == "ES256" {
			newKID = k.KID
		}
	}
	if _, kid := mint(); kid != oldKID {
		t.Errorf("signed with %s right after rotation, want the old %s", kid, oldKID)
	}
	f.Clock.Advance(f.Config.KeyActivationDelay - time.Minute)
	lastOld, kid := mint()
	if kid != oldKID {
		t.Errorf("signed with %s a minute before the activation delay ends, want the old %s", kid, oldKID)
	}

	f.Clock.Advance(2 * time.Minute)
	if _, kid := mint(); kid != newKID {
		t.Errorf("signed with %s after the activation delay, want the new %s", kid, newKID)
	}
	if n, err := f.Keys.Prune(t.Context()); err != nil || n != 0 {
		t.Errorf("prune during retention removed %d keys (%v)", n, err)
	}
	if got := introspect(t, f.Env, "svc", secret, lastOld); got["active"] != true {
		t.Errorf("a token of the old key is no longer accepted during retention: %v", got)
	}
	if _, keys := jwks(t, f.Env); !slices.Contains(kids(keys), oldKID) {
		t.Error("the old key left the JWKS during retention")
	}

	f.Clock.Advance(f.Config.AccessTokenTTL + time.Hour)
	n, err := f.Keys.Prune(t.Context())
	if err != nil || n != 4 {
		t.Fatalf("prune after retention: %d keys, %v; want 4", n, err)
	}
	_, after := jwks(t, f.Env)
	if slices.Contains(kids(after), oldKID) || len(after) != 4 {
		t.Errorf("after pruning the JWKS holds %v", kids(after))
	}
	if _, kid := mint(); kid != newKID {
		t.Errorf("signed with %s after pruning, want %s", kid, newKID)
	}
}
