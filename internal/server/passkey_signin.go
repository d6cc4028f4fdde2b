package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	wap "github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The passkey endpoints. Each ceremony has a begin endpoint, which the
// page's script fetches (a form body with the page's CSRF token; the
// answer is the options as JSON, an error as an OAuth-style JSON error),
// and a finish endpoint, a form the script fills with the credential's
// JSON and submits, so the browser navigates to what follows (the next
// page, the recovery codes) and the session cookie is set as for the
// password form. CSRF tokens are bound as for the pages' other forms.
//
//	/account/passkeys/begin, /account/passkeys   enrolment (signed in)
//	/account/passkeys/remove                     removal (signed in)
//	/login/mfa/passkey/begin, /login/mfa/passkey second factor (pending sign-in)
//	/login/passkey/begin, /login/passkey         passwordless (login page)

// Messages of the passkey forms.
const (
	msgPasskeyRefused = "That passkey was not accepted. Try again, or sign in another way."
	msgPasskeyCloned  = "That passkey was refused: its signature counter went backwards, as happens when a passkey was copied. Use another passkey or way to sign in, and tell your administrator."
	msgPasskeyStale   = "The passkey request expired or was used already. Try again."
	msgPasskeyNoUV    = "Signing in with a passkey alone needs the passkey to verify you (a PIN or biometric). Sign in with your password instead."
)

// Purposes of the CSRF tokens (and ceremonies) of the passkey forms.
const (
	csrfPasskeyLogin  = "passkey-login"
	csrfAccountPK     = "account-passkey"
	csrfAccountPKDrop = "account-passkey-remove"
)

func passkeysOff() *protocol.Error {
	return &protocol.Error{Code: protocol.ErrInvalidRequest, Status: http.StatusNotFound,
		Description: "passkeys are not available: the issuer's host is not a domain name"}
}

func passkeyExpiredJSON() *protocol.Error {
	return &protocol.Error{Code: protocol.ErrInvalidRequest, Status: http.StatusForbidden,
		Description: "the page has expired: reload it and try again"}
}

func passkeyMalformed() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusBadRequest, "Passkey response not readable",
		"What your browser sent for the passkey could not be read.", "Go back and try again.")
}

// beginForm reads the form body of a begin request; its errors are JSON.
func beginForm(r *http.Request) (protocol.Form, error) {
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		return nil, &protocol.Error{Code: protocol.ErrInvalidRequest, Status: perr.HTTPStatus(),
			Description: "send the page's csrf token as a form (application/x-www-form-urlencoded)"}
	}
	return form, nil
}

// spend takes the ceremony and parses the credential: the ceremony is
// spent first, so a malformed or refused response uses it up too. reason
// is why the ceremony cannot go on ("" when it can).
func (s *Server) spend(w http.ResponseWriter, r *http.Request, purpose, binding string) (webauthn.SessionData, string, error) {
	sd, err := s.takeCeremony(w, r, purpose, binding)
	switch {
	case errors.Is(err, errCeremonyReused):
		return sd, audit.ReasonChallengeReused, nil
	case errors.Is(err, errNoCeremony):
		return sd, audit.ReasonBadPasskey, nil
	case err != nil:
		return sd, "", err
	}
	return sd, "", nil
}

// usePasskey records the use of a verified credential: refused when the
// library flagged its counter as not increasing (a clone, WebAuthn §7.2
// step 21: this server fails the ceremony and keeps the stored counter),
// else the counter and flags are stored with a compare-and-swap on the
// counter read, so of two concurrent uses one wins.
func (s *Server) usePasskey(ctx context.Context, pu *passkeyUser, cred *webauthn.Credential) (store.Factor, string, error) {
	f, ok := pu.factorOf(cred.ID)
	if !ok {
		return f, audit.ReasonBadPasskey, nil
	}
	if cred.Authenticator.CloneWarning {
		return f, audit.ReasonClonedAuthenticator, nil
	}
	data, err := s.sealCredential(cred, f.ID)
	if err != nil {
		return f, "", err
	}
	err = s.st.UpdateFactor(ctx, pu.user.ID, f.ID, f.Counter, int64(cred.Authenticator.SignCount), data, s.now())
	switch {
	case errors.Is(err, store.ErrConflict): // another use got there first with the same counter
		return f, audit.ReasonClonedAuthenticator, nil
	case errors.Is(err, store.ErrNotFound): // removed meanwhile
		return f, audit.ReasonBadPasskey, nil
	case err != nil:
		return f, "", fmt.Errorf("use passkey: %w", err)
	}
	return f, "", nil
}

func passkeyMessage(reason string) string {
	switch reason {
	case audit.ReasonClonedAuthenticator:
		return msgPasskeyCloned
	case audit.ReasonChallengeReused:
		return msgPasskeyStale
	}
	return msgPasskeyRefused
}

// hasPasskey reports whether the user has a confirmed passkey.
func (s *Server) hasPasskey(r *http.Request, userID string) (bool, error) {
	factors, err := s.confirmedFactors(r, userID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(factors, func(f store.Factor) bool { return f.Kind == store.FactorWebAuthn }), nil
}

// handleMFAPasskeyBegin begins the assertion of a pending sign-in's
// second step: the user's passkeys are allowed, user verification
// preferred.
func (s *Server) handleMFAPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return passkeysOff()
	}
	form, err := beginForm(r)
	if err != nil {
		return err
	}
	p, binding, err := s.pending(r)
	if err != nil || !s.checkCSRF("mfa", binding, form.Get("csrf")) {
		return passkeyExpiredJSON()
	}
	user, err := s.st.GetUser(r.Context(), p.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.Disabled() {
		return passkeyExpiredJSON()
	}
	if err != nil {
		return fmt.Errorf("pending user: %w", err)
	}
	pu, err := s.passkeysOf(r, user)
	if err != nil {
		return err
	}
	if len(pu.creds) == 0 {
		return &protocol.Error{Code: protocol.ErrInvalidRequest, Description: "the account has no passkey"}
	}
	assertion, sd, err := s.rp.BeginLogin(pu, webauthn.WithUserVerification(wap.VerificationPreferred))
	if err != nil {
		return fmt.Errorf("passkey: begin login: %w", err)
	}
	if err := s.setCeremony(w, "mfa", binding, sd); err != nil {
		return err
	}
	return writeOptions(w, assertion)
}

// handleMFAPasskey checks the passkey of a pending sign-in's second step.
// On success the session starts with the password and the passkey.
func (s *Server) handleMFAPasskey(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return expiredForm()
	}
	form, p, user, err := s.pendingForm(r, "mfa")
	if err != nil {
		return err
	}
	_, binding, _ := s.pending(r)
	next := form.Get("next")
	sd, reason, err := s.spend(w, r, "mfa", binding)
	if err != nil {
		return err
	}
	par, perr := parseAssertion(form.Get("credential"))
	if perr != nil {
		s.emit(r.Context(), r, audit.Event{Type: audit.MFAFailure, UserID: user.ID, ClientID: p.ClientID,
			Reason: audit.ReasonBadRequest, Details: map[string]string{"method": "passkey"}})
		return passkeyMalformed()
	}
	var cred *webauthn.Credential
	var f store.Factor
	if reason == "" {
		pu, err := s.passkeysOf(r, user)
		if err != nil {
			return err
		}
		if cred, err = s.rp.ValidateLogin(pu, sd, par); err != nil {
			reason = audit.ReasonBadPasskey
		} else if f, reason, err = s.usePasskey(r.Context(), pu, cred); err != nil {
			return err
		}
	}
	if reason != "" {
		s.emit(r.Context(), r, audit.Event{Type: audit.MFAFailure, UserID: user.ID, ClientID: p.ClientID,
			Reason: reason, Details: map[string]string{"method": "passkey"}})
		return s.showSecondFactor(w, r, binding, user, mfaView{Next: next, ClientName: form.Get("client_name"),
			Message: passkeyMessage(reason), PasskeyOnly: p.Need >= levelPhishingResistant})
	}
	amr := amrFor(append(slices.Clone(p.AMR), passkeyAMR(cred))...)
	if _, err := s.startSession(r.Context(), w, r, user, amr); err != nil {
		return err
	}
	s.clearCookie(w, s.pendingCookie())
	s.emit(r.Context(), r, audit.Event{Type: audit.MFASuccess, Actor: user.ID, UserID: user.ID, ClientID: p.ClientID,
		Details: map[string]string{"method": "passkey", "id": f.ID}})
	s.seeOther(w, s.endpoint(next))
	return nil
}

// handlePasskeyLoginBegin begins a passwordless sign-in from the login
// page: any discoverable passkey of this relying party, user
// verification required (the passkey is then both factors).
func (s *Server) handlePasskeyLoginBegin(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return passkeysOff()
	}
	form, err := beginForm(r)
	if err != nil {
		return err
	}
	ck, err := r.Cookie(s.csrfCookie())
	if err != nil || !s.checkCSRF(csrfPasskeyLogin, ck.Value, form.Get("csrf")) {
		return passkeyExpiredJSON()
	}
	assertion, sd, err := s.rp.BeginDiscoverableLogin(webauthn.WithUserVerification(wap.VerificationRequired))
	if err != nil {
		return fmt.Errorf("passkey: begin discoverable login: %w", err)
	}
	if err := s.setCeremony(w, "login", ck.Value, sd); err != nil {
		return err
	}
	return writeOptions(w, assertion)
}

// handlePasskeyLogin finishes a passwordless sign-in: the user is the
// passkey's user handle, the passkey must have verified them. The form
// carries the authorization request (the login page) or nothing (the
// account page's sign-in).
func (s *Server) handlePasskeyLogin(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return expiredForm()
	}
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	ck, err := r.Cookie(s.csrfCookie())
	if err != nil || !s.checkCSRF(csrfPasskeyLogin, ck.Value, form.Get("csrf")) {
		return expiredForm()
	}
	var req *authRequest
	next, clientID := "/account", accountClient
	if form.Get("request") != "" {
		if req, err = s.formRequest(r, form); err != nil {
			return err
		}
		next, clientID = "/authorize?"+s.carried(req, resumeParams(req.params)).Encode(), req.client.ID
	}
	sd, reason, err := s.spend(w, r, "login", ck.Value)
	if err != nil {
		return err
	}
	par, perr := parseAssertion(form.Get("credential"))
	if perr != nil {
		s.emit(r.Context(), r, audit.Event{Type: audit.SigninFailure, ClientID: clientID, Reason: audit.ReasonBadRequest,
			Details: map[string]string{"method": "passkey"}})
		return passkeyMalformed()
	}
	var pu *passkeyUser
	var cred *webauthn.Credential
	var f store.Factor
	if reason == "" {
		var lookupErr error
		handler := func(_, userHandle []byte) (webauthn.User, error) {
			user, err := s.st.GetUser(r.Context(), string(userHandle))
			if err == nil && user.Disabled() {
				err = store.ErrNotFound
			}
			if err != nil {
				lookupErr = err
				return nil, err
			}
			pu, lookupErr = s.passkeysOf(r, user)
			return pu, lookupErr
		}
		_, cred, err = s.rp.ValidatePasskeyLogin(handler, sd, par)
		switch {
		case lookupErr != nil && !errors.Is(lookupErr, store.ErrNotFound):
			return lookupErr // the store, not the passkey
		case err != nil:
			reason = audit.ReasonBadPasskey
		case !par.Response.AuthenticatorData.Flags.HasUserVerified():
			reason = "no_user_verification"
		default:
			if f, reason, err = s.usePasskey(r.Context(), pu, cred); err != nil {
				return err
			}
		}
	}
	if reason != "" {
		e := audit.Event{Type: audit.SigninFailure, ClientID: clientID, Reason: reason,
			Details: map[string]string{"method": "passkey"}}
		if pu != nil {
			e.UserID = pu.user.ID
		}
		if reason == "no_user_verification" {
			e.Reason = audit.ReasonBadPasskey
		}
		s.emit(r.Context(), r, e)
		msg := passkeyMessage(reason)
		if reason == "no_user_verification" {
			msg = msgPasskeyNoUV
		}
		if req != nil {
			return s.showLogin(w, r, req, loginView{Message: msg})
		}
		return s.showAccountLogin(w, r, loginView{Message: msg})
	}
	amr := amrFor(passkeyAMR(cred), amrUser)
	if _, err := s.startSession(r.Context(), w, r, pu.user, amr); err != nil {
		return err
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.SigninSuccess, Actor: pu.user.ID, UserID: pu.user.ID, ClientID: clientID,
		Details: map[string]string{"username": pu.user.Username, "method": "passkey", "id": f.ID,
			"endpoint": "/login/passkey"}})
	s.emit(r.Context(), r, audit.Event{Type: audit.MFASuccess, Actor: pu.user.ID, UserID: pu.user.ID, ClientID: clientID,
		Details: map[string]string{"method": "passkey_passwordless", "id": f.ID}})
	s.seeOther(w, s.endpoint(next))
	return nil
}

// handleAccountPasskeyBegin begins the enrolment of a new passkey for
// the signed-in user; the user's passkeys are excluded, so an
// authenticator is not enrolled twice.
func (s *Server) handleAccountPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return passkeysOff()
	}
	form, err := beginForm(r)
	if err != nil {
		return err
	}
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	if sess == nil || !s.checkCSRF(csrfAccountPK, sess.Digest, form.Get("csrf")) {
		return passkeyExpiredJSON()
	}
	if len(user.ID) > 64 { // a user handle holds at most 64 bytes (WebAuthn §5.4.3)
		return &protocol.Error{Code: protocol.ErrInvalidRequest, Description: "this account's id is too long for a passkey"}
	}
	pu, err := s.passkeysOf(r, user)
	if err != nil {
		return err
	}
	creation, sd, err := s.rp.BeginRegistration(pu,
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()))
	if err != nil {
		return fmt.Errorf("passkey: begin registration: %w", err)
	}
	if err := s.setCeremony(w, "register", sess.Digest, sd); err != nil {
		return err
	}
	return writeOptions(w, creation)
}

// handleAccountPasskey finishes the enrolment: the library verifies the
// registration (challenge, origin, relying party id, flags); the passkey
// is added beside the others, with recovery codes when it is the user's
// first factor, shown once. The session is renewed with the passkey's
// method, as after setting up an authenticator app.
func (s *Server) handleAccountPasskey(w http.ResponseWriter, r *http.Request) error {
	if s.rp == nil {
		return expiredForm()
	}
	form, sess, user, ok, err := s.accountForm(w, r, csrfAccountPK)
	if !ok {
		return err
	}
	sd, reason, err := s.spend(w, r, "register", sess.Digest)
	if err != nil {
		return err
	}
	pcc, perr := parseCreation(form.Get("credential"))
	if perr != nil {
		return passkeyMalformed()
	}
	if reason != "" {
		return s.showAccount(w, r, sess, user, "", msgPasskeyStale)
	}
	pu, err := s.passkeysOf(r, user)
	if err != nil {
		return err
	}
	cred, err := s.rp.CreateCredential(pu, sd, pcc)
	if err != nil {
		s.log.InfoContext(r.Context(), "passkey registration refused", "err", err)
		return s.showAccount(w, r, sess, user, "", "That passkey could not be added. Try again.")
	}
	if _, dup := pu.factorOf(cred.ID); dup {
		return s.showAccount(w, r, sess, user, "", "That passkey is added already.")
	}
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return err
	}
	var codes, digests []string
	if len(factors) == 0 {
		if codes, digests, err = s.newRecoveryCodes(); err != nil {
			return err
		}
	}
	id, err := randomID(s.rand)
	if err != nil {
		return err
	}
	data, err := s.sealCredential(cred, id)
	if err != nil {
		return err
	}
	now := s.now()
	name := passkeyName(form.Get("name"))
	if err := s.st.AddFactor(r.Context(), store.Factor{ID: id, UserID: user.ID, Kind: store.FactorWebAuthn, Label: name,
		Data: data, Counter: int64(cred.Authenticator.SignCount), CreatedAt: now, ConfirmedAt: now}, digests); err != nil {
		return fmt.Errorf("account: add passkey: %w", err)
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.MFAEnrolled, Actor: user.ID, UserID: user.ID,
		Details: map[string]string{"kind": store.FactorWebAuthn, "via": "account", "id": id, "name": name}})
	if codes != nil {
		s.emit(r.Context(), r, audit.Event{Type: audit.RecoveryCodesIssued, Actor: user.ID, UserID: user.ID,
			Details: map[string]string{"count": strconv.Itoa(len(codes))}})
	}
	if _, err := s.startSession(r.Context(), w, r, user, amrFor(append(slices.Clone(sessionAMR(sess)), passkeyAMR(cred))...)); err != nil {
		return err
	}
	if codes == nil {
		s.seeOther(w, s.endpoint("/account")+"?done=passkey")
		return nil
	}
	s.render(w, r, web.MFACodes, mfaView{Base: s.prefix, Codes: codes, ContinueURL: s.endpoint("/account")})
	return nil
}

// handleAccountPasskeyRemove removes one of the user's passkeys. A
// session that did not sign in with a second factor cannot (a session
// alone is not enough to drop a factor), nor can a user whose policy
// requires a second factor remove their last one.
func (s *Server) handleAccountPasskeyRemove(w http.ResponseWriter, r *http.Request) error {
	form, sess, user, ok, err := s.accountForm(w, r, csrfAccountPKDrop)
	if !ok {
		return err
	}
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(factors, func(f store.Factor) bool {
		return f.Kind == store.FactorWebAuthn && f.ID == form.Get("id")
	})
	if i < 0 { // removed already, or never the user's
		s.seeOther(w, s.endpoint("/account"))
		return nil
	}
	if sessionLevel(sess) < levelMFA {
		return s.showAccount(w, r, sess, user, "", "To remove a passkey, sign in again with your passkey or authenticator app first.")
	}
	if user.MFARequired && len(factors) == 1 {
		return s.showAccount(w, r, sess, user, "", "Your account requires two-step verification: add another passkey or an authenticator app before removing this one.")
	}
	left, err := s.st.DeleteFactor(r.Context(), user.ID, factors[i].ID)
	if errors.Is(err, store.ErrNotFound) {
		s.seeOther(w, s.endpoint("/account"))
		return nil
	}
	if err != nil {
		return fmt.Errorf("account: remove passkey: %w", err)
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.MFARemoved, Actor: user.ID, UserID: user.ID,
		Details: map[string]string{"via": "account", "kind": store.FactorWebAuthn, "id": factors[i].ID,
			"name": factors[i].Label, "factors": "1", "left": strconv.Itoa(left)}})
	s.seeOther(w, s.endpoint("/account")+"?done=passkey_off")
	return nil
}
