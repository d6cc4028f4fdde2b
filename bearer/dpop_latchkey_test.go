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
	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestDPoPWithLatchkeyTokens runs bearer's DPoP checks (S167-S169) on real
// tokens: a running Latchkey binds a client credentials token to a key,
// JWT and opaque (introspected), and the middleware serves the holder of
// the key only.
func TestDPoPWithLatchkeyTokens(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	jwtSecret := addClient(t, env, "svc", []string{"read"}, "")
	opaqueSecret := addClient(t, env, "svc-opaque", []string{"read"}, "opaque")
	rsSecret := env.AddClient(t, store.Client{ID: "notes-rs", GrantTypes: []string{"client_credentials"}, Introspection: true})

	api := httptest.NewServer(nil)
	t.Cleanup(api.Close)
	for name, tc := range map[string]struct {
		id, secret string
		edit       func(*bearer.Config)
	}{
		"JWT": {"svc", jwtSecret, nil},
		"opaque, introspected": {"svc-opaque", opaqueSecret, func(c *bearer.Config) {
			c.Introspection = &bearer.IntrospectionConfig{ClientID: "notes-rs", ClientSecret: bearer.Secret(rsSecret)}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			v, _ := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) {
				c.PublicURL = api.URL
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			api.Config.Handler = v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := bearer.ClaimsFrom(r.Context())
				_, _ = io.WriteString(w, c.JKT)
			}))
			holder := prover(t)
			at := dpopToken(t, env, tc.id, tc.secret, holder)

			call := func(scheme, tok string, p *dpop.Prover, method string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, api.URL+"/notes", nil)
				req.Header.Set("Authorization", scheme+" "+tok)
				if p != nil {
					pr, err := p.Proof(method, api.URL+"/notes", tok, "")
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("DPoP", pr)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { resp.Body.Close() })
				return resp
			}
			ok := call("DPoP", at, holder, http.MethodGet)
			body, _ := io.ReadAll(ok.Body)
			if ok.StatusCode != http.StatusOK || string(body) != holder.Thumbprint() {
				t.Fatalf("the key's holder: %d %q, want 200 and the jkt in the claims", ok.StatusCode, body)
			}
			for what, resp := range map[string]*http.Response{
				"stolen token as Bearer (S169)":         call("Bearer", at, nil, ""),
				"stolen token with the thief's key":     call("DPoP", at, prover(t), http.MethodGet),
				"stolen token without a proof":          call("DPoP", at, nil, ""),
				"a proof made for another method (A19)": call("DPoP", at, holder, http.MethodPost),
			} {
				ch := resp.Header.Get("WWW-Authenticate")
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(ch, "DPoP") || !strings.Contains(ch, "error=") {
					t.Errorf("%s: %d %q, want 401 with a DPoP error challenge", what, resp.StatusCode, ch)
				}
			}
		})
	}
}

func prover(t *testing.T) *dpop.Prover {
	t.Helper()
	k, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.NewProver(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dpopToken gets a DPoP-bound client credentials token from Latchkey.
func dpopToken(t *testing.T, env *testenv.Env, id, secret string, p *dpop.Prover) string {
	t.Helper()
	pr, err := p.Proof(http.MethodPost, env.URL+"/token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	req.Header.Set("DPoP", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.TokenType != "DPoP" {
		t.Fatalf("token: %d %v %+v", resp.StatusCode, err, tok)
	}
	return tok.AccessToken
}
