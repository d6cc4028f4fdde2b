package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/store"
)

// Strong sign-in. A session records the methods its user signed in with
// (amr, RFC 8176) and the authentication context class they reach (acr);
// authorization requests, clients and users may ask for a class, and a
// session below it is stepped up: the user gives the missing factor.
// Factors have a kind (store.FactorTOTP, store.FactorWebAuthn); a sign-in
// with a passkey reaches the phishing-resistant class (passkey.go).

// Authentication context classes, weakest first.
const (
	// ACRPassword: a password alone.
	ACRPassword = "urn:latchkey:acr:pwd"
	// ACRMFA: a password and a second factor (a one-time code).
	ACRMFA = "urn:latchkey:acr:mfa"
	// ACRPhishingResistant: a factor bound to the origin (a passkey) that
	// makes the sign-in multi-factor: a passkey after the password, or a
	// passkey that verified its user on its own.
	ACRPhishingResistant = "urn:latchkey:acr:phishing_resistant"
)

// Authentication methods (RFC 8176 §2).
const (
	amrPassword = "pwd"
	amrOTP      = "otp"
	amrMFA      = "mfa"
)

// Levels order the classes; levelNone is a request that asks for nothing.
const (
	levelNone = iota
	levelPassword
	levelMFA
	levelPhishingResistant
)

// acrLevel is the level of a known class, or levelNone.
func acrLevel(acr string) int {
	switch acr {
	case ACRPassword:
		return levelPassword
	case ACRMFA:
		return levelMFA
	case ACRPhishingResistant:
		return levelPhishingResistant
	}
	return levelNone
}

// acrForLevel is the class of a level a session reached.
func acrForLevel(level int) string {
	if level >= levelPhishingResistant {
		return ACRPhishingResistant
	}
	if level >= levelMFA {
		return ACRMFA
	}
	return ACRPassword
}

// sessionLevel is what sess reached; a session from before amr was kept
// was a password.
func sessionLevel(sess *store.Session) int {
	if sess == nil {
		return levelNone
	}
	if l := acrLevel(sess.ACR); l > levelNone {
		return l
	}
	return levelPassword
}

// requestedLevel reads acr_values (OpenID Connect Core §3.1.2.1): the
// values are alternatives in order of preference, so the least known one
// is enough; unknown values are ignored, as the specification lets a
// server do.
func requestedLevel(acrValues string) int {
	need := levelNone
	for _, v := range strings.Fields(acrValues) {
		if l := acrLevel(v); l > levelNone && (need == levelNone || l < need) {
			need = l
		}
	}
	return need
}

// policyLevel is the least level a sign-in for client by user must reach:
// the client's and the user's policy. (acr_values add to it per request.)
func policyLevel(client store.Client, user *store.User) int {
	if client.RequireMFA || (user != nil && user.MFARequired) {
		return levelMFA
	}
	return levelNone
}

// amrFor is the amr of a sign-in that used methods.
func amrFor(methods ...string) []string {
	var out []string
	for _, m := range methods {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	factors := 0
	for _, m := range out {
		if m != amrMFA {
			factors++
		}
	}
	if factors > 1 && !slices.Contains(out, amrMFA) {
		out = append(out, amrMFA)
	}
	return out
}

// levelOfAMR is the level methods reach: several factors one of which is
// a passkey (hwk, swk) are phishing-resistant, since a passkey's
// assertion is bound to this origin and cannot be relayed by another.
func levelOfAMR(amr []string) int {
	passkey := slices.Contains(amr, amrHWK) || slices.Contains(amr, amrSWK)
	if passkey && slices.Contains(amr, amrMFA) {
		return levelPhishingResistant
	}
	if slices.Contains(amr, amrMFA) {
		return levelMFA
	}
	return levelPassword
}

// TOTP parameters: RFC 6238's defaults, which every authenticator app
// reads from the otpauth URI or assumes.
const (
	totpPeriod = 30
	// totpSkew is how many steps either side of now are accepted (RFC 6238
	// §5.2 recommends at most one step of network delay).
	totpSkew = 1
)

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchTOTP returns the step within the skew whose code is code, and
// whether there is one. Every candidate is computed and compared in
// constant time, so the answer's timing does not say which step matched.
func matchTOTP(secret, code string, now time.Time) (int64, bool, error) {
	if len(code) != 6 {
		return 0, false, nil
	}
	cur := totpStep(now)
	var step int64
	found := false
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0).UTC(), totpOpts())
		if err != nil {
			return 0, false, fmt.Errorf("totp: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, found = s, true
		}
	}
	return step, found, nil
}

// normalizeOTP drops the spaces and dashes people type inside a code.
func normalizeOTP(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
}

// sealedSecret seals a TOTP secret for factor id; openSecret opens it.
func (s *Server) sealedSecret(secret, id string) ([]byte, error) {
	return s.factorSeal.Seal([]byte(secret), id)
}

func (s *Server) openSecret(f store.Factor) (string, error) {
	b, err := s.factorSeal.Open(f.Data, f.ID)
	if err != nil {
		return "", fmt.Errorf("factor %s: %w", f.ID, err)
	}
	return string(b), nil
}

// confirmedFactors are the user's factors that sign in.
func (s *Server) confirmedFactors(r *http.Request, userID string) ([]store.Factor, error) {
	all, err := s.st.ListFactors(r.Context(), userID)
	if err != nil {
		return nil, fmt.Errorf("list factors: %w", err)
	}
	return slices.DeleteFunc(all, func(f store.Factor) bool { return !f.Confirmed() }), nil
}

// Recovery codes: ten per user, each 10 characters of a 32-letter
// alphabet without look-alikes (50 bits), stored by a keyed digest, so a
// copy of the database does not let anyone try them offline.
const (
	recoveryCount    = 10
	recoveryLen      = 10
	recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz023456789" // no i, l, o, 1
)

// newRecoveryCodes returns fresh codes (as shown, "xxxxx-xxxxx") and
// their digests.
func (s *Server) newRecoveryCodes() (codes, digests []string, err error) {
	buf := make([]byte, recoveryLen)
	for range recoveryCount {
		if _, err := io.ReadFull(s.rand, buf); err != nil {
			return nil, nil, fmt.Errorf("recovery codes: %w", err)
		}
		var b strings.Builder
		for i, c := range buf {
			if i == recoveryLen/2 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)]) // 256 is a multiple of 32: no bias
		}
		codes = append(codes, b.String())
		digests = append(digests, s.recoveryDigest(b.String()))
	}
	return codes, digests, nil
}

// recoveryDigest is the stored form of a code, as typed or shown: case,
// spaces and dashes do not matter.
func (s *Server) recoveryDigest(code string) string {
	norm := strings.ToLower(normalizeOTP(code))
	mac := hmac.New(sha256.New, s.recoveryKey)
	mac.Write([]byte(norm))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// pendingSignIn is a sign-in half done: the first factor was right, the
// second is still to come. It lives in a short cookie that the server
// MACs, so any instance can continue it and nothing is stored before the
// user is through.
type pendingSignIn struct {
	UserID   string   `json:"u"`
	ClientID string   `json:"c"`
	AMR      []string `json:"m"`
	// Need is the level the sign-in must reach: phishing-resistant asks
	// for a passkey only.
	Need   int   `json:"l,omitempty"`
	Expiry int64 `json:"e"`
	// Nonce makes every pending sign-in's cookie, and so the CSRF tokens
	// bound to it, its own.
	Nonce string `json:"n"`
}

// pendingTTL is how long the second page waits for the second factor.
const pendingTTL = 10 * time.Minute

func (s *Server) pendingCookie() string { return s.cookiePrefix() + "latchkey_mfa" }

// setPending starts the second step for p and returns the cookie value
// (the CSRF binding of the second page's forms).
func (s *Server) setPending(w http.ResponseWriter, p pendingSignIn) (string, error) {
	p.Expiry = s.now().Add(pendingTTL).Unix()
	nonce, err := randomID(s.rand)
	if err != nil {
		return "", err
	}
	p.Nonce = nonce
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("pending sign-in: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(body)
	value := enc + "." + s.pendingMAC(enc)
	s.setCookie(w, s.pendingCookie(), value, pendingTTL)
	return value, nil
}

func (s *Server) pendingMAC(enc string) string {
	mac := hmac.New(sha256.New, s.hmacKey)
	mac.Write([]byte("mfa-pending\x00" + enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// errNoPending: the browser has no live pending sign-in.
var errNoPending = errors.New("no pending sign-in")

// pending returns the browser's pending sign-in and its cookie value.
func (s *Server) pending(r *http.Request) (pendingSignIn, string, error) {
	c, err := r.Cookie(s.pendingCookie())
	if err != nil {
		return pendingSignIn{}, "", errNoPending
	}
	enc, mac, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.pendingMAC(enc))) {
		return pendingSignIn{}, "", errNoPending
	}
	body, err := base64.RawURLEncoding.DecodeString(enc)
	var p pendingSignIn
	if err != nil || json.Unmarshal(body, &p) != nil || p.UserID == "" || !s.now().Before(time.Unix(p.Expiry, 0)) {
		return pendingSignIn{}, "", errNoPending
	}
	return p, c.Value, nil
}
