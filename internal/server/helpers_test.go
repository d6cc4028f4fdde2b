package server_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver behind countRows' read-only handle

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testenv"
)

// fixture is a running Latchkey whose SQLite file the test knows, so that
// it can count rows behind the server's back.
type fixture struct {
	*testenv.Env
	dbPath string
}

// newFixture starts Latchkey on a SQLite file of the test's own; configure
// (optional) edits the configuration first.
func newFixture(t testing.TB, configure func(*server.Config)) *fixture {
	t.Helper()
	return newFixtureOpts(t, testenv.Options{Configure: configure})
}

// newFixtureOpts is newFixture with every option of the environment; its
// Store is replaced by the fixture's own SQLite file.
func newFixtureOpts(t testing.TB, opts testenv.Options) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	opts.Store = st
	env := testenv.New(t, opts)
	return &fixture{Env: env, dbPath: path}
}

// generous raises the guessing limits so that a test sending many bad
// requests on purpose is not throttled by its own earlier ones.
func generous(c *server.Config) {
	c.Limits.PerIP, c.Limits.PerClient, c.Limits.PerUsername = 100000, 100000, 100000
}

// tables are every table of the schema that a request could write to.
var tables = []string{"clients", "users", "signing_keys", "grants", "auth_codes", "refresh_tokens",
	"access_tokens", "revoked_jtis", "sessions", "consents", "throttles"}

// countRows counts the rows of every table through a separate read-only
// connection to the database file.
func (f *fixture) countRows(t testing.TB) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := make(map[string]int, len(tables))
	for _, tbl := range tables {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tbl, err)
		}
		out[tbl] = n
	}
	return out
}

// queryStrings runs a query returning one text column on a read-only
// connection to the database file.
func (f *fixture) queryStrings(t testing.TB, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// result is one HTTP response, read completely.
type result struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object, failing the test when it is not one.
func (r result) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (status %d): %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// str returns member name of the JSON body as a string ("" when absent).
func (r result) str(t testing.TB, name string) string {
	t.Helper()
	s, _ := r.JSON(t)[name].(string)
	return s
}

// reqOpt adjusts a request before it is sent.
type reqOpt func(*http.Request)

// basic sends id and secret in an Authorization: Basic header, each
// form-urlencoded first as RFC 6749 §2.3.1 and Appendix B say (S003).
func basic(id, secret string) reqOpt {
	return rawBasic(url.QueryEscape(id), url.QueryEscape(secret))
}

// rawBasic sends id and secret in Basic credentials exactly as given.
func rawBasic(id, secret string) reqOpt {
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
}

// header sets a request header (Host goes to the request's Host field).
func header(name, value string) reqOpt {
	return func(r *http.Request) {
		if strings.EqualFold(name, "Host") {
			r.Host = value
			return
		}
		r.Header.Set(name, value)
	}
}

// post sends form as an application/x-www-form-urlencoded POST to the
// issuer's path.
func post(t testing.TB, env *testenv.Env, path string, form url.Values, opts ...reqOpt) result {
	t.Helper()
	return send(t, env, http.MethodPost, path, "application/x-www-form-urlencoded", form.Encode(), opts...)
}

// send makes one request to the running server and reads the response.
func send(t testing.TB, env *testenv.Env, method, path, contentType, body string, opts ...reqOpt) result {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, o := range opts {
		o(req)
	}
	return do(t, env.Server.Client(), req)
}

func do(t testing.TB, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return result{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantOAuthError checks an RFC 6749 §5.2 error response: the status, the
// error code, a JSON body, no caching (S030, S032) and, for 401, a Basic
// challenge (S033; RFC 9110 §15.5.2 demands a challenge on every 401).
func wantOAuthError(t testing.TB, r result, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status = %d, want %d (body %s)", r.Status, status, r.Body)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store (S030)", got)
	}
	if got := r.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache (S030)", got)
	}
	if status == http.StatusUnauthorized {
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="latchkey"` {
			t.Errorf("WWW-Authenticate = %q, want Basic realm=\"latchkey\" (S033)", got)
		}
	}
	body := r.JSON(t)
	if body["error"] != code {
		t.Errorf("error = %v, want %s (body %s)", body["error"], code, r.Body)
	}
	for k := range body {
		if k != "error" && k != "error_description" && k != "error_uri" {
			t.Errorf("unexpected member %q in error body %s", k, r.Body)
		}
	}
}

// wantToken checks a successful token response (S029, S030) and returns it.
func wantToken(t testing.TB, r result) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", r.Status, r.Body)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store (S030)", got)
	}
	if got := r.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache (S030)", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json (S029)", got)
	}
	body := r.JSON(t)
	if s, _ := body["access_token"].(string); s == "" {
		t.Fatalf("no access_token in %s", r.Body)
	}
	if body["token_type"] != "Bearer" {
		t.Errorf("token_type = %v, want Bearer", body["token_type"])
	}
	if exp, ok := body["expires_in"].(float64); !ok || exp <= 0 || exp != float64(int64(exp)) {
		t.Errorf("expires_in = %v, want a positive integer (S031)", body["expires_in"])
	}
	return body
}

// creds are client credentials sent in the body (client_secret_post).
func creds(id, secret string, form url.Values) url.Values {
	form.Set("client_id", id)
	if secret != "" {
		form.Set("client_secret", secret)
	}
	return form
}

// introspect asks about tok as the client id/secret and returns the JSON.
func introspect(t testing.TB, env *testenv.Env, id, secret, tok string) map[string]any {
	t.Helper()
	r := post(t, env, "/introspect", url.Values{"token": {tok}}, basic(id, secret))
	if r.Status != http.StatusOK {
		t.Fatalf("introspect: status %d: %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// wantInactive checks the exact inactive introspection answer (S079).
func wantInactive(t testing.TB, got map[string]any) {
	t.Helper()
	if len(got) != 1 || got["active"] != false {
		t.Errorf("introspection = %v, want exactly {\"active\":false} (S079)", got)
	}
}
