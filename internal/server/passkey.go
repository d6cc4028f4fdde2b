package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	wap "github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/internal/store"
)

// Passkeys (WebAuthn Level 3, by github.com/go-webauthn/webauthn: no CBOR
// or attestation parsing here). A passkey is a factor of kind
// store.FactorWebAuthn whose data is the library's credential record,
// sealed like a TOTP secret, and whose counter is the signature counter.
//
// The relying party is the issuer: its id the issuer's host name (no port,
// no path: WebAuthn §5.1.2; an IP address cannot be one, so an issuer at
// an IP address offers no passkeys), its one origin the issuer's scheme
// and host. A ceremony's challenge (the library's SessionData) rides in a
// short cookie the server MACs, as the pending sign-in does, bound to what
// the ceremony is for (the session, the pending sign-in, the login page's
// CSRF cookie); its first use is recorded in the shared replay store, so
// on any instance it works once, whether the assertion verifies or not.

// Authentication methods of passkeys (RFC 8176 §2).
const (
	// amrHWK: a passkey bound to its device (the authenticator data's
	// backup-eligible flag clear): proof of a hardware-secured key.
	amrHWK = "hwk"
	// amrSWK: a synced passkey (backup eligible): the key can leave the
	// device, so it counts as software-secured.
	amrSWK = "swk"
	// amrUser: the authenticator verified its user (the UV flag; RFC 8176
	// has no value for "verified by PIN or biometric, which one unsaid",
	// and "user" is the closest that claims no particular gesture).
	amrUser = "user"
)

// Bounds of what a browser sends.
const (
	// maxPasskeyJSON bounds a credential's JSON: a registration with an
	// attestation certificate chain is a few kilobytes.
	maxPasskeyJSON = 32 << 10
	// maxPasskeyDepth bounds its nesting: the format nests four deep.
	maxPasskeyDepth = 16
	// maxPasskeyName bounds a passkey's name, in runes.
	maxPasskeyName = 64
	// ceremonyTTL is how long a begun ceremony may take.
	ceremonyTTL = 5 * time.Minute
)

// newRelyingParty configures WebAuthn for issuer, or returns nil when the
// issuer cannot be a relying party (an IP address, no host).
func newRelyingParty(issuer string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("passkeys: issuer %q has no host", issuer)
	}
	return webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: "Latchkey " + u.Host,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		// No attestation: which maker built the authenticator is not this
		// server's policy, and asking would prompt the user.
		AttestationPreference: wap.PreferNoAttestation,
		// Every passkey is discoverable, so it can sign in without a
		// username; user verification is preferred, so a security key
		// without a PIN still works as a second factor.
		AuthenticatorSelection: wap.AuthenticatorSelection{
			ResidentKey:        wap.ResidentKeyRequirementRequired,
			RequireResidentKey: wap.ResidentKeyRequired(),
			UserVerification:   wap.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
}

// passkeyUser is a user with their passkeys, as the library sees them.
type passkeyUser struct {
	user    store.User
	creds   []webauthn.Credential
	factors []store.Factor // factors[i] holds creds[i]
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.user.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.user.Username }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.user.Username }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// factorOf is the factor that holds the credential id.
func (u *passkeyUser) factorOf(id []byte) (store.Factor, bool) {
	for i, c := range u.creds {
		if bytes.Equal(c.ID, id) {
			return u.factors[i], true
		}
	}
	return store.Factor{}, false
}

// passkeysOf loads the user's confirmed passkeys. The stored counter is
// the signature counter (the record's copy may be older).
func (s *Server) passkeysOf(r *http.Request, user store.User) (*passkeyUser, error) {
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return nil, err
	}
	pu := &passkeyUser{user: user}
	for _, f := range factors {
		if f.Kind != store.FactorWebAuthn {
			continue
		}
		raw, err := s.factorSeal.Open(f.Data, f.ID)
		if err != nil {
			return nil, fmt.Errorf("passkey %s: %w", f.ID, err)
		}
		var c webauthn.Credential
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("passkey %s: %w", f.ID, err)
		}
		c.Authenticator.SignCount = uint32(f.Counter)
		pu.creds = append(pu.creds, c)
		pu.factors = append(pu.factors, f)
	}
	return pu, nil
}

// sealCredential is the stored form of a credential record.
func (s *Server) sealCredential(c *webauthn.Credential, id string) ([]byte, error) {
	c.Authenticator.CloneWarning = false // a state of one ceremony, not of the record
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return s.factorSeal.Seal(raw, id)
}

// passkeyAMR is the method a passkey credential proves: hwk for one bound
// to its device, swk for a synced one (backup eligible).
func passkeyAMR(c *webauthn.Credential) string {
	if c.Flags.BackupEligible {
		return amrSWK
	}
	return amrHWK
}

// ceremony is a begun WebAuthn ceremony, kept by the browser in a MACed
// cookie until its single use.
type ceremony struct {
	// Purpose is what it was begun for: "register", "mfa" or "login".
	Purpose string `json:"p"`
	// Bind is a MAC of what it is bound to: the session, the pending
	// sign-in, or the login page's CSRF cookie.
	Bind    string               `json:"b"`
	Session webauthn.SessionData `json:"s"`
	Expiry  int64                `json:"e"`
}

func (s *Server) ceremonyCookie() string { return s.cookiePrefix() + "latchkey_passkey" }

func (s *Server) ceremonyMAC(label, enc string) string {
	mac := hmac.New(sha256.New, s.hmacKey)
	mac.Write([]byte(label + "\x00" + enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// setCeremony keeps sd for purpose, bound to binding, in the browser.
func (s *Server) setCeremony(w http.ResponseWriter, purpose, binding string, sd *webauthn.SessionData) error {
	c := ceremony{Purpose: purpose, Bind: s.ceremonyMAC("passkey-bind", purpose+"\x00"+binding),
		Session: *sd, Expiry: s.now().Add(ceremonyTTL).Unix()}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("passkey ceremony: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(body)
	s.setCookie(w, s.ceremonyCookie(), enc+"."+s.ceremonyMAC("passkey-ceremony", enc), ceremonyTTL)
	return nil
}

// Why a ceremony cannot be finished.
var (
	errNoCeremony     = errors.New("no live passkey ceremony")
	errCeremonyReused = errors.New("passkey ceremony used already")
)

// takeCeremony returns the browser's ceremony for purpose bound to
// binding and spends it: the cookie is cleared and its challenge recorded
// as used in the shared replay store before anything is verified, so it
// works once, on any instance, whatever comes of it.
func (s *Server) takeCeremony(w http.ResponseWriter, r *http.Request, purpose, binding string) (webauthn.SessionData, error) {
	ck, err := r.Cookie(s.ceremonyCookie())
	if err != nil {
		return webauthn.SessionData{}, errNoCeremony
	}
	s.clearCookie(w, s.ceremonyCookie())
	enc, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.ceremonyMAC("passkey-ceremony", enc))) {
		return webauthn.SessionData{}, errNoCeremony
	}
	body, err := base64.RawURLEncoding.DecodeString(enc)
	var c ceremony
	if err != nil || json.Unmarshal(body, &c) != nil || c.Purpose != purpose || c.Session.Challenge == "" {
		return webauthn.SessionData{}, errNoCeremony
	}
	want := s.ceremonyMAC("passkey-bind", purpose+"\x00"+binding)
	exp := time.Unix(c.Expiry, 0)
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Bind)) != 1 || !s.now().Before(exp) {
		return webauthn.SessionData{}, errNoCeremony
	}
	sum := sha256.Sum256([]byte(c.Session.Challenge))
	first, err := s.st.UseOnce(r.Context(), "passkey:"+base64.RawURLEncoding.EncodeToString(sum[:]), exp, s.now())
	if err != nil {
		return webauthn.SessionData{}, fmt.Errorf("passkey challenge: %w", err)
	}
	if !first {
		return webauthn.SessionData{}, errCeremonyReused
	}
	return c.Session, nil
}

// errBadPasskeyJSON: what the browser sent is not a credential's JSON.
var errBadPasskeyJSON = errors.New("malformed passkey response")

// checkPasskeyJSON refuses what no browser sends, before the library
// parses it: more than maxPasskeyJSON bytes, invalid UTF-8 or JSON, not
// one object, nesting deeper than maxPasskeyDepth, or a member name twice
// in one object (encoding/json would keep the last, so two readers could
// disagree about what was signed).
func checkPasskeyJSON(raw string) error {
	if raw == "" || len(raw) > maxPasskeyJSON || !utf8.ValidString(raw) {
		return errBadPasskeyJSON
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // an object's next token is a member name
	}
	var stack []*frame
	closed := false // the one object has ended
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errBadPasskeyJSON
		}
		if closed || len(stack) == 0 && tok != json.Delim('{') {
			return errBadPasskeyJSON // one object, and nothing after it
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				closed = len(stack) == 0
				continue
			}
			name, _ := tok.(string)
			if top.names[name] {
				return errBadPasskeyJSON
			}
			top.names[name] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true // a value: the next token is a name or '}'
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > maxPasskeyDepth {
			return errBadPasskeyJSON
		}
	}
	if !closed {
		return errBadPasskeyJSON
	}
	return nil
}

// parseCreation reads a registration response; the library never sees
// what checkPasskeyJSON refuses, and a panic in it is a refusal too.
func parseCreation(raw string) (pcc *wap.ParsedCredentialCreationData, err error) {
	if err := checkPasskeyJSON(raw); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			pcc, err = nil, fmt.Errorf("%w: %v", errBadPasskeyJSON, p)
		}
	}()
	pcc, err = wap.ParseCredentialCreationResponseBytes([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadPasskeyJSON, err)
	}
	return pcc, nil
}

// parseAssertion reads an authentication response, as parseCreation.
func parseAssertion(raw string) (par *wap.ParsedCredentialAssertionData, err error) {
	if err := checkPasskeyJSON(raw); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			par, err = nil, fmt.Errorf("%w: %v", errBadPasskeyJSON, p)
		}
	}()
	par, err = wap.ParseCredentialRequestResponseBytes([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadPasskeyJSON, err)
	}
	return par, nil
}

// writeOptions answers a begin request with the ceremony's options (the
// publicKey member navigator.credentials takes); nothing may cache them.
func writeOptions(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("passkey options: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	_, err = w.Write(body)
	return err
}

// passkeyName is the name a user gave a new passkey, tidied.
func passkeyName(name string) string {
	name = strings.Join(strings.Fields(name), " ")
	if !utf8.ValidString(name) || name == "" {
		return "Passkey"
	}
	if r := []rune(name); len(r) > maxPasskeyName {
		name = string(r[:maxPasskeyName])
	}
	return name
}

// passkeyKind says on the account page where a passkey lives.
func (s *Server) passkeyKind(f store.Factor) string {
	raw, err := s.factorSeal.Open(f.Data, f.ID)
	var c webauthn.Credential
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return "passkey"
	}
	if c.Flags.BackupEligible {
		return "synced passkey"
	}
	return "device-bound passkey"
}

// The pages that show passkey buttons load /assets/passkey.js, and only
// they get a CSP that allows it (web.ScriptCSP).
func (v loginView) Scripted() bool   { return v.PasskeyCSRF != "" }
func (v mfaView) Scripted() bool     { return v.Passkey }
func (v accountView) Scripted() bool { return v.PasskeyCSRF != "" }
