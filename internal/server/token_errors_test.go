package server_test

import (
	"encoding/base64"
	"github.com/latchkey/latchkey/internal/token"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// weirdSecret holds every character RFC 6749 Appendix B makes clients
// encode in Basic credentials (S003).
const weirdSecret = "a+b%c:d-e f/g=h&i~j"

// tokenErrorsFixture has one client of each kind the table needs.
type tokenErrorsFixture struct {
	*fixture
	conf string // confidential, client_credentials + password + refresh_token
}

func newTokenErrorsFixture(t *testing.T) tokenErrorsFixture {
	f := newFixture(t, generous)
	conf := f.AddClient(t, store.Client{ID: "conf", GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		Scopes: []string{"read", "write"}})
	f.AddClient(t, store.Client{ID: "cc-only", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	f.AddClient(t, store.Client{ID: "pub", Public: true, GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	f.AddClient(t, store.Client{ID: "pub-cc", Public: true, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	f.AddClientWithSecret(t, store.Client{ID: "we:rd+id", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}}, weirdSecret)
	f.AddUser(t, "alice", "wonderland", nil)
	return tokenErrorsFixture{fixture: f, conf: conf}
}

// TestTokenEndpointErrors runs every error of the token endpoint (RFC 6749
// §5.2, S032) and checks status, code, JSON, no-store (S030) and the Basic
// challenge on 401 (S033).
func TestTokenEndpointErrors(t *testing.T) {
	f := newTokenErrorsFixture(t)
	for _, tc := range tokenErrorCases(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/token"
			}
			r := send(t, f.Env, method, path, tc.ct, tc.body, tc.opts...)
			wantOAuthError(t, r, tc.status, tc.code)
			for k, v := range tc.wantHeaders {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// tokenErrorCase is one request that provokes one error of the token
// endpoint; method defaults to POST and path to /token.
type tokenErrorCase struct {
	name        string
	method, ct  string
	path, body  string
	opts        []reqOpt
	status      int
	code        string
	wantHeaders map[string]string
}

// tokenErrorCases are the requests of TestTokenEndpointErrors, which
// testdata/errors_token.golden records too.
func tokenErrorCases(t *testing.T, f tokenErrorsFixture) []tokenErrorCase {
	cc := func(extra ...string) url.Values {
		return creds("conf", f.conf, formOf(append([]string{"grant_type", "client_credentials"}, extra...)...))
	}
	const form = "application/x-www-form-urlencoded"
	return []tokenErrorCase{
		{name: "GET is 405 with Allow (S013)", method: http.MethodGet, path: "/token", body: "",
			status: 405, code: "invalid_request", wantHeaders: map[string]string{"Allow": "POST"}},
		{name: "PUT is 405 (S013)", method: http.MethodPut, ct: form, body: cc().Encode(), status: 405, code: "invalid_request"},
		{name: "JSON body is refused (S013)", ct: "application/json", body: `{"grant_type":"client_credentials"}`,
			opts: []reqOpt{basic("conf", f.conf)}, status: 415, code: "invalid_request"},
		{name: "text/plain is refused (S013)", ct: "text/plain", body: cc().Encode(), status: 415, code: "invalid_request"},
		{name: "no Content-Type is refused (S013)", ct: "", body: cc().Encode(), status: 415, code: "invalid_request"},
		{name: "a charset other than UTF-8 is refused (S013)", ct: form + "; charset=ISO-8859-1", body: cc().Encode(),
			status: 415, code: "invalid_request"},
		{name: "body over 64 KiB is 413 (A15)", ct: form, body: cc("pad", strings.Repeat("x", 64<<10)).Encode(),
			status: 413, code: "invalid_request"},
		{name: "repeated parameter (S007, S153)", ct: form, body: cc().Encode() + "&scope=read&scope=write",
			status: 400, code: "invalid_request"},
		{name: "repeated grant_type (S007, S153)", ct: form, body: cc().Encode() + "&grant_type=password",
			status: 400, code: "invalid_request"},
		{name: "repeated empty parameter (S007)", ct: form, body: cc().Encode() + "&scope=&scope=",
			status: 400, code: "invalid_request"},
		{name: "client_secret in the query (S004)", path: "/token?client_secret=" + url.QueryEscape(f.conf), ct: form,
			body: formOf("grant_type", "client_credentials", "client_id", "conf").Encode(), status: 400, code: "invalid_request"},
		{name: "Basic plus client_secret in the body (S002)", ct: form, body: cc().Encode(),
			opts: []reqOpt{basic("conf", f.conf)}, status: 400, code: "invalid_request"},
		{name: "Basic plus a different client_id in the body (S002)", ct: form,
			body: formOf("grant_type", "client_credentials", "client_id", "cc-only").Encode(),
			opts: []reqOpt{basic("conf", f.conf)}, status: 400, code: "invalid_request"},
		{name: "two Authorization headers (S153)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts:   []reqOpt{basic("conf", f.conf), func(r *http.Request) { r.Header.Add("Authorization", "Basic eDp5") }},
			status: 400, code: "invalid_request"},
		{name: "Basic not base64 (S033)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts: []reqOpt{header("Authorization", "Basic !!!")}, status: 401, code: "invalid_client"},
		{name: "Basic without a colon (S033)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts:   []reqOpt{header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("conf")))},
			status: 401, code: "invalid_client"},
		{name: "Basic secret not form-urlencoded (S003)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts: []reqOpt{rawBasic(url.QueryEscape("we:rd+id"), weirdSecret)}, status: 401, code: "invalid_client"},
		{name: "no client credentials at all", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			status: 401, code: "invalid_client"},
		{name: "unknown client, body", ct: form, body: creds("nobody", "x", formOf("grant_type", "client_credentials")).Encode(),
			status: 401, code: "invalid_client"},
		{name: "unknown client, Basic (S033)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts: []reqOpt{basic("nobody", "x")}, status: 401, code: "invalid_client"},
		{name: "wrong secret, body", ct: form, body: creds("conf", "lk_cs_wrong", formOf("grant_type", "client_credentials")).Encode(),
			status: 401, code: "invalid_client"},
		{name: "wrong secret, Basic (S033)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts: []reqOpt{basic("conf", "lk_cs_wrong")}, status: 401, code: "invalid_client"},
		{name: "wrong configured secret, Basic (S033)", ct: form, body: formOf("grant_type", "client_credentials").Encode(),
			opts: []reqOpt{basic("we:rd+id", weirdSecret+"x")}, status: 401, code: "invalid_client"},
		{name: "public client sending a secret", ct: form, body: creds("pub", "s3cret", formOf("grant_type", "password",
			"username", "alice", "password", "wonderland")).Encode(), status: 401, code: "invalid_client"},
		{name: "confidential client sending no secret (S014)", ct: form,
			body: formOf("grant_type", "client_credentials", "client_id", "conf").Encode(), status: 401, code: "invalid_client"},
		{name: "confidential client with an empty Basic secret (S014)", ct: form,
			body: formOf("grant_type", "client_credentials").Encode(), opts: []reqOpt{rawBasic("conf", "")},
			status: 401, code: "invalid_client"},
		{name: "missing grant_type", ct: form, body: creds("conf", f.conf, url.Values{}).Encode(), status: 400, code: "invalid_request"},
		{name: "unknown grant_type", ct: form, body: creds("conf", f.conf, formOf("grant_type", "implicit")).Encode(),
			status: 400, code: "unsupported_grant_type"},
		{name: "device grant not listed for the client", ct: form, body: creds("conf", f.conf,
			formOf("grant_type", "urn:ietf:params:oauth:grant-type:device_code")).Encode(), status: 400, code: "unauthorized_client"},
		{name: "grant not listed for the client", ct: form, body: formOf("grant_type", "password", "username", "alice",
			"password", "wonderland").Encode(), opts: []reqOpt{basic("cc-only", mustSecret(t, f, "cc-only"))},
			status: 400, code: "unauthorized_client"},
		{name: "public client asking for client_credentials (S027)", ct: form,
			body: formOf("grant_type", "client_credentials", "client_id", "pub").Encode(), status: 400, code: "unauthorized_client"},
		{name: "public client listing client_credentials is still refused (S027)", ct: form,
			body: formOf("grant_type", "client_credentials", "client_id", "pub-cc").Encode(), status: 400, code: "unauthorized_client"},
		{name: "scope not allowed (S015)", ct: form, body: cc("scope", "read admin").Encode(), status: 400, code: "invalid_scope"},
		{name: "scope with a forbidden character (S015)", ct: form, body: cc("scope", `read "write"`).Encode(),
			status: 400, code: "invalid_scope"},
		{name: "scope case differs (S015)", ct: form, body: cc("scope", "READ").Encode(), status: 400, code: "invalid_scope"},
		{name: "password grant without username (S024)", ct: form,
			body:   creds("conf", f.conf, formOf("grant_type", "password", "password", "wonderland")).Encode(),
			status: 400, code: "invalid_request"},
		{name: "password grant without password (S024)", ct: form,
			body:   creds("conf", f.conf, formOf("grant_type", "password", "username", "alice")).Encode(),
			status: 400, code: "invalid_request"},
		{name: "password grant with a wrong password (S034)", ct: form,
			body:   creds("conf", f.conf, formOf("grant_type", "password", "username", "alice", "password", "x")).Encode(),
			status: 400, code: "invalid_grant"},
		{name: "refresh without refresh_token (S035)", ct: form,
			body: creds("conf", f.conf, formOf("grant_type", "refresh_token")).Encode(), status: 400, code: "invalid_request"},
		{name: "refresh with an unknown token (S034)", ct: form,
			body:   creds("conf", f.conf, formOf("grant_type", "refresh_token", "refresh_token", "lk_rt_"+strings.Repeat("A", 43))).Encode(),
			status: 400, code: "invalid_grant"},
		{name: "gzip Content-Encoding (A15)", ct: form, body: cc().Encode(), opts: []reqOpt{header("Content-Encoding", "gzip")},
			status: 415, code: "invalid_request"},
	}
}

// mustSecret gives a client a fresh generated secret (the fixture does not
// keep every secret it made).
func mustSecret(t *testing.T, f tokenErrorsFixture, id string) string {
	t.Helper()
	secret := "lk_cs_" + strings.Repeat("s", 43)
	if err := f.Store.SetClientSecret(t.Context(), id, token.HashSecret(secret), f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestTokenEndpointAccepts is the positive side of the table: what must
// work does (S003, S013, S146).
func TestTokenEndpointAccepts(t *testing.T) {
	f := newTokenErrorsFixture(t)
	const form = "application/x-www-form-urlencoded"
	cc := formOf("grant_type", "client_credentials")
	cases := []struct {
		name       string
		ct, body   string
		opts       []reqOpt
		wantScope  string
		wantClient string
	}{
		{name: "charset=UTF-8 (S013; oauth4webapi sends it)", ct: form + ";charset=UTF-8",
			body: creds("conf", f.conf, formOf("grant_type", "client_credentials")).Encode(), wantScope: "read write"},
		{name: "Basic with + % : - space / = & ~ form-urlencoded (S003)", ct: form, body: cc.Encode(),
			opts: []reqOpt{basic("we:rd+id", weirdSecret)}, wantScope: "read"},
		{name: "Basic with - sent as %2D (S003; oauth4webapi)", ct: form, body: cc.Encode(),
			opts: []reqOpt{rawBasic(strings.ReplaceAll(url.QueryEscape("we:rd+id"), "-", "%2D"),
				strings.ReplaceAll(url.QueryEscape(weirdSecret), "-", "%2D"))}, wantScope: "read"},
		{name: "lower-case basic scheme (RFC 9110 §11.1)", ct: form, body: cc.Encode(),
			opts: []reqOpt{func(r *http.Request) {
				basic("conf", f.conf)(r)
				r.Header.Set("Authorization", "basic"+r.Header.Get("Authorization")[5:])
			}},
			wantScope: "read write"},
		{name: "Basic plus the same client_id in the body", ct: form,
			body: formOf("grant_type", "client_credentials", "client_id", "conf").Encode(), opts: []reqOpt{basic("conf", f.conf)},
			wantScope: "read write"},
		{name: "the weird secret in the body (S146)", ct: form,
			body: creds("we:rd+id", weirdSecret, formOf("grant_type", "client_credentials")).Encode(), wantScope: "read"},
		{name: "unknown parameters are ignored (S007)", ct: form,
			body:      creds("conf", f.conf, formOf("grant_type", "client_credentials", "foo", "bar", "resource_x", "1")).Encode(),
			wantScope: "read write"},
		{name: "an empty value reads as omitted (S007)", ct: form,
			body: creds("conf", f.conf, formOf("grant_type", "client_credentials", "scope", "")).Encode(), wantScope: "read write"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := wantToken(t, send(t, f.Env, http.MethodPost, "/token", tc.ct, tc.body, tc.opts...))
			if body["scope"] != tc.wantScope {
				t.Errorf("scope = %v, want %q", body["scope"], tc.wantScope)
			}
		})
	}
}
