package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// deviceToken binds a form or link of the device flow to a purpose, a
// secret the browser holds (its pre-login cookie, or its session's
// digest) and one user code: it proves that this browser entered that
// code through the limited code form.
func (s *Server) deviceToken(purpose, binding, ucDigest string) string {
	return s.csrfToken(purpose, binding+"\x00"+ucDigest)
}

func (s *Server) checkDeviceToken(purpose, binding, ucDigest, got string) bool {
	return binding != "" && s.checkCSRF(purpose, binding+"\x00"+ucDigest, got)
}

// deviceNotAllowed is the page a method other than GET or POST gets.
func deviceNotAllowed() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusMethodNotAllowed, "Method not allowed",
		"This page answers GET and POST only.", "Go back to your device and start again.")
}

// showDeviceLogin renders the login page of /authorize for the device
// flow: it posts to /device/login and carries the (normalised) code.
func (s *Server) showDeviceLogin(w http.ResponseWriter, r *http.Request, code string, client store.Client, v loginView) error {
	binding, err := s.loginCSRF(w, r)
	if err != nil {
		return err
	}
	v.Base, v.Action, v.ClientName = s.prefix, "/device/login", client.Name
	v.CSRF = s.deviceToken("device-login", binding, s.userCodeDigest(code))
	v.Request = url.Values{"user_code": {code}}.Encode()
	s.render(w, r, web.Login, v)
	return nil
}

// handleDeviceLogin signs the user in as /login does (the same limits and
// message), then sends the browser on to the consent page.
func (s *Server) handleDeviceLogin(w http.ResponseWriter, r *http.Request) error {
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	carried, err := url.ParseQuery(form.Get("request"))
	code, ok := normalizeUserCode(carried.Get("user_code"))
	cookie, cerr := r.Cookie(s.csrfCookie())
	if err != nil || !ok || cerr != nil {
		return expiredForm()
	}
	ucDigest := s.userCodeDigest(code)
	if !s.checkDeviceToken("device-login", cookie.Value, ucDigest, form.Get("csrf")) {
		return expiredForm()
	}
	_, client, found, err := s.pendingDevice(r.Context(), ucDigest)
	if err != nil {
		return err
	}
	if !found {
		return s.showDeviceEntry(w, r, http.StatusOK, "", msgCodeNotValid)
	}
	// After a second step the browser comes back through the code form,
	// signed in, and so to the consent page.
	next := "/device?" + url.Values{"user_code": {formatUserCode(code)}}.Encode()
	session, msg, pending, err := s.signIn(w, r, signInFor{clientID: client.ID, clientName: client.Name, next: next,
		need: policyLevel(client, nil)}, form)
	if err != nil || pending {
		return err
	}
	if msg != "" {
		return s.showDeviceLogin(w, r, code, client, loginView{Username: form.Get("username"), Message: msg})
	}
	s.seeOther(w, s.deviceConsentURL(session, code))
	return nil
}

// deviceConsentURL is the consent page of code for the session: its link
// carries a token bound to both, so it shows nothing to anyone else.
func (s *Server) deviceConsentURL(session, code string) string {
	t := s.deviceToken("device-resume", session, s.userCodeDigest(code))
	return s.endpoint("/device/consent") + "?" + url.Values{"user_code": {formatUserCode(code)}, "t": {t}}.Encode()
}

// handleDeviceConsent shows the consent page (GET, from the link the code
// form or the login sent the browser to) or takes the decision (POST).
func (s *Server) handleDeviceConsent(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		return s.decideDevice(w, r)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["user_code"]) > 1 || len(q["t"]) > 1 {
		return malformedForm()
	}
	code, ok := normalizeUserCode(q.Get("user_code"))
	if !ok {
		return s.showDeviceEntry(w, r, http.StatusOK, "", msgCodeNotValid)
	}
	ucDigest := s.userCodeDigest(code)
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	if sess == nil || !s.checkDeviceToken("device-resume", sess.Digest, ucDigest, q.Get("t")) {
		// Not this session's link: the code goes through the code form,
		// and its limits, again.
		s.seeOther(w, s.endpoint("/device")+"?"+url.Values{"user_code": {formatUserCode(code)}}.Encode())
		return nil
	}
	d, client, found, err := s.pendingDevice(r.Context(), ucDigest)
	if err != nil {
		return err
	}
	if !found {
		return s.showDeviceEntry(w, r, http.StatusOK, "", msgCodeNotValid)
	}
	// A session weaker than the client's or the user's policy is stepped
	// up first, and comes back through the code form.
	if sessionLevel(sess) < policyLevel(client, &user) {
		next := "/device?" + url.Values{"user_code": {formatUserCode(code)}}.Encode()
		return s.beginSecondStep(w, r, user, client.ID, client.Name, sessionAMR(sess), next, policyLevel(client, &user))
	}
	v := struct {
		Base, ClientName, Username, CSRF, UserCode string
		Scopes                                     []scopeView
		Resources                                  []string
		Client                                     clientView
	}{
		Base: s.prefix, ClientName: displayName(client), Username: user.Username, UserCode: formatUserCode(code), Client: viewClient(client),
		CSRF: s.deviceToken("device-consent", sess.Digest, ucDigest), Scopes: scopeViews(d.Scopes), Resources: d.Resources,
	}
	s.render(w, r, web.DeviceConsent, v)
	return nil
}

// decideDevice takes the user's Approve or Deny: only from the consent
// form of this session for this code (CSRF, A24), only once (a decided
// code is not valid any more), and never without the explicit POST.
func (s *Server) decideDevice(w http.ResponseWriter, r *http.Request) error {
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	code, ok := normalizeUserCode(form.Get("user_code"))
	if sess == nil || !ok {
		return expiredForm()
	}
	ucDigest := s.userCodeDigest(code)
	if !s.checkDeviceToken("device-consent", sess.Digest, ucDigest, form.Get("csrf")) {
		return expiredForm()
	}
	var approved bool
	switch form.Get("decision") {
	case "approve":
		approved = true
	case "deny":
	default:
		return malformedForm()
	}
	ctx := r.Context()
	dc, client, found, err := s.pendingDevice(ctx, ucDigest)
	if err != nil {
		return err
	}
	if found && approved && sessionLevel(sess) < policyLevel(client, &user) {
		return expiredForm() // the consent page steps the session up first; this form did not come from it
	}
	if found {
		err = s.st.DecideDeviceCode(ctx, ucDigest, store.DeviceDecision{UserID: user.ID, AuthTime: sess.AuthTime,
			AMR: sessionAMR(sess), ACR: acrForLevel(sessionLevel(sess)), Approved: approved, At: s.now()})
	}
	if !found || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return s.showDeviceEntry(w, r, http.StatusOK, "", msgCodeNotValid)
	}
	if err != nil {
		return fmt.Errorf("device: decide: %w", err)
	}
	s.log.InfoContext(ctx, "device request decided", "client_id", client.ID, "user_id", user.ID, "approved", approved)
	if approved {
		s.recordConsent(r, client.ID, user.ID, dc.Scopes, "device")
	}
	s.render(w, r, web.DeviceDone, struct {
		Base, ClientName string
		Approved         bool
	}{s.prefix, client.Name, approved})
	return nil
}
