package bearer_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestExchangedTokensCarryTheirActors runs tokens issued by a running
// Latchkey's token exchange (RFC 8693) through the middleware: a handler
// sees the act chain (§4.1) of a JWT and of an introspected opaque token,
// and once the user's grant is revoked the introspected token, exchanged
// from it, is refused.
func TestExchangedTokensCarryTheirActors(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	env.AddUser(t, "alice", "wonderland", nil)
	webSecret := env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"notes"}, Audience: []string{"https://gateway.example", notesAudience}})
	rsSecret := env.AddClient(t, store.Client{ID: "notes-rs", GrantTypes: []string{"client_credentials"}, Introspection: true})
	policy := store.ExchangePolicy{AllowedSubjectClients: []string{"web"}}
	secrets := map[string]string{}
	for _, format := range []string{"jwt", "opaque"} {
		secrets[format] = env.AddClient(t, store.Client{ID: "gateway-" + format, Scopes: []string{"notes"},
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:token-exchange"}, Resources: []string{notesAudience},
			AccessTokenFormat: format, TokenExchange: policy})
	}

	api := httptest.NewServer(nil)
	t.Cleanup(api.Close)
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			v, _ := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) {
				c.Introspection = &bearer.IntrospectionConfig{ClientID: "notes-rs", ClientSecret: bearer.Secret(rsSecret), CacheTTL: -1}
			})
			api.Config.Handler = v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := bearer.ClaimsFrom(r.Context())
				_, _ = io.WriteString(w, c.Subject+" via "+strings.Join(c.Actor.Chain(), ","))
			}))
			login := tokenResponse(t, env, "web", webSecret, url.Values{"grant_type": {"password"},
				"username": {"alice"}, "password": {"wonderland"}, "scope": {"notes"}})
			exchanged := tokenResponse(t, env, "gateway-"+format, secrets[format], url.Values{
				"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
				"subject_token":      {login["access_token"].(string)},
				"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
				"resource":           {notesAudience},
			})
			at := exchanged["access_token"].(string)

			status, body := callAPI(t, api.URL, at)
			if status != http.StatusOK || !strings.HasSuffix(body, " via client:gateway-"+format) {
				t.Fatalf("exchanged token: %d %q, want 200 naming client:gateway-%s as actor", status, body, format)
			}

			// Revoking the user's grant (through the refresh token, RFC 7009
			// §2.1) revokes what was exchanged from it.
			r := postForm(t, env.URL+"/revoke", "web", webSecret, url.Values{"token": {login["refresh_token"].(string)}})
			if r.StatusCode != http.StatusOK {
				t.Fatalf("revoke: %d", r.StatusCode)
			}
			status, _ = callAPI(t, api.URL, at)
			switch format {
			case "opaque": // asked about at each request: refused at once
				if status != http.StatusUnauthorized {
					t.Errorf("opaque exchanged token after the grant's revocation: %d, want 401", status)
				}
			case "jwt": // checked locally, so only introspection knows
				if status != http.StatusOK {
					t.Errorf("JWT checked locally: %d, want 200 until it expires", status)
				}
				in := postForm(t, env.URL+"/introspect", "notes-rs", rsSecret, url.Values{"token": {at}})
				var got map[string]any
				_ = json.NewDecoder(in.Body).Decode(&got)
				if len(got) != 1 || got["active"] != false {
					t.Errorf("introspection after the grant's revocation = %v, want active false", got)
				}
			}
		})
	}
}

// tokenResponse posts form to the token endpoint as id and decodes a 200.
func tokenResponse(t *testing.T, env *testenv.Env, id, secret string, form url.Values) map[string]any {
	t.Helper()
	resp := postForm(t, env.URL+"/token", id, secret, form)
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v %v", resp.StatusCode, body, err)
	}
	return body
}

// postForm posts form with Basic client authentication.
func postForm(t *testing.T, endpoint, id, secret string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// callAPI calls the protected API with a bearer token.
func callAPI(t *testing.T, base, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/notes", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
