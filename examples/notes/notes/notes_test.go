package notes_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/examples/notes/notes"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const audience = "https://notes.example"

// client returns an HTTP client that sends a Latchkey token of a new
// client-credentials client granted scopes.
func client(t *testing.T, env *testenv.Env, id string, scopes ...string) *http.Client {
	t.Helper()
	secret := env.AddClient(t, store.Client{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: scopes, Audience: []string{audience}})
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env.URL + "/token", Scopes: scopes}
	return cc.Client(context.Background())
}

func TestNotesAPI(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	v, err := bearer.New(context.Background(), bearer.Config{Issuer: env.URL, Audience: audience, Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	api := httptest.NewServer(notes.NewHandler(v))
	defer api.Close()
	reader := client(t, env, "reader", "read")
	writer := client(t, env, "writer", "read", "write")

	// GET with a read token: 200, no notes yet.
	status, body, _ := do(t, reader, "GET", api.URL+"/notes", "")
	if status != 200 || !strings.Contains(body, `"subject":"client:reader","notes":[]`) {
		t.Fatalf("GET read: %d %s", status, body)
	}
	// POST with a read-only token: 403 insufficient_scope (RFC 6750 §3.1).
	status, body, h := do(t, reader, "POST", api.URL+"/notes", `{"text":"hi"}`)
	if status != 403 || !strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(h.Get("WWW-Authenticate"), `scope="write"`) {
		t.Fatalf("POST read-only: %d %v %s", status, h, body)
	}
	// No token: 401 with a challenge and no error code (RFC 6750 §3.1).
	status, _, h = do(t, http.DefaultClient, "GET", api.URL+"/notes", "")
	if status != 401 || h.Get("WWW-Authenticate") != `Bearer realm="https://notes.example"` {
		t.Fatalf("no token: %d %v", status, h)
	}
	// The writer adds a note and sees it; the reader's notes stay empty.
	if status, body, _ = do(t, writer, "POST", api.URL+"/notes", `{"text":" buy milk "}`); status != 201 || body != `{"id":1,"text":"buy milk"}`+"\n" {
		t.Fatalf("POST write: %d %s", status, body)
	}
	_, body, _ = do(t, writer, "GET", api.URL+"/notes", "")
	var got struct{ Notes []notes.Note }
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Notes) != 1 || got.Notes[0].Text != "buy milk" {
		t.Fatalf("GET write: %s", body)
	}
	if _, body, _ = do(t, reader, "GET", api.URL+"/notes", ""); strings.Contains(body, "milk") {
		t.Fatalf("notes leaked across subjects: %s", body)
	}
	for _, bad := range []string{`{"text":""}`, `not json`, `{"text":"x","extra":1}`, `{"text":"` + strings.Repeat("x", 1001) + `"}`} {
		if status, body, _ = do(t, writer, "POST", api.URL+"/notes", bad); status != 400 {
			t.Errorf("POST %.20s: %d %s", bad, status, body)
		}
	}
	if status, _, _ = do(t, http.DefaultClient, "GET", api.URL+"/healthz", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
}

func do(t *testing.T, c *http.Client, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
