package formflow_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/formflow"
)

// The form reader on literal pages of other servers: what a browser would
// send for the first form of each, filled in as user "alice" with
// password "p&ss w".
func TestFormSubmission(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, page, pageURL string
		method, target      string
		body                string
		password            bool
	}{
		{
			name: "login form with hidden csrf and a relative action",
			page: `<!doctype html><title>Sign in</title>
<form method="POST" action="login?next=1">
  <input type="hidden" name="csrf" value="c&amp;1">
  <input type="hidden" name="request" value="client_id=web&amp;state=s">
  <label>Email <input name="email" type="email" value="prefilled"></label>
  <input name="pw" type="password">
  <input name="remember" type="checkbox">
  <input name="lang" type="text" value="en" disabled>
  <button type="submit" name="go">Sign in</button>
</form>`,
			pageURL: "http://as.example/oauth/authorize?client_id=web",
			method:  http.MethodPost, target: "http://as.example/oauth/login?next=1",
			body:     "csrf=c%261&request=client_id%3Dweb%26state%3Ds&email=alice&pw=p%26ss+w&go=",
			password: true,
		},
		{
			name: "consent form whose deny button comes first",
			page: `<form method="post" action="/consent">
<input type="hidden" name="csrf" value="x">
<div class="actions">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow">Allow</button>
</div></form>`,
			pageURL: "https://as.example/authorize", method: http.MethodPost, target: "https://as.example/consent",
			body: "csrf=x&decision=allow",
		},
		{
			name: "consent with submit inputs: Don't allow is not approval",
			page: `<form method=post><input type=hidden name=t value=1>
<input type=submit name=no value="Don't allow"><input type=submit name=ok value="Allow access"></form>`,
			pageURL: "http://as.example/consent?id=7", method: http.MethodPost, target: "http://as.example/consent?id=7",
			body: "t=1&ok=Allow+access",
		},
		{
			name: "GET form: fields replace the action's query; formaction overrides",
			page: `<p>first</p><form action="step?old=1"><select name="tenant"><option value="a">A<option value="b" selected>B</select>
<textarea name="note">hi</textarea><button formaction="../approve">Approve</button></form>
<form action="/second"><input name=x></form>`,
			pageURL: "http://as.example/flow/page#frag", method: http.MethodGet, target: "http://as.example/approve?tenant=b&note=hi",
		},
		{
			name:    "no submit button: the form's own method and action",
			page:    `<form method="post" action="https://other.example/login"><input name="username"><input type="password" name="password"></form>`,
			pageURL: "http://as.example/", method: http.MethodPost, target: "https://other.example/login",
			body: "username=alice&password=p%26ss+w", password: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := url.Parse(tc.pageURL)
			f, err := formflow.Parse([]byte(tc.page), base)
			if err != nil {
				t.Fatal(err)
			}
			if f.Login != tc.password {
				t.Errorf("password field: %v, want %v", f.Login, tc.password)
			}
			method, target, body := f.Submission("alice", "p&ss w")
			if method != tc.method || target.String() != tc.target || body != tc.body {
				t.Errorf("submission:\n got %s %s %q\nwant %s %s %q", method, target, body, tc.method, tc.target, tc.body)
			}
		})
	}
}

func TestFormMissing(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("http://as.example/")
	_, err := formflow.Parse([]byte(`<html><body><h1>Something went wrong</h1><a href="/">back</a></body></html>`), base)
	if !errors.Is(err, formflow.ErrNoForm) {
		t.Fatalf("a page without a form: %v, want ErrNoForm", err)
	}
}

// Values are what the page gives the controls, before anything is typed
// or pressed.
func TestFormValues(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("http://as.example/")
	f, err := formflow.Parse([]byte(`<form method=post><input type=hidden name=csrf value="a&amp;b">
<input name=username value=bob><input type=password name=password value=ignored>
<input type=checkbox name=keep checked><input type=checkbox name=off><button name=go value=1>Go</button></form>`), base)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"csrf": {"a&b"}, "username": {"bob"}, "password": {""}, "keep": {"on"}}
	if got := f.Values(); got.Encode() != want.Encode() {
		t.Errorf("Values() = %v, want %v", got, want)
	}
}
