package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/latchkey/latchkey/internal/safefetch"
)

// trustedNameRE is the form of a trusted issuer's name, the namespace of
// its subjects: never a colon, so "<name>:<subject>" parses one way.
var trustedNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// trustedAlgs are the signature algorithms a trusted issuer may use:
// asymmetric only (RFC 8725 §3.1, A13).
var trustedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// trustedIssuers checks the trusted_issuers list: each entry, and that
// names and issuers are unique (a token's iss picks its entry).
func (v *validator) trustedIssuers() {
	names, issuers := map[string]int{}, map[string]int{}
	for i, ti := range v.c.TrustedIssuers {
		p := fmt.Sprintf("trusted_issuers[%d]", i)
		switch j, dup := names[ti.Name]; {
		case ti.Name == "":
			v.add(p+".name", "is required: a short name like k8s or github, the namespace of the issuer's subjects")
		case ti.Name == "client":
			v.add(p+".name", "\"client\" is reserved: client:… is the subject of a client's own tokens")
		case !trustedNameRE.MatchString(ti.Name):
			v.add(p+".name", "must be 1 to 32 of a-z, 0-9 and -, starting with a letter or digit")
		case dup:
			v.add(p+".name", "%q is already the name of trusted_issuers[%d]; names must be unique", ti.Name, j)
		default:
			names[ti.Name] = i
		}
		switch j, dup := issuers[ti.Issuer]; {
		case ti.Issuer == "":
			v.add(p+".issuer", "is required: the exact iss of the issuer's tokens, like https://token.actions.githubusercontent.com")
		case strings.ContainsFunc(ti.Issuer, unicode.IsSpace) || strings.ContainsFunc(ti.Issuer, unicode.IsControl):
			v.add(p+".issuer", "must not contain spaces or control characters")
		case dup:
			v.add(p+".issuer", "is already the issuer of trusted_issuers[%d]; a token's iss must pick one entry", j)
		default:
			issuers[ti.Issuer] = i
		}
		v.trustedKeys(p, ti)
		v.trustedPolicy(p, ti)
	}
}

// trustedKeys checks where the issuer's keys come from.
func (v *validator) trustedKeys(p string, ti TrustedIssuer) {
	hasJWKS, hasURI := len(ti.JWKS) > 0, ti.JWKSURI != ""
	switch {
	case hasJWKS && hasURI:
		v.add(p+".jwks_uri", "set only one of jwks and jwks_uri; remove one")
	case !hasJWKS && !hasURI:
		v.add(p, "needs the issuer's public keys: add jwks_uri (like https://token.actions.githubusercontent.com/.well-known/jwks) or jwks")
	case hasJWKS:
		if msg := jwksProblem(ti.JWKS); msg != "" {
			v.add(p+".jwks", "%s", msg)
		}
	default:
		if msg := v.fetchURLProblem(ti.JWKSURI); msg != "" {
			v.add(p+".jwks_uri", "%s", msg)
		}
	}
}

// fetchURLProblem checks a URL Latchkey fetches keys from: https, no
// userinfo or fragment, and not an address the SSRF guard never dials
// (A25). http on loopback is allowed with
// client_assertions.allow_loopback_jwks, for development.
func (v *validator) fetchURLProblem(s string) string {
	loopbackOK := v.c.ClientAssertions.AllowLoopbackJWKS
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "must be an absolute https URL"
	case u.Scheme == "http" && isLoopback(u.Hostname()) && loopbackOK:
	case u.Scheme != "https":
		return "must use https (client_assertions.allow_loopback_jwks allows http on loopback, for development)"
	case u.User != nil || u.Fragment != "":
		return "must not carry userinfo or a fragment"
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if err := safefetch.CheckAddress(ip, loopbackOK); err != nil {
			return fmt.Sprintf("%s is never fetched: loopback, private, link-local and reserved addresses are refused (SSRF guard)", ip)
		}
	}
	return ""
}

// trustedPolicy checks what the issuer's tokens may do and how they are
// checked.
func (v *validator) trustedPolicy(p string, ti TrustedIssuer) {
	if ti.Audience != "" && strings.TrimSpace(ti.Audience) != ti.Audience {
		v.add(p+".audience", "must not start or end with a space")
	}
	if c := ti.SubjectClaim; c != "" && strings.ContainsFunc(c, unicode.IsSpace) {
		v.add(p+".subject_claim", "must name a claim such as sub or repository, without spaces")
	}
	if len(ti.AllowedClients) == 0 {
		v.add(p+".allowed_clients", "must list the clients that may present this issuer's tokens")
	}
	for j, id := range ti.AllowedClients {
		if !clientIDRE.MatchString(id) {
			v.add(fmt.Sprintf("%s.allowed_clients[%d]", p, j), "%q is not a client id", id)
		}
	}
	for j, s := range ti.AllowedSubjects {
		if s == "" || strings.Contains(strings.TrimSuffix(s, "*"), "*") {
			v.add(fmt.Sprintf("%s.allowed_subjects[%d]", p, j), "must be a subject, or a prefix ending in * like system:serviceaccount:payments:*")
		}
	}
	seen := map[string]bool{}
	for j, s := range ti.Scopes {
		ip := fmt.Sprintf("%s.scopes[%d]", p, j)
		switch {
		case !isScopeToken(s):
			v.add(ip, "%q is not a valid scope; use printable ASCII without spaces, \" or \\ (RFC 6749 §3.3)", s)
		case seen[s]:
			v.add(ip, "%q is listed twice; remove one", s)
		}
		seen[s] = true
	}
	if a := ti.MaxTokenAge.D(); a != 0 && (a < time.Minute || a > 24*time.Hour) {
		v.add(p+".max_token_age", "must be from 1m to 24h, or 0 for 1h")
	}
	for j, a := range ti.Algorithms {
		ip := fmt.Sprintf("%s.algorithms[%d]", p, j)
		switch {
		case strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS"):
			v.add(ip, "%q is never accepted: with none anyone signs, and with HMAC the issuer's public key would be the secret (A13)", a)
		case !slices.Contains(trustedAlgs, a):
			v.add(ip, "%q is not a signature algorithm; use %s", a, orList(trustedAlgs))
		}
	}
}
