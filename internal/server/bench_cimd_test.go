package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkCIMDClientRequest: a request that authenticates a public
// client and does little else (RFC 7009 revocation of an unknown token),
// for a client resolved from a cached metadata document beside a
// configured one. The cached document costs no fetch and no write: the
// host is asked once in all.
//
//	go test ./internal/server -run '^$' -bench BenchmarkCIMDClientRequest -benchmem
func BenchmarkCIMDClientRequest(b *testing.B) {
	h := newCIMDHost(b)
	id := h.publish("/agent.json", publicAgent, "max-age=86400")
	s := newCIMD(b, h, nil)
	s.AddClient(b, store.Client{ID: "configured", Public: true, RedirectURIs: []string{azCB},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "read"}})
	for _, tc := range []struct{ name, id string }{{"configured", "configured"}, {"cimd-cached", id}} {
		form := url.Values{"token": {"lk_rt_unknown"}, "client_id": {tc.id}}.Encode()
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/revoke", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				s.Server.Config.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
	if n := h.fetches("/agent.json"); n != 1 {
		b.Errorf("the document was fetched %d times, want 1", n)
	}
}
