package bearer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/bearer"
)

// FuzzValidate feeds arbitrary tokens to Validate: it must never panic,
// must always fail with an *bearer.Error, and may accept only tokens that
// the fake issuer signed for notes.
func FuzzValidate(f *testing.F) {
	iss := newFakeIssuer(f)
	v, _ := newValidator(f, iss.URL, time.Now, nil)
	valid := iss.sign(f, nil, claimsFor(iss.URL, time.Now()))
	for _, seed := range []string{
		valid, valid[:len(valid)-2], tamper(f, valid), "", "a.b.c", "a.b.c.d.e", "lk_at_x",
		iss.sign(f, map[jose.HeaderKey]any{"typ": "JWT"}, claimsFor(iss.URL, time.Now())),
		unsigned(map[string]any{"alg": "none", "typ": "at+jwt"}, claimsFor(iss.URL, time.Now())),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Validate(context.Background(), raw)
		if err != nil {
			var be *bearer.Error
			if !errors.As(err, &be) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if c.Issuer != iss.URL || !slices.Contains(c.Audience, notesAudience) {
			t.Fatalf("accepted %q with claims %+v", raw, c)
		}
	})
}

// FuzzMiddleware feeds arbitrary Authorization headers and queries to the
// middleware: it must answer with one of RFC 6750's statuses and never
// let a request through without a valid token.
func FuzzMiddleware(f *testing.F) {
	iss := newFakeIssuer(f)
	v, _ := newValidator(f, iss.URL, time.Now, nil)
	valid := iss.sign(f, nil, claimsFor(iss.URL, time.Now()))
	f.Add("Bearer "+valid, "")
	f.Add("bearer "+valid, "access_token=x")
	f.Add("Basic abc", "access%5Ftoken=1")
	f.Add("Bearer", "")
	f.Add("Bearer  "+valid, "a=%zz")
	f.Add("DPoP "+valid, "")
	f.Add("dpop x", "")
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := bearer.ClaimsFrom(r.Context()); !ok {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	f.Fuzz(func(t *testing.T, auth, query string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d for %q %q", w.Code, auth, query)
		}
	})
}
