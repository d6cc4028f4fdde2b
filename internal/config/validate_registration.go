package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/protocol"
)

// registrableGrants are the grants a self-registered client may be
// allowed: the others need trust the server cannot give to self-asserted
// metadata (token exchange and the JWT bearer grant need a policy of
// their own; password is the legacy grant OAuth 2.1 drops).
var registrableGrants = []string{protocol.GrantAuthorizationCode, protocol.GrantRefreshToken,
	protocol.GrantClientCredentials, protocol.GrantDeviceCode}

// registration checks the registration section (RFC 7591, RFC 7592).
func (v *validator) registration() {
	r := v.c.Registration
	v.initialTokens(r.InitialAccessTokens)
	v.registrationPolicy(r.Policy)
	if r.RateLimit.PerIP < 1 {
		v.add("registration.rate_limit.per_ip", "must be at least 1: anonymous registrations are always limited (S196)")
	}
	v.positive("registration.rate_limit.window", r.RateLimit.Window)
}

// initialTokens checks the initial access tokens of the file: long enough
// not to be guessed, and listed once.
func (v *validator) initialTokens(tokens []Secret) {
	for i, t := range tokens {
		p := fmt.Sprintf("registration.initial_access_tokens[%d]", i)
		switch {
		case utf8.RuneCountInString(t.Reveal()) < 32:
			v.add(p, "must be at least 32 characters; use a random value such as the output of: openssl rand -base64 32")
		case slices.Contains(tokens[:i], t):
			v.add(p, "is listed twice; remove one")
		}
	}
}

// registrationPolicy checks what registered clients may be.
func (v *validator) registrationPolicy(p RegistrationPolicy) {
	const pp = "registration.policy"
	if len(p.GrantTypes) == 0 {
		v.add(pp+".grant_types", "must list at least one of %s", orList(registrableGrants))
	}
	for i, g := range p.GrantTypes {
		switch {
		case !slices.Contains(registrableGrants, g):
			v.add(fmt.Sprintf("%s.grant_types[%d]", pp, i), "%q cannot be registered; use %s", g, orList(registrableGrants))
		case slices.Contains(p.GrantTypes[:i], g):
			v.add(fmt.Sprintf("%s.grant_types[%d]", pp, i), "is listed twice; remove one")
		}
	}
	v.registrationMethods(p)
	v.registrationScopes(p)
	for i, r := range p.Resources {
		if msg := protocol.ResourceProblem(r); msg != "" {
			v.add(fmt.Sprintf("%s.resources[%d]", pp, i), "%s", msg)
		}
	}
	if p.RedirectURIs == (RegistrationRedirects{}) && slices.Contains(p.GrantTypes, protocol.GrantAuthorizationCode) {
		v.add(pp+".redirect_uris", "allows no redirect URI, so authorization_code cannot be registered; turn on https, loopback or private_schemes")
	}
	if p.MaxClients < 1 {
		v.add(pp+".max_clients", "must be at least 1; 10000 is the default")
	}
}

// registrationMethods checks the authentication methods against those the
// server implements.
func (v *validator) registrationMethods(p RegistrationPolicy) {
	const pp = "registration.policy"
	var known []string
	for _, m := range v.rules.AuthMethods {
		known = append(known, string(m))
	}
	if len(p.AuthMethods) == 0 {
		v.add(pp+".auth_methods", "must list at least one of %s", orList(known))
	}
	for i, m := range p.AuthMethods {
		if !slices.Contains(known, m) {
			v.add(fmt.Sprintf("%s.auth_methods[%d]", pp, i), "%q is not a client authentication method; use %s", m, orList(known))
		}
	}
	if d := p.DefaultAuthMethod; d != "" && !slices.Contains(p.AuthMethods, d) {
		v.add(pp+".default_auth_method", "%q is not in auth_methods; add it there or pick one of them", d)
	} else if d == "" && len(p.AuthMethods) > 0 && !slices.Contains(p.AuthMethods, string(protocol.AuthBasic)) {
		v.add(pp+".default_auth_method", "must be set when auth_methods leaves out client_secret_basic, the default of RFC 7591 §2")
	}
}

// registrationScopes checks the scopes and that the defaults are among them.
func (v *validator) registrationScopes(p RegistrationPolicy) {
	const pp = "registration.policy"
	for i, s := range p.Scopes {
		if sc, ok := protocol.ParseScope(s); !ok || len(sc) != 1 || sc[0] != s {
			v.add(fmt.Sprintf("%s.scopes[%d]", pp, i), "%q is not a scope token (RFC 6749 §3.3): no spaces, quotes or backslashes", s)
		}
	}
	for i, s := range p.DefaultScopes {
		if !slices.Contains(p.Scopes, s) {
			v.add(fmt.Sprintf("%s.default_scopes[%d]", pp, i), "%q is not in scopes; default scopes must be allowed ones (%s)", s, strings.Join(p.Scopes, " "))
		}
	}
}
