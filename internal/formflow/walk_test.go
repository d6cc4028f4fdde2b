package formflow_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const redirectURI = "http://127.0.0.1:9999/cb"

// newLatchkey is a running Latchkey with the client web (redirectURI,
// scopes openid and read) and the user alice.
func newLatchkey(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	env.AddClient(t, store.Client{ID: "web", Name: "Web", GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid", "read"}, RedirectURIs: []string{redirectURI}})
	env.AddUser(t, "alice", "wonderland", nil)
	return env
}

// authURL is an authorization request of web (RFC 6749 §4.1.1) with a
// fresh PKCE challenge (RFC 7636) and the pairs kv set on top.
func authURL(env *testenv.Env, kv ...string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {redirectURI}, "scope": {"openid read"},
		"state": {"st+at e&x"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return env.URL + "/authorize?" + q.Encode()
}

// trace records the steps a walker takes and the statuses of the answers.
type trace struct{ steps, answers []string }

func (tr *trace) hook(w *formflow.Walker) {
	w.Before = func(s *formflow.Step) error {
		tr.steps = append(tr.steps, fmt.Sprintf("%d %s %s %s", s.N, s.Kind, s.Method, s.URL.Path))
		return nil
	}
	w.After = func(s formflow.Step, resp *http.Response, body []byte) {
		tr.answers = append(tr.answers, fmt.Sprintf("%d %d", s.N, resp.StatusCode))
	}
}

// A fresh walker signs in and consents on Latchkey's pages and ends at the
// redirect with code, state and iss (RFC 9207); a second walk with the same
// client finds the session and the consent and is one request.
func TestWalkLatchkey(t *testing.T) {
	env := newLatchkey(t)
	w := &formflow.Walker{Username: "alice", Password: "wonderland"}
	var tr trace
	tr.hook(w)
	r, err := w.Walk(context.Background(), authURL(env))
	if err != nil {
		t.Fatal(err)
	}
	wantSteps := []string{"1 authorize GET /authorize", "2 login POST /login", "3 redirect GET /authorize", "4 consent POST /consent"}
	if !slices.Equal(tr.steps, wantSteps) || !slices.Equal(tr.answers, []string{"1 200", "2 303", "3 200", "4 303"}) {
		t.Errorf("steps %q answered %q, want %q answered 200, 303, 200, 303", tr.steps, tr.answers, wantSteps)
	}
	if r.Code == "" || r.State != "st+at e&x" || r.Iss != env.URL || r.Error != "" || r.Status != http.StatusSeeOther || r.Hops != 4 {
		t.Errorf("result %+v, want a code, the state, iss %s, 303 after 4 requests", r, env.URL)
	}
	if !strings.HasPrefix(r.Location.String(), redirectURI+"?") || len(r.Params) != 3 {
		t.Errorf("redirect %s, want %s with code, state and iss", r.Location, redirectURI)
	}

	again, err := w.Walk(context.Background(), authURL(env, "state", "second"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Hops != 1 || again.Code == "" || again.Code == r.Code || again.State != "second" {
		t.Errorf("the second walk: %+v, want a new code at once", again)
	}
}

// What ends a walk short of a code: an error response at the redirect
// URI (a result, not a failure), a refused password, an answer that is not
// a page with a form, the hop limit, and a Before that says stop.
func TestWalkEnds(t *testing.T) {
	env := newLatchkey(t)
	stop := errors.New("stop here")
	for _, tc := range []struct {
		name     string
		walker   formflow.Walker
		authURL  string
		error    string // the error response's code, for a result
		reason   string // the Failure's reason
		status   int    // the Failure's status
		step     string // the kind of the step that ended the walk
		err      error  // the Failure's Err
		bodyPart string // in the Failure's body
	}{
		{name: "scope refused: an error response", walker: formflow.Walker{Username: "alice", Password: "wonderland"},
			authURL: authURL(env, "scope", "admin"), error: "invalid_scope"},
		{name: "wrong password", walker: formflow.Walker{Username: "alice", Password: "wrong"},
			authURL: authURL(env), reason: formflow.ReasonLoginFailed, status: 200, step: "login", bodyPart: "<form"},
		{name: "unknown client: the error page", walker: formflow.Walker{},
			authURL: authURL(env, "client_id", "nobody"), status: 400, step: "authorize", bodyPart: "<html"},
		{name: "a JSON answer", walker: formflow.Walker{RedirectURI: redirectURI},
			authURL: env.URL + "/token", reason: "invalid_request", status: 405, step: "authorize", bodyPart: `"error"`},
		{name: "hop limit", walker: formflow.Walker{Username: "alice", Password: "wonderland", MaxHops: 2},
			authURL: authURL(env), reason: formflow.ReasonTooManyHops, status: 303, step: "login"},
		{name: "Before stops", walker: formflow.Walker{Username: "alice", Password: "wonderland",
			Before: func(s *formflow.Step) error {
				if s.Kind == formflow.Consent {
					return stop
				}
				return nil
			}},
			authURL: authURL(env), step: "consent", err: stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.walker.Walk(context.Background(), tc.authURL)
			if tc.error != "" {
				if err != nil || r.Error != tc.error || r.Code != "" || r.Hops != 1 {
					t.Fatalf("%+v %v, want the error response %s", r, err, tc.error)
				}
				return
			}
			var f *formflow.Failure
			if !errors.As(err, &f) {
				t.Fatalf("%+v %v, want a Failure", r, err)
			}
			if f.Reason != tc.reason || f.Status != tc.status || f.Step.Kind.String() != tc.step ||
				(tc.err != nil && !errors.Is(err, tc.err)) || (tc.err == nil && f.Err != nil) || !strings.Contains(string(f.Body), tc.bodyPart) {
				t.Errorf("failure %q (reason %q, status %d, step %s, err %v), want reason %q, status %d, step %s, err %v, body with %q",
					f, f.Reason, f.Status, f.Step.Kind, f.Err, tc.reason, tc.status, tc.step, tc.err, tc.bodyPart)
			}
			if strings.Contains(f.Error(), "wonderland") || strings.Contains(f.Error(), "code_challenge") {
				t.Errorf("the failure names the request's secrets or query: %s", f)
			}
		})
	}
}

// Another server's flow: 307 keeps the method and body of the form's POST
// (as browsers do), and a response in the fragment is read. The walker
// sends its Header with every request.
func TestWalkOtherServer(t *testing.T) {
	var posted []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "walker-test" {
			http.Error(w, "no User-Agent", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<form method=post action=/submit><input type=hidden name=t value=1>
<button name=decision value=no>No</button><button name=decision value=yes>Yes, allow</button></form>`)
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("POST /moved", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posted = append(posted, string(body))
		http.Redirect(w, r, "https://app.example/cb#code=frag&state=s", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	w := &formflow.Walker{Client: formflow.NewClient(nil), RedirectURI: "https://app.example/cb", Header: http.Header{"User-Agent": {"walker-test"}}}
	r, err := w.Walk(context.Background(), srv.URL+"/start")
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != "frag" || r.State != "s" || r.Status != http.StatusFound || r.Hops != 3 {
		t.Errorf("result %+v, want code frag, state s from the fragment after 3 requests", r)
	}
	if !slices.Equal(posted, []string{"t=1&decision=yes"}) {
		t.Errorf("the 307 target got %q, want the form's body again", posted)
	}
}
