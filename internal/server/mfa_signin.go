package server

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	qr "github.com/piglig/go-qr"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// mfaView is what the second-factor pages show: the code form, the
// enrolment (QR code and secret, shown once), the recovery codes (shown
// once), or why a request cannot be met.
type mfaView struct {
	Base, Action, CSRF, Next, ClientName, Message string
	// Enrolment: the factor being confirmed, its secret and otpauth URI,
	// and the QR code of the URI as inline SVG (the pages' CSP allows no
	// images from elsewhere, data: URIs included).
	FactorID, Secret, URI string
	QR                    template.HTML
	// Codes are new recovery codes; Left how many remain after one was used.
	Codes       []string
	Left        int
	Recovered   bool
	ContinueURL string
	AccountURL  string
	Unavailable bool
	// BackURL is the client's verified redirect URI with access_denied: a
	// template.URL, so a native app's private-use scheme survives.
	BackURL       template.URL
	RequestedName string
	// Passkey offers the user's passkeys (the form the page's script
	// fills); PasskeyOnly hides the codes, for a request that needs a
	// phishing-resistant sign-in.
	Passkey, PasskeyOnly bool
	// TOTP: the user has an authenticator app.
	TOTP bool
	// ServerCannot: this server offers no passkeys (its issuer is at an
	// IP address), so nobody can meet a phishing-resistant request.
	ServerCannot bool
}

// validNext reports whether next is where a second step may lead: back
// into one of this server's flows, never elsewhere (the browser goes to
// the issuer's URL of next).
func validNext(next string) bool {
	return strings.HasPrefix(next, "/authorize?") || next == "/account" || strings.HasPrefix(next, "/device?")
}

// beginSecondStep follows a right first factor (amr so far) of user that
// needs a second one: the page asking for it, or, for a user who has
// none, the enrolment of one. next is where the browser goes once through.
// need is the level the sign-in must reach.
func (s *Server) beginSecondStep(w http.ResponseWriter, r *http.Request, user store.User, clientID, clientName string, amr []string, next string, need int) error {
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return err
	}
	binding, err := s.setPending(w, pendingSignIn{UserID: user.ID, ClientID: clientID, AMR: amr, Need: need})
	if err != nil {
		return err
	}
	v := mfaView{Next: next, ClientName: clientName, PasskeyOnly: need >= levelPhishingResistant}
	if len(factors) == 0 {
		return s.showEnrol(w, r, user, "/login/enrol", s.csrfToken("mfa-enrol", binding), v)
	}
	return s.showSecondFactor(w, r, binding, user, v)
}

// showSecondFactor renders the code page of a pending sign-in, with the
// passkey button when the user has a passkey. PasskeyOnly holds only
// then: a user without a passkey gives a code, and the authorization
// request then says it cannot be met.
func (s *Server) showSecondFactor(w http.ResponseWriter, r *http.Request, binding string, user store.User, v mfaView) error {
	v.Base, v.Action, v.CSRF = s.prefix, "/login/mfa", s.csrfToken("mfa", binding)
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return err
	}
	for _, f := range factors {
		v.TOTP = v.TOTP || f.Kind == store.FactorTOTP
		v.Passkey = v.Passkey || f.Kind == store.FactorWebAuthn && s.rp != nil
	}
	v.PasskeyOnly = v.PasskeyOnly && v.Passkey
	s.render(w, r, web.MFA, v)
	return nil
}

// showEnrol starts the enrolment of a TOTP factor for user: a new secret,
// stored sealed and unconfirmed, shown once as a QR code and as text.
func (s *Server) showEnrol(w http.ResponseWriter, r *http.Request, user store.User, action, csrf string, v mfaView) error {
	id, err := randomID(s.rand)
	if err != nil {
		return err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.otpIssuer(), AccountName: user.Username,
		Period: totpPeriod, Rand: s.rand})
	if err != nil {
		return fmt.Errorf("totp: new key: %w", err)
	}
	sealed, err := s.sealedSecret(key.Secret(), id)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.st.CreateFactor(r.Context(), store.Factor{ID: id, UserID: user.ID, Kind: store.FactorTOTP,
		Label: "authenticator app", Data: sealed, CreatedAt: now}); err != nil {
		return fmt.Errorf("create factor: %w", err)
	}
	svg, err := qrSVG(key.URL())
	if err != nil {
		return err
	}
	v.Base, v.Action, v.CSRF = s.prefix, action, csrf
	v.FactorID, v.Secret, v.URI, v.QR = id, key.Secret(), key.URL(), svg
	s.render(w, r, web.MFAEnrol, v)
	return nil
}

// otpIssuer names this server in authenticator apps: its host.
func (s *Server) otpIssuer() string {
	if u, err := url.Parse(s.issuer); err == nil && u.Host != "" {
		return "Latchkey " + u.Host
	}
	return "Latchkey"
}

// qrSVG draws text as a QR code in SVG, inline in the page.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	b, err := code.ToSVGBytes(qr.NewQrCodeImgConfig(8, 32))
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return template.HTML(b), nil // our own SVG of our own URI: no markup from the request
}

// pendingForm reads a form of the second step: a live pending sign-in,
// a token bound to it for purpose, a next inside this server. A stale
// form is the expired-form page.
func (s *Server) pendingForm(r *http.Request, purpose string) (protocol.Form, pendingSignIn, store.User, error) {
	form, err := pageForm(r)
	if err != nil {
		return nil, pendingSignIn{}, store.User{}, err
	}
	p, binding, err := s.pending(r)
	if err != nil || !s.checkCSRF(purpose, binding, form.Get("csrf")) || !validNext(form.Get("next")) {
		return nil, pendingSignIn{}, store.User{}, expiredForm()
	}
	user, err := s.st.GetUser(r.Context(), p.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.Disabled() {
		return nil, pendingSignIn{}, store.User{}, expiredForm()
	}
	if err != nil {
		return nil, pendingSignIn{}, store.User{}, fmt.Errorf("pending user: %w", err)
	}
	return form, p, user, nil
}

// Messages of the second step.
const (
	msgWrongCode = "That code is not right, or it was used already. Wait for the next code and try again."
	msgLimited   = "Too many failed attempts. Wait a little and try again."
)

// handleLoginMFA checks the second factor of a pending sign-in: a TOTP
// code or a recovery code, under the password's guessing limits (the
// same counters). On success the session starts with both methods.
func (s *Server) handleLoginMFA(w http.ResponseWriter, r *http.Request) error {
	form, p, user, err := s.pendingForm(r, "mfa")
	if err != nil {
		return err
	}
	next := form.Get("next")
	method := "totp"
	if form.Get("recovery_code") != "" {
		method = "recovery_code"
	}
	var ok bool
	var msg string
	if method == "totp" {
		ok, msg, err = s.checkTOTPSignIn(r, p.ClientID, user, normalizeOTP(form.Get("code")))
	} else {
		ok, msg, err = s.checkRecoverySignIn(r, p.ClientID, user, form.Get("recovery_code"))
	}
	if err != nil {
		return err
	}
	if !ok {
		_, binding, _ := s.pending(r)
		return s.showSecondFactor(w, r, binding, user, mfaView{Next: next, ClientName: form.Get("client_name"), Message: msg,
			PasskeyOnly: p.Need >= levelPhishingResistant})
	}
	amr := amrFor(append(slices.Clone(p.AMR), amrOTP)...)
	if method == "recovery_code" {
		amr = amrFor(append(slices.Clone(p.AMR), amrMFA)...) // a paper code: a second factor, not an OTP device
	}
	if _, err := s.startSession(r.Context(), w, r, user, amr); err != nil {
		return err
	}
	s.clearCookie(w, s.pendingCookie())
	s.emit(r.Context(), r, audit.Event{Type: audit.MFASuccess, Actor: user.ID, UserID: user.ID, ClientID: p.ClientID,
		Details: map[string]string{"method": method}})
	if method == "recovery_code" {
		left, err := s.st.CountRecoveryCodes(r.Context(), user.ID)
		if err != nil {
			return fmt.Errorf("count recovery codes: %w", err)
		}
		s.emit(r.Context(), r, audit.Event{Type: audit.RecoveryCodeUsed, Actor: user.ID, UserID: user.ID,
			ClientID: p.ClientID, Details: map[string]string{"left": strconv.Itoa(left)}})
		s.render(w, r, web.MFARecovered, mfaView{Base: s.prefix, Left: left, Recovered: true,
			ContinueURL: s.endpoint(next), AccountURL: s.endpoint("/account")})
		return nil
	}
	s.seeOther(w, s.endpoint(next))
	return nil
}

// handleLoginEnrol confirms the enrolment of a user who must use a second
// factor and had none: the first code proves the app holds the secret;
// then the recovery codes are shown, once, and the session starts.
func (s *Server) handleLoginEnrol(w http.ResponseWriter, r *http.Request) error {
	form, p, user, err := s.pendingForm(r, "mfa-enrol")
	if err != nil {
		return err
	}
	codes, ok, msg, err := s.confirmEnrolment(r, p.ClientID, user, form.Get("factor_id"), normalizeOTP(form.Get("code")), "signin")
	if err != nil {
		return err
	}
	next := form.Get("next")
	if !ok {
		_, binding, _ := s.pending(r)
		return s.showEnrol(w, r, user, "/login/enrol", s.csrfToken("mfa-enrol", binding),
			mfaView{Next: next, Message: msg})
	}
	if _, err := s.startSession(r.Context(), w, r, user, amrFor(append(slices.Clone(p.AMR), amrOTP)...)); err != nil {
		return err
	}
	s.clearCookie(w, s.pendingCookie())
	s.render(w, r, web.MFACodes, mfaView{Base: s.prefix, Codes: codes, ContinueURL: s.endpoint(next)})
	return nil
}

// guardedCode runs check, a check of a code for user, under the guessing
// limits of the user's password (the same counters, in the same hash
// gate slot, so concurrent guesses see each other's failures). check
// reports the refusal's reason, or "" on success.
func (s *Server) guardedCode(r *http.Request, clientID string, user store.User, method string, check func() (string, error)) (bool, string, error) {
	ctx := r.Context()
	keys := s.throttleKeys(clientID, user.Username, s.clientIP(r).String())
	var live []string
	var reason string
	err := s.hashes.do(ctx, func() error {
		now := s.now()
		wait, l, err := s.guard.wait(ctx, s.st, keys, now)
		if err != nil {
			return err
		}
		if wait > 0 {
			reason = audit.ReasonLimited
			return nil
		}
		live = l
		if reason, err = check(); err != nil {
			return err
		}
		if reason != "" {
			return s.countFailure(ctx, r, s.st, keys, now, clientID)
		}
		return nil
	})
	if err != nil {
		return false, "", err
	}
	if reason != "" {
		s.emit(ctx, r, audit.Event{Type: audit.MFAFailure, UserID: user.ID, ClientID: clientID, Reason: reason,
			Details: map[string]string{"method": method}})
		if reason == audit.ReasonLimited {
			return false, msgLimited, nil
		}
		return false, msgWrongCode, nil
	}
	if slices.Contains(live, keys[0].key) {
		if err := s.guard.clear(ctx, s.st, keys[0].key); err != nil {
			return false, "", err
		}
	}
	return true, "", nil
}

// checkTOTPSignIn checks code against the user's confirmed TOTP factors;
// a matching step is used once (the store's counter gate).
func (s *Server) checkTOTPSignIn(r *http.Request, clientID string, user store.User, code string) (bool, string, error) {
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return false, "", err
	}
	return s.guardedCode(r, clientID, user, "totp", func() (string, error) {
		now := s.now()
		reason := audit.ReasonWrongCode
		for _, f := range factors {
			if f.Kind != store.FactorTOTP {
				continue
			}
			secret, err := s.openSecret(f)
			if err != nil {
				return "", err
			}
			step, ok, err := matchTOTP(secret, code, now)
			if err != nil {
				return "", err
			}
			if !ok {
				continue
			}
			err = s.st.UseFactor(r.Context(), user.ID, f.ID, step, now)
			switch {
			case err == nil:
				return "", nil
			case errors.Is(err, store.ErrConflict):
				reason = audit.ReasonCodeReused
			case !errors.Is(err, store.ErrNotFound): // removed meanwhile: a wrong code
				return "", fmt.Errorf("use factor: %w", err)
			}
		}
		return reason, nil
	})
}

// checkRecoverySignIn uses one of the user's recovery codes.
func (s *Server) checkRecoverySignIn(r *http.Request, clientID string, user store.User, code string) (bool, string, error) {
	return s.guardedCode(r, clientID, user, "recovery_code", func() (string, error) {
		err := s.st.UseRecoveryCode(r.Context(), user.ID, s.recoveryDigest(code), s.now())
		switch {
		case err == nil:
			return "", nil
		case errors.Is(err, store.ErrNotFound):
			return audit.ReasonWrongCode, nil
		}
		return "", fmt.Errorf("use recovery code: %w", err)
	})
}

// confirmEnrolment checks the first code of the user's unconfirmed factor
// id and completes the enrolment: the factor replaces any earlier one of
// its kind, and a user who had no second factor gets recovery codes,
// returned to be shown once.
func (s *Server) confirmEnrolment(r *http.Request, clientID string, user store.User, id, code, via string) ([]string, bool, string, error) {
	all, err := s.st.ListFactors(r.Context(), user.ID)
	if err != nil {
		return nil, false, "", fmt.Errorf("list factors: %w", err)
	}
	var pending *store.Factor
	first := true
	for i, f := range all {
		if f.Confirmed() {
			first = false
		} else if f.ID == id {
			pending = &all[i]
		}
	}
	var codes, digests []string
	if first {
		if codes, digests, err = s.newRecoveryCodes(); err != nil {
			return nil, false, "", err
		}
	}
	ok, msg, err := s.guardedCode(r, clientID, user, "totp", func() (string, error) {
		if pending == nil {
			return audit.ReasonWrongCode, nil
		}
		secret, err := s.openSecret(*pending)
		if err != nil {
			return "", err
		}
		step, match, err := matchTOTP(secret, code, s.now())
		if err != nil || !match {
			return audit.ReasonWrongCode, err
		}
		err = s.st.ConfirmFactor(r.Context(), user.ID, pending.ID, step, s.now(), digests)
		if errors.Is(err, store.ErrNotFound) { // confirmed by a concurrent request
			return audit.ReasonCodeReused, nil
		}
		return "", err
	})
	if err != nil || !ok {
		return nil, ok, msg, err
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.MFAEnrolled, Actor: user.ID, UserID: user.ID, ClientID: clientID,
		Details: map[string]string{"kind": store.FactorTOTP, "via": via}})
	if first {
		s.emit(r.Context(), r, audit.Event{Type: audit.RecoveryCodesIssued, Actor: user.ID, UserID: user.ID,
			Details: map[string]string{"count": strconv.Itoa(len(codes))}})
	}
	return codes, true, "", nil
}

// showUnavailable is the page of a request for a phishing-resistant
// sign-in by a user who has no passkey (or a server that cannot offer
// passkeys): the user cannot go on here, and the way back tells the
// client so.
func (s *Server) showUnavailable(w http.ResponseWriter, r *http.Request, req *authRequest) error {
	why := "which needs a passkey the user does not have"
	if s.rp == nil {
		why = "which this server cannot provide: it offers no passkeys"
	}
	back := s.redirectURL(req.redirectURI, req.state, url.Values{"error": {protocol.ErrAccessDenied},
		"error_description": {"the application asked for a phishing-resistant sign-in (" + ACRPhishingResistant + "), " + why}})
	s.render(w, r, web.MFA, mfaView{Base: s.prefix, Unavailable: true, ClientName: req.client.Name, AccountURL: s.endpoint("/account"),
		ServerCannot: s.rp == nil,
		BackURL:      template.URL(back), RequestedName: ACRPhishingResistant}) // registered and matched: not the request's own text
	return nil
}
