package main

import (
	"fmt"
	"net/netip"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/token"
)

// rules are what configuration validation takes from the server: the
// grants and client authentication methods it implements.
func rules() config.Rules {
	return config.Rules{Grants: server.Grants(), AuthMethods: server.AuthMethods()}
}

// serverConfig maps a validated configuration file onto what the server
// needs. It is the only place that knows both.
func serverConfig(cfg config.Config) (server.Config, error) {
	proxies, err := prefixes(cfg.TrustedProxies)
	if err != nil {
		return server.Config{}, err
	}
	t := cfg.Tokens
	l := cfg.Limits
	return server.Config{
		Issuer:                  cfg.IssuerURL(),
		TrustedProxies:          proxies,
		AccessTokenTTL:          t.AccessTokenTTL.D(),
		RefreshTokenTTL:         t.RefreshTokenTTL.D(),
		RefreshTokenAbsoluteTTL: t.RefreshTokenAbsoluteTTL.D(),
		IDTokenTTL:              t.IDTokenTTL.D(),
		CodeTTL:                 t.CodeTTL.D(),
		SessionTTL:              t.SessionTTL.D(),
		AccessTokenAlg:          t.AccessTokenAlg,
		KeyActivationDelay:      cfg.Keys.ActivationDelay.D(),
		Passwords:               hashParams(cfg),
		Limits: server.Limits{PerUsername: l.PerUsername, PerClient: l.PerClient, PerIP: l.PerIP,
			Window: l.Window.D(), BaseDelay: l.BaseDelay.D(), MaxDelay: l.MaxDelay.D()},
		DPoP: server.DPoPConfig{RequireNonce: cfg.DPoP.RequireNonce, NonceLifetime: cfg.DPoP.NonceLifetime.D(),
			ProofWindow: cfg.DPoP.ProofWindow.D(), Algs: cfg.DPoP.SigningAlgs},
		PAR: server.PARConfig{Require: cfg.PAR.Require, Lifetime: cfg.PAR.Lifetime.D()},
		ClientAssertions: server.AssertionConfig{StrictAudience: cfg.ClientAssertions.StrictAudience,
			AllowLoopbackJWKS: cfg.ClientAssertions.AllowLoopbackJWKS},
		Device: server.DeviceConfig{CodeLifetime: cfg.Device.CodeLifetime.D(), Interval: cfg.Device.Interval.D(),
			VerificationURI: cfg.Device.VerificationURI},
		TrustedIssuers: trustedIssuers(cfg.TrustedIssuers),
		Registration:   registration(cfg.Registration),
	}, nil
}

// registration maps the registration section onto the server's: the
// initial access tokens of the file become the digests they are compared
// against.
func registration(r config.Registration) server.RegistrationConfig {
	var digests []string
	for _, t := range r.InitialAccessTokens {
		digests = append(digests, token.HashSecret(t.Reveal()))
	}
	p := r.Policy
	return server.RegistrationConfig{
		Enabled: r.Enabled, Open: r.Open, InitialTokenDigests: digests,
		Policy: server.RegistrationPolicy{GrantTypes: p.GrantTypes, AuthMethods: p.AuthMethods,
			DefaultAuthMethod: p.DefaultAuthMethod, Scopes: p.Scopes, DefaultScopes: p.DefaultScopes,
			Resources: p.Resources, MaxClients: p.MaxClients,
			Redirects: server.RedirectRules{HTTPS: p.RedirectURIs.HTTPS, Loopback: p.RedirectURIs.Loopback,
				PrivateSchemes: p.RedirectURIs.PrivateSchemes}},
		PerIP: r.RateLimit.PerIP, Window: r.RateLimit.Window.D(),
	}
}

// trustedIssuers maps trusted_issuers (validated) onto the server's,
// the inline JWK Sets written as JSON.
func trustedIssuers(list []config.TrustedIssuer) []server.TrustedIssuer {
	var out []server.TrustedIssuer
	for _, ti := range list {
		out = append(out, server.TrustedIssuer{Name: ti.Name, Issuer: ti.Issuer, JWKS: jwksJSON(ti.JWKS), JWKSURI: ti.JWKSURI,
			Audience: ti.Audience, SubjectClaim: ti.SubjectClaim, AllowedClients: ti.AllowedClients,
			AllowedSubjects: ti.AllowedSubjects, Scopes: ti.Scopes, MaxTokenAge: ti.MaxTokenAge.D(),
			Algorithms: ti.Algorithms, AllowTokenReuse: ti.AllowTokenReuse})
	}
	return out
}

// prefixes reads trusted_proxies: each entry an IP address or a CIDR range.
func prefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range list {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP nor a CIDR", p)
		}
		out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
	}
	return out, nil
}
