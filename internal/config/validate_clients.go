package config

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/protocol"
)

var (
	clientIDRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)
	argon2idRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)
	bcryptRE   = regexp.MustCompile(`^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$`)
)

// isReservedClaim reports whether the server sets the claim itself, so a
// user's claims may not.
func isReservedClaim(name string) bool {
	switch name {
	case "sub", "iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp", "at_hash":
		return true
	}
	return false
}

// clients checks every client and that their ids are unique.
func (v *validator) clients() {
	seen := make(map[string]int)
	for i, cl := range v.c.Clients {
		p := fmt.Sprintf("clients[%d]", i)
		switch j, dup := seen[cl.ID]; {
		case cl.ID == "":
			v.add(p+".id", "is required; give the client an id like \"reports\"")
		case !clientIDRE.MatchString(cl.ID):
			v.add(p+".id", "must be 1 to 128 letters, digits or . _ ~ -")
		case dup:
			v.add(p+".id", "%q is already the id of clients[%d]; ids must be unique", cl.ID, j)
		default:
			seen[cl.ID] = i
		}
		v.clientSecret(p, cl)
		v.grantTypes(p, cl)
		v.authMethod(p, cl)
		v.uris(p+".redirect_uris", cl.RedirectURIs)
		v.uris(p+".post_logout_redirect_uris", cl.PostLogoutRedirectURIs)
		v.scopes(p, cl)
		v.clientOptions(p, cl)
		v.keySource(p, cl)
		v.backchannel(p, cl)
		v.resources(p, cl)
		v.profile(p, cl)
		v.tokenExchange(p, cl)
	}
}

// clientSecret checks how the client authenticates (S038). It never
// repeats the secret.
func (v *validator) clientSecret(p string, cl Client) {
	hasSecret, hasHash := cl.Secret != "", cl.SecretHash != ""
	if cl.UsesKeys() {
		if hasSecret || hasHash {
			v.add(p+".secret", "a private_key_jwt client proves itself with its key and has no secret; remove it")
		}
		return
	}
	switch {
	case cl.Public && hasSecret:
		v.add(p+".secret", "a public client must not have a secret (S038); remove it or drop public: true")
	case cl.Public && hasHash:
		v.add(p+".secret_hash", "a public client must not have a secret (S038); remove it or drop public: true")
	case !cl.Public && hasSecret && hasHash:
		v.add(p+".secret_hash", "set only one of secret and secret_hash; remove one")
	case !cl.Public && !hasSecret && !hasHash:
		v.add(p, "a confidential client needs a secret or secret_hash; add one, or set public: true for browser and native apps")
	}
	if !cl.Public && hasSecret && utf8.RuneCountInString(cl.Secret.Reveal()) < 32 {
		v.add(p+".secret", "must be at least 32 characters; use a random value such as the output of: openssl rand -base64 32")
	}
	if hasHash && !isArgon2id(cl.SecretHash) {
		v.add(p+".secret_hash", "must be an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)")
	}
}

// grantTypes checks the client's grant types against the grants the
// server implements, each other, its redirect URIs and its kind (S027,
// S203).
func (v *validator) grantTypes(p string, cl Client) {
	gp := p + ".grant_types"
	names := make([]string, len(v.rules.Grants))
	byType := make(map[string]protocol.GrantInfo, len(v.rules.Grants))
	var starters []string // grants that start a refresh chain
	for i, g := range v.rules.Grants {
		names[i], byType[g.Type] = g.Type, g
		if g.Refresh {
			starters = append(starters, g.Type)
		}
	}
	if len(cl.GrantTypes) == 0 {
		v.add(gp, "must list at least one of %s", strings.Join(names, ", "))
		return
	}
	has := make(map[string]bool)
	for j, g := range cl.GrantTypes {
		ip := fmt.Sprintf("%s[%d]", gp, j)
		info, known := byType[g]
		switch {
		case !known:
			v.add(ip, "%q is not a grant type; use %s", g, orList(names))
		case has[g]:
			v.add(ip, "%q is listed twice; remove one", g)
		case cl.Public && !info.Public:
			v.add(ip, "a public client cannot use %s (S027, S038, S203); give it a secret or remove the grant", g)
		}
		has[g] = true
		if known && info.Redirect && len(cl.RedirectURIs) == 0 && !has["redirect:"+g] {
			has["redirect:"+g] = true
			v.add(p+".redirect_uris", "%s needs at least one redirect URI; add the app's callback URL", g)
		}
	}
	if has[protocol.GrantRefreshToken] && !slices.ContainsFunc(starters, func(g string) bool { return has[g] }) {
		v.add(gp, "%s alone is never issued; add %s, or remove %s", protocol.GrantRefreshToken, orList(starters), protocol.GrantRefreshToken)
	}
}

// authMethod checks token_endpoint_auth_method (RFC 7591 §2) against the
// methods the server implements and the client's kind.
func (v *validator) authMethod(p string, cl Client) {
	if cl.TokenEndpointAuthMethod == "" {
		return
	}
	ap := p + ".token_endpoint_auth_method"
	m := protocol.AuthMethod(cl.TokenEndpointAuthMethod)
	var names []string
	for _, known := range v.rules.AuthMethods {
		names = append(names, string(known))
	}
	switch {
	case !slices.Contains(v.rules.AuthMethods, m):
		v.add(ap, "%q is not a client authentication method; use %s", cl.TokenEndpointAuthMethod, orList(names))
	case cl.Public && m != protocol.AuthNone:
		v.add(ap, "a public client has no credentials: use none, or drop public: true")
	case !cl.Public && m == protocol.AuthNone:
		v.add(ap, "a confidential client must authenticate; remove none, or set public: true")
	}
}

// orList joins items as "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// uris checks a list of redirect URIs.
func (v *validator) uris(path string, uris []string) {
	seen := make(map[string]bool)
	for j, u := range uris {
		ip := fmt.Sprintf("%s[%d]", path, j)
		if msg := redirectURIProblem(u); msg != "" {
			v.add(ip, "%s", msg)
		} else if seen[u] {
			v.add(ip, "is listed twice; remove one")
		}
		seen[u] = true
	}
}

// redirectURIProblem checks one redirect URI: registered in full, https or
// loopback http, or a reverse-DNS private-use scheme (S119, S144, S208,
// S209).
func redirectURIProblem(s string) string {
	if strings.Contains(s, "*") {
		return "must not contain a wildcard *; register every URI in full (S144)"
	}
	if strings.Contains(s, "#") {
		return "must not have a fragment (#…); remove it"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "":
		return "must be an absolute URI, like https://app.example.com/callback"
	case u.Scheme == "https" && u.Host == "":
		return "needs a host, like https://app.example.com/callback"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https; http is only for 127.0.0.1, [::1] or localhost (S119, S208)"
	case u.Scheme != "https" && u.Scheme != "http" && !strings.Contains(u.Scheme, "."):
		return fmt.Sprintf("scheme %q is not allowed; a private-use scheme must be a reverse-DNS name like com.example.app:/callback (S209)", u.Scheme)
	}
	return ""
}

// scopes checks the client's scopes and default scopes (RFC 6749 §3.3).
func (v *validator) scopes(p string, cl Client) {
	known := make(map[string]bool)
	for j, s := range cl.Scopes {
		ip := fmt.Sprintf("%s.scopes[%d]", p, j)
		switch {
		case !isScopeToken(s):
			v.add(ip, "%q is not a valid scope; use printable ASCII without spaces, \" or \\ (RFC 6749 §3.3)", s)
		case known[s]:
			v.add(ip, "%q is listed twice; remove one", s)
		}
		known[s] = true
	}
	for j, s := range cl.DefaultScopes {
		if !known[s] {
			v.add(fmt.Sprintf("%s.default_scopes[%d]", p, j), "%q is not in scopes; add it there or remove it here", s)
		}
	}
}

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	for i := range len(s) {
		if b := s[i]; b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return s != ""
}

// clientOptions checks the client's audience, formats and lifetimes.
func (v *validator) clientOptions(p string, cl Client) {
	for j, a := range cl.Audience {
		if strings.TrimSpace(a) == "" {
			v.add(fmt.Sprintf("%s.audience[%d]", p, j), "must not be empty; remove it or name the resource server")
		}
	}
	if cl.AccessTokenFormat != "" {
		v.oneOf(p+".access_token_format", cl.AccessTokenFormat, "jwt", "opaque")
	}
	if cl.IDTokenSignedResponseAlg != "" {
		v.oneOf(p+".id_token_signed_response_alg", cl.IDTokenSignedResponseAlg, "RS256", "ES256", "EdDSA", "PS256")
	}
	if cl.AccessTokenTTL < 0 {
		v.add(p+".access_token_ttl", "must not be negative; 0 means tokens.access_token_ttl")
	} else if cl.AccessTokenTTL.D() > 24*time.Hour {
		v.add(p+".access_token_ttl", "must be at most 24h; keep access tokens short and use refresh tokens")
	}
	if cl.RefreshTokenTTL < 0 {
		v.add(p+".refresh_token_ttl", "must not be negative; 0 means tokens.refresh_token_ttl")
	}
	if cl.RefreshGrace < 0 || cl.RefreshGrace.D() > 5*time.Minute {
		v.add(p+".refresh_grace", "must be between 0 and 5m; a few seconds is usual")
	}
}

// users checks every user and that usernames are unique. It never repeats
// a password or hash.
func (v *validator) users() {
	seen := make(map[string]int)
	for i, u := range v.c.Users {
		p := fmt.Sprintf("users[%d]", i)
		if msg := usernameProblem(u.Username); msg != "" {
			v.add(p+".username", "%s", msg)
		} else if j, dup := seen[u.Username]; dup {
			v.add(p+".username", "%q is already used by users[%d]; usernames must be unique", u.Username, j)
		} else {
			seen[u.Username] = i
		}
		switch {
		case u.Password != "" && u.PasswordHash != "":
			v.add(p+".password_hash", "set only one of password and password_hash; remove one")
		case u.Password == "" && u.PasswordHash == "":
			v.add(p, "needs a password or password_hash; add one")
		case u.PasswordHash != "" && !isArgon2id(u.PasswordHash) && !bcryptRE.MatchString(u.PasswordHash):
			v.add(p+".password_hash", "must be an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or a bcrypt hash ($2b$…)")
		}
		v.claims(p+".claims", u.Claims)
	}
}

// usernameProblem checks one username's form.
func usernameProblem(name string) string {
	switch {
	case name == "":
		return "is required"
	case utf8.RuneCountInString(name) > 128:
		return "must be at most 128 characters"
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return "must be valid UTF-8 without control characters"
	case strings.TrimSpace(name) != name:
		return "must not start or end with a space; remove it"
	}
	return ""
}

// claims checks that a user's claims leave the server's own claims alone
// and can be written as JSON.
func (v *validator) claims(p string, claims map[string]any) {
	keys := make([]string, 0, len(claims))
	for k := range claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if isReservedClaim(k) {
			v.add(p+"."+k, "%q is set by the server; remove it from claims", k)
		}
	}
	if _, err := json.Marshal(claims); err != nil {
		v.add(p, "cannot be written as JSON (%v); use plain text, numbers, true/false, lists and mappings", err)
	}
}

// isArgon2id reports whether s is an argon2id PHC string with sensible
// parameters, a salt of at least 8 bytes and a hash of at least 16.
func isArgon2id(s string) bool {
	m := argon2idRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	mem, errM := strconv.ParseUint(m[1], 10, 32)
	t, errT := strconv.ParseUint(m[2], 10, 32)
	par, errP := strconv.ParseUint(m[3], 10, 8)
	if errM != nil || errT != nil || errP != nil || t < 1 || par < 1 || mem < 8*par {
		return false
	}
	salt, errS := base64.RawStdEncoding.DecodeString(m[4])
	hash, errH := base64.RawStdEncoding.DecodeString(m[5])
	return errS == nil && errH == nil && len(salt) >= 8 && len(hash) >= 16
}

// backchannel checks the client's back-channel logout registration: the
// URI is posted to through the SSRF guard, so it obeys the same rules as a
// fetched jwks_uri, and it has no fragment (Back-Channel Logout 1.0 §2.2).
func (v *validator) backchannel(p string, cl Client) {
	if cl.BackchannelLogoutURI == "" {
		if cl.BackchannelLogoutSessionRequired {
			v.add(p+".backchannel_logout_session_required", "needs backchannel_logout_uri")
		}
		return
	}
	if msg := v.fetchURLProblem(cl.BackchannelLogoutURI); msg != "" {
		v.add(p+".backchannel_logout_uri", "%s", msg)
	}
}
