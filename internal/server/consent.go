package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// scopeView is one line of the consent page.
type scopeView struct{ Name, Description string }

// describeScope says in plain language what a scope lets the client do.
func describeScope(scope string) string {
	switch scope {
	case "openid":
		return "Sign you in with your account"
	case "profile":
		return "See your name and profile"
	case "email":
		return "See your email address"
	case "address":
		return "See your postal address"
	case "phone":
		return "See your phone number"
	case "offline_access":
		return "Keep access while you are away"
	case "read":
		return "Read your data"
	case "write":
		return "Change your data"
	}
	return "Use the \u201c" + scope + "\u201d permission"
}

// showConsent renders the consent page: the client, each requested scope
// in plain words, the resources asked for, Allow and Deny, and a CSRF
// token bound to the session.
func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, req *authRequest, user store.User, sess *store.Session) error {
	host := req.redirectURI
	if u, err := url.Parse(req.redirectURI); err == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	}
	v := struct {
		Base, ClientName, Username, CSRF, Request, RedirectHost string
		Scopes                                                  []scopeView
		// Resources are the APIs the tokens will be for (RFC 8707).
		Resources []string
		Client    clientView
	}{
		Base: s.prefix, ClientName: displayName(req.client), Username: user.Username, Resources: req.resources,
		Client: viewClient(req.client),
		CSRF:   s.csrfToken("consent", sess.Digest), Request: s.carried(req, req.params).Encode(), RedirectHost: host,
	}
	v.Scopes = scopeViews(req.scopes)
	s.render(w, r, web.Consent, v)
	return nil
}

// clientView is what a consent page says about who is asking (S155):
// a client that registered itself is marked not verified, and the hosts
// of the website and logo it claims are shown as text. Neither is ever
// fetched nor turned into a link or an image (S202): the server would
// reach where an attacker points, and the user would see a logo the
// attacker chose.
type clientView struct {
	Name           string
	Unverified     bool
	Site, LogoHost string
}

func viewClient(c store.Client) clientView {
	if c.Source != clientmeta.SourceRegistration {
		return clientView{Name: displayName(c)}
	}
	return clientView{Name: displayName(c), Unverified: true, Site: clientmeta.Host(c.ClientURI), LogoHost: clientmeta.Host(c.LogoURI)}
}

// displayName is the client's name, or its id when it gave none.
func displayName(c store.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// scopeViews are the lines of a consent page for scopes.
func scopeViews(scopes []string) []scopeView {
	out := make([]scopeView, len(scopes))
	for i, sc := range scopes {
		out[i] = scopeView{Name: sc, Description: describeScope(sc)}
	}
	return out
}

// handleConsent takes the user's decision. The form's CSRF token must match
// the session (A7); Allow remembers the scopes for this client and issues
// the code, Deny redirects with access_denied.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) error {
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	if sess == nil || !s.checkCSRF("consent", sess.Digest, form.Get("csrf")) {
		return expiredForm()
	}
	req, err := s.formRequest(r, form)
	if err != nil {
		return err
	}
	switch form.Get("decision") {
	case "allow":
		if err := s.rememberConsent(r, req, user); err != nil {
			return err
		}
		return s.issueCode(w, r, req, user, sess)
	case "deny":
		return req.toClient(protocol.Errorf(protocol.ErrAccessDenied, "the user denied the request"))
	}
	return malformedForm()
}

// rememberConsent adds the granted scopes and resources to what the user
// consented to for this client before.
func (s *Server) rememberConsent(r *http.Request, req *authRequest, user store.User) error {
	ctx := r.Context()
	scopes, resources := slices.Clone(req.scopes), slices.Clone(req.resources)
	old, err := s.st.GetConsent(ctx, user.ID, req.client.ID)
	switch {
	case err == nil:
		scopes, resources = union(scopes, old.Scopes), union(resources, old.Resources)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("read consent: %w", err)
	}
	err = s.st.SaveConsent(ctx, store.Consent{UserID: user.ID, ClientID: req.client.ID, Scopes: scopes, Resources: resources, GrantedAt: s.now()})
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	s.recordConsent(r, req.client.ID, user.ID, req.scopes, "authorize")
	return nil
}

// union is a followed by the members of b it lacks.
func union(a, b []string) []string {
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	return a
}
