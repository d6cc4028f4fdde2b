package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
)

// BenchmarkRegister runs RFC 7591 registrations of a public MCP-style
// client through the full handler on SQLite: parse, validate, the capped
// insert (an indexed count), the response. Open registration with the
// per-IP limit raised, so the throttle write is measured too.
func BenchmarkRegister(b *testing.B) {
	f := newFixture(b, func(c *server.Config) {
		regOpen(c)
		c.Registration.PerIP = 1 << 30
		c.Registration.Policy.MaxClients = 1 << 30
	})
	const body = `{"redirect_uris":["http://127.0.0.1:33418/callback"],"client_name":"Agent",
		"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}`
	h := f.Server.Config.Handler
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkRegistrationRead is RFC 7592 GET: the client read past the
// cache and the registration token compared with its digest.
func BenchmarkRegistrationRead(b *testing.B) {
	f := newFixture(b, regOpen)
	var reg regResponse
	r := register(b, f.Env, `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`)
	if err := json.Unmarshal(r.Body, &reg); err != nil {
		b.Fatal(err)
	}
	path := strings.TrimPrefix(reg.RegistrationClientURI, f.URL)
	h := f.Server.Config.Handler
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+reg.RegistrationAccessToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
