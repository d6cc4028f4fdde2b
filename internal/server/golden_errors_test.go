package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// goldenCase is one request that provokes one error; method defaults to
// POST, ct to a form, and path to the endpoint's.
type goldenCase struct {
	name             string
	method, path, ct string
	body             string
	opts             []reqOpt
}

// goldenErrors sends each case to env and returns the golden text: per
// case its name, its request line (without the query, which may hold a
// secret) and the response.
func goldenErrors(t *testing.T, env *testenv.Env, endpoint string, cases []goldenCase) string {
	t.Helper()
	var b strings.Builder
	for _, tc := range cases {
		method, path, ct := tc.method, tc.path, tc.ct
		if method == "" {
			method = http.MethodPost
		}
		if path == "" {
			path = endpoint
		}
		if ct == "" && method == http.MethodPost {
			ct = "application/x-www-form-urlencoded"
		}
		if ct == "-" {
			ct = ""
		}
		r := send(t, env, method, path, ct, tc.body, tc.opts...)
		if r.Status < 400 {
			t.Errorf("%s: %d %s, want an error", tc.name, r.Status, r.Body)
		}
		p, _, _ := strings.Cut(path, "?")
		fmt.Fprintf(&b, "### %s\n> %s %s\n%s\n", tc.name, method, p, goldenResponse(r, env.URL, false))
	}
	return b.String()
}

// goldenTokens are the tokens and codes the error cases present.
type goldenTokens struct {
	webSecret, rsSecret, otherSecret string
	code, verifier                   string // a code of web, redeemed once
	unused, unusedVerifier           string // a code of web, never redeemed
	clientAT, userAT                 string // of conf: client credentials; password grant (scope read)
	rotated, refresh                 string // of conf, another password grant: its first refresh token, rotated, and its successor
	webRefresh                       string // web's refresh token
}

// newGoldenTokens adds the clients web, rs and other to f and makes the
// tokens the cases need.
func newGoldenTokens(t *testing.T, f tokenErrorsFixture) goldenTokens {
	t.Helper()
	var g goldenTokens
	g.webSecret = f.AddClient(t, azWebClient("web"))
	g.rsSecret = f.AddClient(t, store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true})
	g.otherSecret = f.AddClient(t, store.Client{ID: "other", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	code := func() (string, string) {
		params, verifier := azParams("web")
		res, err := testenv.Walker(nil, "alice", "wonderland").Walk(context.Background(), f.URL+"/authorize?"+params.Encode())
		if err != nil || res.Code == "" {
			t.Fatalf("a code for web: %+v %v", res, err)
		}
		return res.Code, verifier
	}
	g.code, g.verifier = code()
	g.unused, g.unusedVerifier = code()
	redeemed := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "authorization_code", "code", g.code,
		"redirect_uri", azCB, "code_verifier", g.verifier), basic("web", g.webSecret)))
	g.webRefresh = redeemed["refresh_token"].(string)
	g.clientAT = wantToken(t, post(t, f.Env, "/token", creds("conf", f.conf, formOf("grant_type", "client_credentials"))))["access_token"].(string)
	password := func() map[string]any {
		return wantToken(t, post(t, f.Env, "/token", creds("conf", f.conf, formOf("grant_type", "password",
			"username", "alice", "password", "wonderland", "scope", "read"))))
	}
	g.userAT = password()["access_token"].(string)
	g.rotated = password()["refresh_token"].(string)
	next := wantToken(t, post(t, f.Env, "/token", creds("conf", f.conf, formOf("grant_type", "refresh_token", "refresh_token", g.rotated))))
	g.refresh = next["refresh_token"].(string)
	return g
}

// TestGoldenErrors records every JSON error body the token, introspection,
// revocation and userinfo endpoints write, and the 405 of the read-only
// JSON endpoints, in testdata/errors_<endpoint>.golden: status, headers
// and body of one request per distinct error.
func TestGoldenErrors(t *testing.T) {
	f := newTokenErrorsFixture(t)
	g := newGoldenTokens(t, f)
	files := map[string]string{}
	t.Run("token", func(t *testing.T) {
		var cases []goldenCase
		for _, tc := range tokenErrorCases(t, f) {
			ct := tc.ct
			if ct == "" {
				ct = "-"
			}
			cases = append(cases, goldenCase{name: tc.name, method: tc.method, path: tc.path, ct: ct, body: tc.body, opts: tc.opts})
		}
		cases = append(cases, tokenGrantCases(f, g)...)
		files["token"] = goldenErrors(t, f.Env, "/token", cases)
	})
	t.Run("introspect", func(t *testing.T) {
		cases := append(endpointCases(g, "rs", g.rsSecret),
			goldenCase{name: "a public client without a secret (RFC 7662 §2.1)", body: "token=x&client_id=pub"})
		files["introspect"] = goldenErrors(t, f.Env, "/introspect", cases)
	})
	t.Run("revoke", func(t *testing.T) {
		cases := append(endpointCases(g, "other", g.otherSecret),
			goldenCase{name: "a token of another client (RFC 7009 §2.1, S071)", body: "token=" + g.clientAT, opts: []reqOpt{basic("other", g.otherSecret)}},
			goldenCase{name: "an error for a registered browser origin carries CORS headers (S120)", body: "",
				opts: []reqOpt{basic("other", g.otherSecret), header("Origin", "https://app.example")}})
		files["revoke"] = goldenErrors(t, f.Env, "/revoke", cases)
	})
	t.Run("userinfo", func(t *testing.T) {
		files["userinfo"] = goldenErrors(t, f.Env, "/userinfo", userinfoCases(g))
	})
	t.Run("read-only endpoints", func(t *testing.T) {
		var cases []goldenCase
		for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/jwks"} {
			cases = append(cases, goldenCase{name: "POST " + path + " is 405", path: path, body: "x=1"})
		}
		files["read-only"] = goldenErrors(t, f.Env, "", cases)
	})
	throttled := throttledErrors(t)
	files["token"] += throttled["token"]
	files["introspect"] += throttled["introspect"]
	for endpoint, text := range storeClosedErrors(t) {
		files[endpoint] += text
	}
	for endpoint, text := range files {
		checkGolden(t, "errors_"+endpoint, text)
	}
}

// tokenGrantCases are the errors of the grants themselves, beyond
// tokenErrorCases: codes, refresh tokens, and malformed bodies (A15).
func tokenGrantCases(f tokenErrorsFixture, g goldenTokens) []goldenCase {
	web := []reqOpt{basic("web", g.webSecret)}
	code := func(kv ...string) string {
		return formOf(append([]string{"grant_type", "authorization_code"}, kv...)...).Encode()
	}
	conf := func(kv ...string) string { return creds("conf", f.conf, formOf(kv...)).Encode() }
	valid := conf("grant_type", "password", "username", "alice", "password", "wonderland")
	return []goldenCase{
		{name: "code missing", body: code(), opts: web},
		{name: "unknown code (S034)", body: code("code", "lk_ac_"+strings.Repeat("A", 43), "redirect_uri", azCB, "code_verifier", g.unusedVerifier), opts: web},
		{name: "redirect_uri differs (S022)", body: code("code", g.unused, "redirect_uri", azCB+"/other", "code_verifier", g.unusedVerifier), opts: web},
		{name: "code_verifier does not match (S067)", body: code("code", g.unused, "redirect_uri", azCB, "code_verifier", strings.Repeat("v", 43)), opts: web},
		{name: "code redeemed before (S019)", body: code("code", g.code, "redirect_uri", azCB, "code_verifier", g.verifier), opts: web},
		{name: "refresh token of another client (S041)", body: conf("grant_type", "refresh_token", "refresh_token", g.webRefresh)},
		{name: "refresh widening the scope (S036)", body: conf("grant_type", "refresh_token", "refresh_token", g.refresh, "scope", "read write")},
		{name: "rotated refresh token presented again (S133)", body: conf("grant_type", "refresh_token", "refresh_token", g.rotated)},
		{name: "invalid UTF-8 in a value (A15)", body: valid + "&scope=%ff%fe"},
		{name: "NUL byte in a value (A15)", body: valid + "&scope=read%00admin"},
		{name: "bad percent escape (A15)", body: valid + "&x=%zz"},
		{name: "semicolon separator (A15)", body: valid + ";scope=read"},
		{name: "10 000 extra parameters (A15)", body: manyParams(10_000) + valid},
		{name: "multipart body (A15)", ct: "multipart/form-data; boundary=x", body: valid},
		{name: "malformed Content-Type (A15)", ct: "application/x-www-form-urlencoded; charset", body: valid},
		{name: "5 000 scopes (A15)", body: valid + "&scope=" + strings.Repeat("s ", 5000)},
		{name: "60 kB client_id (A15)", body: creds(strings.Repeat("c", 60_000), "x", formOf("grant_type", "client_credentials")).Encode()},
		{name: "an error for a registered browser origin carries CORS headers (S120)", body: conf("grant_type", "implicit"),
			opts: []reqOpt{header("Origin", "https://app.example")}},
	}
}

// manyParams is n distinct empty parameters with short names.
func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s=&", strconv.FormatInt(int64(i), 36))
	}
	return b.String()
}

// endpointCases are the errors /introspect and /revoke share: the parser,
// client authentication and the token parameter; id and secret
// authenticate where the case needs it.
func endpointCases(g goldenTokens, id, secret string) []goldenCase {
	auth := []reqOpt{basic(id, secret)}
	return []goldenCase{
		{name: "GET is 405 with Allow", method: http.MethodGet, opts: auth},
		{name: "JSON body is 415", ct: "application/json", body: `{"token":"x"}`, opts: auth},
		{name: "body over 64 KiB is 413", body: "token=" + strings.Repeat("x", 70_000), opts: auth},
		{name: "repeated token", body: "token=a&token=b", opts: auth},
		{name: "NUL byte", body: "token=a%00", opts: auth},
		{name: "token missing", body: "", opts: auth},
		{name: "no client authentication", body: "token=" + g.clientAT},
		{name: "wrong secret (Basic)", body: "token=" + g.clientAT, opts: []reqOpt{basic(id, "lk_cs_wrong")}},
		{name: "Basic plus client_secret in the body", body: "token=x&client_secret=" + url.QueryEscape(secret), opts: auth},
	}
}

// userinfoCases are the RFC 6750 errors of /userinfo (OpenID Connect Core
// §5.3.3).
func userinfoCases(g goldenTokens) []goldenCase {
	bearer := func(tok string) reqOpt { return header("Authorization", "Bearer "+tok) }
	get := http.MethodGet
	return []goldenCase{
		{name: "no token (RFC 6750 §3.1: no error code)", method: get},
		{name: "another scheme", method: get, opts: []reqOpt{header("Authorization", "Basic eDp5")}},
		{name: "a token that is not one", method: get, opts: []reqOpt{bearer("not-a-token")}},
		{name: "a client's token, no user", method: get, opts: []reqOpt{bearer(g.clientAT)}},
		{name: "a refresh token", method: get, opts: []reqOpt{bearer(g.refresh)}},
		{name: "no openid scope (insufficient_scope)", method: get, opts: []reqOpt{bearer(g.userAT)}},
		{name: "two Authorization headers (S052)", method: get, opts: []reqOpt{bearer(g.userAT),
			func(r *http.Request) { r.Header.Add("Authorization", "Bearer x") }}},
		{name: "header and body at once (S052)", body: "access_token=" + g.userAT, opts: []reqOpt{bearer(g.userAT)}},
		{name: "malformed form body", body: "access_token=%zz"},
		{name: "PUT is 405 with Allow", method: http.MethodPut, opts: []reqOpt{bearer(g.userAT)}},
	}
}

// throttledErrors are the answers of a client, a user and an introspecting
// resource server past their guessing limits (S005, S025, A23), on a
// server that allows one failure and then waits 30 s.
func throttledErrors(t *testing.T) map[string]string {
	f := newFixture(t, func(c *server.Config) {
		c.Limits.PerClient, c.Limits.PerUsername, c.Limits.PerIP = 1, 1, 100000
		c.Limits.BaseDelay = 30 * time.Second
	})
	conf := f.AddClient(t, store.Client{ID: "conf", GrantTypes: []string{"client_credentials"}})
	app := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password"}})
	rs := f.AddClient(t, store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true})
	f.AddUser(t, "alice", "wonderland", nil)
	wrongSecret := formOf("grant_type", "client_credentials").Encode()
	wrongPassword := creds("app", app, formOf("grant_type", "password", "username", "alice", "password", "x")).Encode()
	inactive := "token=lk_at_" + strings.Repeat("A", 43)
	for _, first := range []goldenCase{
		{path: "/token", body: wrongSecret, opts: []reqOpt{basic("conf", conf+"x")}},
		{path: "/token", body: wrongPassword},
		{path: "/introspect", body: inactive, opts: []reqOpt{basic("rs", rs)}},
	} {
		send(t, f.Env, http.MethodPost, first.path, "application/x-www-form-urlencoded", first.body, first.opts...)
	}
	return map[string]string{
		"token": goldenErrors(t, f.Env, "/token", []goldenCase{
			{name: "a client past its limit of failed secrets, even with the right one (S005)", body: wrongSecret, opts: []reqOpt{basic("conf", conf)}},
			{name: "a user past the limit of failed passwords (S025)", body: wrongPassword},
		}),
		"introspect": goldenErrors(t, f.Env, "/introspect", []goldenCase{
			{name: "a resource server past its limit of inactive tokens (A23)", body: inactive, opts: []reqOpt{basic("rs", rs)}},
		}),
	}
}

// storeClosedErrors are the answers of every endpoint whose store is gone:
// 503 temporarily_unavailable (S074), never a 500.
func storeClosedErrors(t *testing.T) map[string]string {
	f := newFixture(t, nil)
	app := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password"}, Scopes: []string{"openid"}})
	svc := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Introspection: true})
	f.AddUser(t, "alice", "wonderland", nil)
	at := wantToken(t, post(t, f.Env, "/token", creds("app", app, formOf("grant_type", "password",
		"username", "alice", "password", "wonderland", "scope", "openid"))))["access_token"].(string)
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	const name = "the store is closed (S074)"
	out := map[string]string{}
	for _, path := range []string{"/token", "/introspect", "/revoke"} {
		out[strings.TrimPrefix(path, "/")] = goldenErrors(t, f.Env, path, []goldenCase{
			{name: name, body: creds("svc", svc, formOf("grant_type", "client_credentials", "token", at)).Encode()},
		})
	}
	out["userinfo"] = goldenErrors(t, f.Env, "/userinfo", []goldenCase{
		{name: name, method: http.MethodGet, opts: []reqOpt{header("Authorization", "Bearer "+at)}},
	})
	return out
}
