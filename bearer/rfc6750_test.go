package bearer_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const realm = `Bearer realm="https://notes.example"`

// notesAPI answers GET with the caller's sub (needs read) and POST with
// the body it read (needs read and write).
func notesAPI(v *bearer.Validator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.RequireScope("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := bearer.ClaimsFrom(r.Context())
		io.WriteString(w, c.Subject)
	})))
	mux.Handle("POST /notes", v.RequireScope("read", "write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})))
	return mux
}

// RFC 6750 §2 and §3 (S051-S059): every answer of the middleware.
func TestRFC6750Answers(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	readSecret := addClient(t, env, "reader", []string{"read"}, "")
	fullSecret := addClient(t, env, "writer", []string{"read", "write"}, "")
	billing := env.AddClient(t, store.Client{ID: "billing", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Audience: []string{"https://billing.example"}})
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)
	api := notesAPI(v)
	read := getToken(t, env, "reader", readSecret)
	full := getToken(t, env, "writer", fullSecret)
	other := getToken(t, env, "billing", billing)

	type req struct {
		method, target, body string
		auth                 []string
	}
	form := func(body string, auth ...string) req { return req{"POST", "/notes", body, auth} }
	get := func(target string, auth ...string) req { return req{"GET", target, "", auth} }
	cases := []struct {
		name      string
		req       req
		status    int
		challenge string // exact, or a prefix when it ends in "…"
		code      string
		body      string
	}{
		{"no token", get("/notes"), 401, realm, "", ""},
		{"Basic scheme", get("/notes", "Basic cmVhZGVyOnB3"), 401, realm, "", ""},
		{"S169 an unbound token with the DPoP scheme", get("/notes", "DPoP "+read), 401, `DPoP error="invalid_token", error_description="the token is not bound to a DPoP key: send it with the Bearer scheme", algs="ES256 EdDSA PS256"`, "invalid_token", ""},
		{"token in the query only (ignored, S054)", get("/notes?access_token=" + read), 401, realm, "", ""},
		{"token in a form body only (not accepted, S053)", form("access_token=" + full), 401, realm, "", ""},
		{"valid", get("/notes", "Bearer "+read), 200, "", "", "client:reader"},
		{"scheme lower-case (S051)", get("/notes", "bearer "+read), 200, "", "", "client:reader"},
		{"scheme upper-case", get("/notes", "BEARER "+read), 200, "", "", "client:reader"},
		{"form body passed on intact", form("a=1&b=%20", "Bearer "+full), 200, "", "", "a=1&b=%20"},
		{"header and query (S052)", get("/notes?x=1&access_token="+read, "Bearer "+read), 400, realm + `, error="invalid_request"…`, "invalid_request", ""},
		{"header and escaped query key", get("/notes?access%5Ftoken=x", "Bearer "+read), 400, realm + `, error="invalid_request"…`, "invalid_request", ""},
		{"two Authorization headers", get("/notes", "Bearer "+read, "Bearer "+read), 400, realm + `, error="invalid_request"…`, "invalid_request", ""},
		{"header and form body", form("access_token="+full, "Bearer "+full), 400, realm + `, error="invalid_request"…`, "invalid_request", ""},
		{"empty Bearer", get("/notes", "Bearer "), 400, realm + `, error="invalid_request"…`, "invalid_request", ""},
		{"garbage token", get("/notes", "Bearer not-a-token"), 401, realm + `, error="invalid_token", error_description="…`, "invalid_token", ""},
		{"token with a space", get("/notes", "Bearer a b"), 401, realm + `, error="invalid_token"…`, "invalid_token", ""},
		{"another audience", get("/notes", "Bearer "+other), 401, realm + `, error="invalid_token"…`, "invalid_token", ""},
		{"insufficient scope", form("x=1", "Bearer "+read), 403,
			realm + `, error="insufficient_scope", error_description="the token lacks a scope this resource needs", scope="read write"`,
			"insufficient_scope", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.req.method, tc.req.target, strings.NewReader(tc.req.body))
			if tc.req.method == "POST" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for _, a := range tc.req.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			api.ServeHTTP(w, r)
			checkAnswer(t, w, tc.status, tc.challenge, tc.code)
			if tc.status == 200 && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body.String(), tc.body)
			}
		})
	}
}

// An expired token gets invalid_token through the middleware too.
func TestMiddlewareExpired(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reader", []string{"read"}, "")
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)
	raw := getToken(t, env, "reader", secret)
	env.Clock.Advance(time.Hour)
	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	w := httptest.NewRecorder()
	notesAPI(v).ServeHTTP(w, r)
	checkAnswer(t, w, 401, realm+`, error="invalid_token", error_description="the token has expired"`, "invalid_token")
}

// RFC 9110 §5.6.4: the realm is a quoted-string, escaped.
func TestRealmQuoted(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, func(c *bearer.Config) { c.Realm = `notes "prod" \ eu` })
	w := httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	checkAnswer(t, w, 401, `Bearer realm="notes \"prod\" \\ eu"`, "")
}

// checkAnswer checks an answer's status, WWW-Authenticate (exact, or a
// prefix when challenge ends in "…"), Cache-Control and JSON error code.
func checkAnswer(t testing.TB, w *httptest.ResponseRecorder, status int, challenge, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %s)", w.Code, status, w.Body)
	}
	if status == 200 {
		return
	}
	got := w.Header().Get("WWW-Authenticate")
	if prefix, ok := strings.CutSuffix(challenge, "…"); ok {
		if !strings.HasPrefix(got, prefix) {
			t.Errorf("WWW-Authenticate %q, want prefix %q", got, prefix)
		}
	} else if got != challenge {
		t.Errorf("WWW-Authenticate %q, want %q", got, challenge)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if body["error"] != code {
		t.Errorf("body error %q, want %q", body["error"], code)
	}
}
