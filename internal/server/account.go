package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The account page (/account): a signed-in user changes their password,
// sees where they are signed in and signs any of those sessions out, and
// withdraws the access they gave applications. It is a page like the
// login page: the same session cookie, CSRF tokens bound to the session
// (one purpose per form), the same security headers (no framing, no
// store), and password checks under the same guessing limits as /login.

// accountClient is the name the guessing limits count the account page's
// password checks under (pw:client:…), beside the real clients'.
const accountClient = "latchkey:account"

// Password rules for a new password: long enough to resist guessing
// under the limits, short enough that hashing it is not a burden.
const (
	minPasswordRunes = 8
	maxPasswordBytes = 1024
)

// accountNotices are what the page says after a form succeeded (the 303
// names one by key, so nothing the address carries is shown as is).
var accountNotices = map[string]string{
	"password":    "Your password was changed. Your other sessions were signed out.",
	"session":     "That session was signed out.",
	"consent":     "The application's access was removed.",
	"mfa":         "Your new authenticator app is set up.",
	"mfa_off":     "Two-step verification is off: your password alone signs you in.",
	"passkey":     "Your new passkey is added.",
	"passkey_off": "The passkey was removed.",
}

// accountView is what the account page shows.
type accountView struct {
	Base, Username, Notice, Message        string
	PasswordCSRF, SessionCSRF, ConsentCSRF string
	MFACSRF                                string
	PasswordManaged                        bool
	// MFA is whether the user has a second factor; RecoveryLeft how many
	// unused recovery codes they hold.
	MFA          bool
	RecoveryLeft int
	// MFARequired: the user's policy keeps a second factor; it cannot be
	// turned off here.
	MFARequired bool
	MFAOffCSRF  string
	// TOTP is whether the user has an authenticator app.
	TOTP bool
	// Passkeys are the user's passkeys; PasskeyCSRF, when set, lets the
	// page add one (the server can be a relying party).
	Passkeys                       []passkeyRow
	PasskeyCSRF, PasskeyRemoveCSRF string
	MinPassword                    int
	Sessions                       []sessionRow
	Apps                           []appRow
}

type passkeyRow struct {
	ID, Name, Kind, Added, LastUsed string
}

type sessionRow struct {
	SID, Device, IP, Created, LastSeen string
	Current                            bool
}

type appRow struct {
	ClientID, Name, GrantedAt string
	Scopes, Resources         []string
}

// handleAccount shows the account page, or the sign-in form that leads
// back to it.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) error {
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	if sess == nil {
		return s.showAccountLogin(w, r, loginView{})
	}
	return s.showAccount(w, r, sess, user, accountNotices[r.URL.Query().Get("done")], "")
}

// showAccount renders the page for the user of sess.
func (s *Server) showAccount(w http.ResponseWriter, r *http.Request, sess *store.Session, user store.User, notice, msg string) error {
	ctx := r.Context()
	v := accountView{Base: s.prefix, Username: user.Username, Notice: notice, Message: msg,
		PasswordCSRF: s.csrfToken("account-password", sess.Digest), SessionCSRF: s.csrfToken("account-session", sess.Digest),
		ConsentCSRF: s.csrfToken("account-consent", sess.Digest), PasswordManaged: user.Source == "config",
		MinPassword: minPasswordRunes, MFACSRF: s.csrfToken("account-mfa", sess.Digest),
		MFAOffCSRF: s.csrfToken("account-mfa-off", sess.Digest), MFARequired: user.MFARequired}
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return err
	}
	if s.rp != nil {
		v.PasskeyCSRF = s.csrfToken(csrfAccountPK, sess.Digest)
	}
	v.PasskeyRemoveCSRF = s.csrfToken(csrfAccountPKDrop, sess.Digest)
	for _, f := range factors {
		switch f.Kind {
		case store.FactorTOTP:
			v.TOTP = true
		case store.FactorWebAuthn:
			v.Passkeys = append(v.Passkeys, passkeyRow{ID: f.ID, Name: f.Label, Kind: s.passkeyKind(f),
				Added: when(f.ConfirmedAt), LastUsed: when(f.LastUsedAt)})
		}
	}
	if v.MFA = len(factors) > 0; v.MFA {
		if v.RecoveryLeft, err = s.st.CountRecoveryCodes(ctx, user.ID); err != nil {
			return fmt.Errorf("account: count recovery codes: %w", err)
		}
	}
	sessions, err := s.st.ListSessions(ctx, user.ID, s.now())
	if err != nil {
		return fmt.Errorf("account: list sessions: %w", err)
	}
	for _, o := range sessions {
		v.Sessions = append(v.Sessions, sessionRow{SID: o.SID, Device: deviceOf(o.UserAgent), IP: o.IP,
			Created: when(o.CreatedAt), LastSeen: when(o.LastSeenAt), Current: sameSession(o, *sess)})
	}
	if v.Apps, err = s.consentedApps(ctx, user.ID); err != nil {
		return err
	}
	s.render(w, r, web.Account, v)
	return nil
}

// consentedApps lists the applications the user consented to, by name.
func (s *Server) consentedApps(ctx context.Context, userID string) ([]appRow, error) {
	consents, err := s.st.ListConsents(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("account: list consents: %w", err)
	}
	var apps []appRow
	for _, c := range consents {
		client, err := s.st.GetClient(ctx, c.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since; its consent goes with it
		}
		if err != nil {
			return nil, fmt.Errorf("account: client %s: %w", c.ClientID, err)
		}
		name := client.Name
		if name == "" {
			name = client.ID
		}
		apps = append(apps, appRow{ClientID: c.ClientID, Name: name, GrantedAt: when(c.GrantedAt),
			Scopes: c.Scopes, Resources: c.Resources})
	}
	return apps, nil
}

// when formats a time for the page; the zero time is "unknown".
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

// showAccountLogin renders the sign-in form of the account page.
func (s *Server) showAccountLogin(w http.ResponseWriter, r *http.Request, v loginView) error {
	binding, err := s.loginCSRF(w, r)
	if err != nil {
		return err
	}
	v.Base, v.Action, v.ClientName = s.prefix, "/account/login", "your account"
	v.CSRF = s.csrfToken("account-login", binding)
	if s.rp != nil {
		v.PasskeyCSRF = s.csrfToken(csrfPasskeyLogin, binding)
	}
	s.render(w, r, web.Login, v)
	return nil
}

// handleAccountLogin signs the user in as /login does (the same limits and
// message) and sends the browser back to the account page.
func (s *Server) handleAccountLogin(w http.ResponseWriter, r *http.Request) error {
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	cookie, err := r.Cookie(s.csrfCookie())
	if err != nil || !s.checkCSRF("account-login", cookie.Value, form.Get("csrf")) {
		return expiredForm()
	}
	_, msg, pending, err := s.signIn(w, r, signInFor{clientID: accountClient, clientName: "your account", next: "/account"}, form)
	if err != nil || pending {
		return err
	}
	if msg != "" {
		return s.showAccountLogin(w, r, loginView{Username: form.Get("username"), Message: msg})
	}
	s.seeOther(w, s.endpoint("/account"))
	return nil
}

// accountForm reads a form of the account page: the browser must be
// signed in and the token bound to its session and to purpose. A
// signed-out browser is sent to sign in again.
func (s *Server) accountForm(w http.ResponseWriter, r *http.Request, purpose string) (protocol.Form, *store.Session, store.User, bool, error) {
	form, err := pageForm(r)
	if err != nil {
		return nil, nil, store.User{}, false, err
	}
	sess, user, err := s.signedIn(r)
	if err != nil {
		return nil, nil, store.User{}, false, err
	}
	if sess == nil {
		s.seeOther(w, s.endpoint("/account"))
		return nil, nil, store.User{}, false, nil
	}
	if !s.checkCSRF(purpose, sess.Digest, form.Get("csrf")) {
		return nil, nil, store.User{}, false, expiredForm()
	}
	return form, sess, user, true, nil
}

// handleAccountPassword changes the user's password: the current one is
// checked under the login page's guessing limits, the new one under the
// password rules; then the user's other sessions are ended, so whoever
// knew the old password is signed out everywhere but here.
func (s *Server) handleAccountPassword(w http.ResponseWriter, r *http.Request) error {
	form, sess, user, ok, err := s.accountForm(w, r, "account-password")
	if !ok {
		return err
	}
	if user.Source == "config" {
		return s.showAccount(w, r, sess, user, "", "Your password is set in the server's configuration and cannot be changed here.")
	}
	current, next := form.Get("current_password"), form.Get("new_password")
	if msg := newPasswordProblem(next, form.Get("confirm_password")); msg != "" {
		return s.showAccount(w, r, sess, user, "", msg)
	}
	checked, err := s.checkUserPassword(r, accountClient, user.Username, current)
	if e := protocol.AsError(err); e != nil && e.Code == protocol.ErrInvalidGrant {
		msg := "The current password is incorrect."
		if e.RetryAfter > 0 {
			msg = "Too many failed attempts. Wait a little and try again."
		}
		return s.showAccount(w, r, sess, user, "", msg)
	}
	if err != nil {
		return err
	}
	if checked.ID != user.ID { // a username reassigned meanwhile: never change someone else's
		return expiredForm()
	}
	if next == current {
		return s.showAccount(w, r, sess, user, "", "The new password must differ from the current one.")
	}
	if err := s.setPassword(r.Context(), user, next); err != nil {
		return err
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.PasswordChanged, Actor: user.ID, UserID: user.ID,
		Details: map[string]string{"via": "account"}})
	if err := s.endOtherSessions(r, sess); err != nil {
		return err
	}
	s.seeOther(w, s.endpoint("/account")+"?done=password")
	return nil
}

// newPasswordProblem is what is wrong with a new password and its
// confirmation, or "".
func newPasswordProblem(next, confirm string) string {
	switch {
	case next != confirm:
		return "The two new passwords differ."
	case utf8.RuneCountInString(next) < minPasswordRunes:
		return fmt.Sprintf("The new password is too short: use at least %d characters.", minPasswordRunes)
	case len(next) > maxPasswordBytes:
		return fmt.Sprintf("The new password is too long: use at most %d bytes.", maxPasswordBytes)
	case !utf8.ValidString(next):
		return "The new password is not valid text."
	}
	return ""
}

// setPassword hashes pw with the server's argon2id parameters and stores it.
func (s *Server) setPassword(ctx context.Context, user store.User, pw string) error {
	hash, err := password.Hash(pw, s.cfg.Passwords, s.rand)
	if err != nil {
		return fmt.Errorf("account: hash password: %w", err)
	}
	if err := s.st.SetUserPassword(ctx, user.ID, hash, s.now()); err != nil {
		return fmt.Errorf("account: set password: %w", err)
	}
	return nil
}

// endOtherSessions ends every session of the user of keep but keep.
func (s *Server) endOtherSessions(r *http.Request, keep *store.Session) error {
	ctx := r.Context()
	sessions, err := s.st.ListSessions(ctx, keep.UserID, s.now())
	if err != nil {
		return fmt.Errorf("account: list sessions: %w", err)
	}
	for _, o := range sessions {
		if sameSession(o, *keep) {
			continue
		}
		if err := s.endSession(ctx, r, o, keep.UserID, "password_changed"); err != nil {
			return err
		}
	}
	return nil
}

// sameSession reports whether a and b are one session, comparing their
// digests in constant time (A12); sessions from before sids existed have
// none, so the sid cannot tell them apart.
func sameSession(a, b store.Session) bool {
	return subtle.ConstantTimeCompare([]byte(a.Digest), []byte(b.Digest)) == 1
}

// handleAccountEndSession signs out one of the user's sessions, this one
// included, and tells the applications that got grants in it.
func (s *Server) handleAccountEndSession(w http.ResponseWriter, r *http.Request) error {
	form, sess, user, ok, err := s.accountForm(w, r, "account-session")
	if !ok {
		return err
	}
	sid := form.Get("sid")
	if sid == sess.SID {
		if err := s.endSession(r.Context(), r, *sess, user.ID, "account"); err != nil {
			return err
		}
		s.clearCookie(w, s.sessionCookie())
		s.seeOther(w, s.endpoint("/account"))
		return nil
	}
	err = s.EndSession(r.Context(), user.ID, sid, user.ID, "account")
	if errors.Is(err, store.ErrNotFound) { // ended already, or never the user's: nothing to do
		s.seeOther(w, s.endpoint("/account"))
		return nil
	}
	if err != nil {
		return err
	}
	s.seeOther(w, s.endpoint("/account")+"?done=session")
	return nil
}

// handleAccountWithdraw withdraws the user's consent to a client: its
// grants are revoked first (refresh and access tokens stop), then the
// consent is forgotten, so a failure half-way leaves the consent listed
// and the user can try again.
func (s *Server) handleAccountWithdraw(w http.ResponseWriter, r *http.Request) error {
	form, _, user, ok, err := s.accountForm(w, r, "account-consent")
	if !ok {
		return err
	}
	ctx := r.Context()
	clientID := form.Get("client_id")
	if _, err := s.st.GetConsent(ctx, user.ID, clientID); errors.Is(err, store.ErrNotFound) {
		s.seeOther(w, s.endpoint("/account"))
		return nil
	} else if err != nil {
		return fmt.Errorf("account: consent: %w", err)
	}
	grants, err := s.st.ListUserGrants(ctx, user.ID, clientID, s.now())
	if err != nil {
		return fmt.Errorf("account: list grants: %w", err)
	}
	for _, g := range grants {
		if err := s.st.RevokeGrant(ctx, g.ID, s.now()); err != nil {
			return fmt.Errorf("account: revoke grant: %w", err)
		}
	}
	if err := s.st.DeleteConsent(ctx, user.ID, clientID); err != nil {
		return fmt.Errorf("account: delete consent: %w", err)
	}
	s.emit(ctx, r, audit.Event{Type: audit.ConsentWithdrawn, Actor: user.ID, UserID: user.ID, ClientID: clientID,
		Details: map[string]string{"via": "account", "grants_revoked": strconv.Itoa(len(grants))}})
	s.seeOther(w, s.endpoint("/account")+"?done=consent")
	return nil
}

// accountNotAllowed is the page a method other than GET or HEAD gets.
func accountNotAllowed() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusMethodNotAllowed, "Method not allowed",
		"The account page answers GET only; its forms post to their own addresses.", "Open the account page again.")
}

// handleAccountEnrol starts setting up an authenticator app: a new
// secret, shown once, which replaces the user's current app (if any) only
// once a first code confirms it.
func (s *Server) handleAccountEnrol(w http.ResponseWriter, r *http.Request) error {
	_, sess, user, ok, err := s.accountForm(w, r, "account-mfa")
	if !ok {
		return err
	}
	return s.showEnrol(w, r, user, "/account/mfa/confirm", s.csrfToken("account-mfa-confirm", sess.Digest),
		mfaView{Next: "/account"})
}

// handleAccountConfirm completes the enrolment with its first code, under
// the password's guessing limits. A first factor comes with recovery
// codes, shown once. The session is renewed with both methods: its user
// has just proved the app.
func (s *Server) handleAccountConfirm(w http.ResponseWriter, r *http.Request) error {
	form, sess, user, ok, err := s.accountForm(w, r, "account-mfa-confirm")
	if !ok {
		return err
	}
	codes, ok, msg, err := s.confirmEnrolment(r, accountClient, user, form.Get("factor_id"), normalizeOTP(form.Get("code")), "account")
	if err != nil {
		return err
	}
	if !ok {
		return s.showEnrol(w, r, user, "/account/mfa/confirm", s.csrfToken("account-mfa-confirm", sess.Digest),
			mfaView{Next: "/account", Message: msg})
	}
	if _, err := s.startSession(r.Context(), w, r, user, amrFor(append(sessionAMR(sess), amrOTP)...)); err != nil {
		return err
	}
	if codes == nil {
		s.seeOther(w, s.endpoint("/account")+"?done=mfa")
		return nil
	}
	s.render(w, r, web.MFACodes, mfaView{Base: s.prefix, Codes: codes, ContinueURL: s.endpoint("/account")})
	return nil
}

// handleAccountRecovery replaces the user's recovery codes with new ones,
// shown once; the old ones stop working.
func (s *Server) handleAccountRecovery(w http.ResponseWriter, r *http.Request) error {
	_, _, user, ok, err := s.accountForm(w, r, "account-mfa")
	if !ok {
		return err
	}
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return err
	}
	if len(factors) == 0 { // codes recover a second factor; without one they would be a second password
		s.seeOther(w, s.endpoint("/account"))
		return nil
	}
	codes, digests, err := s.newRecoveryCodes()
	if err != nil {
		return err
	}
	if err := s.st.ReplaceRecoveryCodes(r.Context(), user.ID, digests, s.now()); err != nil {
		return fmt.Errorf("account: replace recovery codes: %w", err)
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.RecoveryCodesIssued, Actor: user.ID, UserID: user.ID,
		Details: map[string]string{"count": strconv.Itoa(len(codes)), "via": "account"}})
	s.render(w, r, web.MFACodes, mfaView{Base: s.prefix, Codes: codes, ContinueURL: s.endpoint("/account")})
	return nil
}

// handleAccountMFAOff turns two-step verification off: a current code
// from the app proves the user holds it (a session alone is not enough
// to drop a factor), under the guessing limits; a user whose policy
// requires a second factor cannot.
func (s *Server) handleAccountMFAOff(w http.ResponseWriter, r *http.Request) error {
	form, sess, user, ok, err := s.accountForm(w, r, "account-mfa-off")
	if !ok {
		return err
	}
	if user.MFARequired {
		return s.showAccount(w, r, sess, user, "", "Your account requires two-step verification: it cannot be turned off.")
	}
	ok, msg, err := s.checkTOTPSignIn(r, accountClient, user, normalizeOTP(form.Get("code")))
	if err != nil {
		return err
	}
	if !ok {
		return s.showAccount(w, r, sess, user, "", msg)
	}
	n, err := s.st.DeleteFactors(r.Context(), user.ID)
	if err != nil {
		return fmt.Errorf("account: delete factors: %w", err)
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.MFARemoved, Actor: user.ID, UserID: user.ID,
		Details: map[string]string{"via": "account", "factors": strconv.Itoa(n)}})
	s.seeOther(w, s.endpoint("/account")+"?done=mfa_off")
	return nil
}
