package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// FuzzRegisterAndUpdate sends arbitrary JSON to POST /register and, for
// a registered client, to its RFC 7592 PUT. Whatever comes in: never a
// panic or a 5xx; a refusal is 400 (or 413) with an RFC 7591 code, and
// a refused update leaves the registration and its token as they were.
func FuzzRegisterAndUpdate(f *testing.F) {
	env := testenv.New(f, testenv.Options{Configure: func(c *server.Config) {
		regOpen(c)
		c.Registration.PerIP, c.Registration.Policy.MaxClients = 1<<30, 1<<30
	}})
	h := env.Server.Config.Handler
	seed := register(f, env, `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`)
	var reg regResponse
	if err := json.Unmarshal(seed.Body, &reg); err != nil {
		f.Fatal(err)
	}
	path := strings.TrimPrefix(reg.RegistrationClientURI, env.URL)
	for _, s := range []string{
		`{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none"}`,
		`{"client_id":"` + reg.ClientID + `","redirect_uris":["https://a.example/cb"],"scope":"read"}`,
		`{"grant_types":["client_credentials"],"jwks_uri":"https://169.254.169.254/"}`,
		`{"redirect_uris":["com.example.app:/cb"],"client_name":"\u0000"}`, `{"a":1,"a":2}`, `[]`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, method := range []string{http.MethodPost, http.MethodPut} {
			target := "/register"
			if method == http.MethodPut {
				target = path
			}
			req := httptest.NewRequest(method, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if method == http.MethodPut {
				req.Header.Set("Authorization", "Bearer "+reg.RegistrationAccessToken)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusCreated, http.StatusOK:
				if method == http.MethodPut { // the token rotated: carry on with the new one
					var next regResponse
					if err := json.Unmarshal(rec.Body.Bytes(), &next); err != nil || next.RegistrationAccessToken == "" {
						t.Fatalf("update answered %d without a new token: %s", rec.Code, rec.Body)
					}
					reg.RegistrationAccessToken = next.RegistrationAccessToken
				}
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
				var e struct{ Error string }
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if e.Error != "invalid_client_metadata" && e.Error != "invalid_redirect_uri" {
					t.Fatalf("%s %q: %d with error %q", method, body, rec.Code, e.Error)
				}
			default:
				t.Fatalf("%s %q: status %d %s", method, body, rec.Code, rec.Body)
			}
		}
	})
}
