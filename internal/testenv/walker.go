package testenv

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/formflow"
)

// Walker is a formflow.Walker that signs in on Latchkey's pages as
// username with password, sending its requests with client (a new
// formflow.NewClient when nil), and that stops the walk with an error when
// a step is not what Latchkey must do:
//
//   - the steps come in the order authorization request, login, the
//     redirect back to /authorize, consent — each after the previous one,
//     any of them skipped when the session or the consent is there;
//   - a login or consent form posts exactly one non-empty csrf and one
//     non-empty request field to /login or /consent;
//   - the login and the consent are answered 303 See Other.
//
// A test that sets Before on it must call the one it replaces.
func Walker(client *http.Client, username, password string) *formflow.Walker {
	if client == nil {
		client = formflow.NewClient(nil)
	}
	w := &formflow.Walker{Client: client, Username: username, Password: password}
	var prev formflow.Step
	var prevStatus int
	w.After = func(s formflow.Step, resp *http.Response, _ []byte) { prev, prevStatus = s, resp.StatusCode }
	w.Before = func(s *formflow.Step) error {
		if s.Kind != formflow.Authorize {
			if err := checkAnswer(prev, prevStatus); err != nil {
				return err
			}
		}
		return checkStep(prev.Kind, s)
	}
	return w
}

// allowedAfter lists, for each kind of step, the kinds of step it may follow.
func allowedAfter(k formflow.Kind) []formflow.Kind {
	switch k {
	case formflow.Login:
		return []formflow.Kind{formflow.Authorize}
	case formflow.Redirect:
		return []formflow.Kind{formflow.Login}
	case formflow.Consent:
		return []formflow.Kind{formflow.Authorize, formflow.Redirect}
	}
	return nil
}

// checkStep checks step s, which follows a step of kind prev.
func checkStep(prev formflow.Kind, s *formflow.Step) error {
	if s.Kind == formflow.Authorize {
		return nil
	}
	ok := false
	for _, k := range allowedAfter(s.Kind) {
		ok = ok || k == prev
	}
	if !ok {
		return fmt.Errorf("step %d: a %s after a %s step, not Latchkey's flow", s.N, s.Kind, prev)
	}
	if s.Kind == formflow.Redirect {
		return nil
	}
	path := "/" + s.Kind.String()
	if s.Method != http.MethodPost || !strings.HasSuffix(s.URL.Path, path) {
		return fmt.Errorf("step %d: the %s form is sent with %s to %s, want POST to %s", s.N, s.Kind, s.Method, s.URL.Path, path)
	}
	f, err := url.ParseQuery(s.Body)
	if err != nil {
		return fmt.Errorf("step %d: the %s form's body: %v", s.N, s.Kind, err)
	}
	for _, name := range []string{"csrf", "request"} {
		if v := f[name]; len(v) != 1 || v[0] == "" {
			return fmt.Errorf("step %d: the %s form has %d %s fields (%q), want one that is not empty", s.N, s.Kind, len(v), name, v)
		}
	}
	return nil
}

// checkAnswer checks the answer to step s: a login or consent is
// answered 303.
func checkAnswer(s formflow.Step, status int) error {
	if (s.Kind == formflow.Login || s.Kind == formflow.Consent) && status != http.StatusSeeOther {
		return fmt.Errorf("step %d: the %s was answered %d, want 303", s.N, s.Kind, status)
	}
	return nil
}
