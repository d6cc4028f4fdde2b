package main

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/token"
)

// TestServerConfigDefaults holds the two sets of defaults together: the
// configuration file's, mapped onto the server, are the server's own
// (what a zero server.Config field means).
func TestServerConfigDefaults(t *testing.T) {
	got, err := serverConfig(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	want := server.DefaultConfig()
	want.Issuer = config.Default().IssuerURL()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serverConfig(config.Default()) =\n%+v\nwant server.DefaultConfig()\n%+v", got, want)
	}
}

// TestServerConfigMapsEveryField: every setting the server takes comes
// from the file.
func TestServerConfigMapsEveryField(t *testing.T) {
	cfg := config.Default()
	cfg.Issuer = "https://auth.example.com/t"
	cfg.TrustedProxies = []string{"10.0.0.0/8", "::ffff:192.0.2.7", "192.0.2.9/24"}
	cfg.Tokens.CodeTTL = config.Duration(30e9)
	cfg.Limits.PerIP = 7
	cfg.Device = config.Device{CodeLifetime: config.Duration(5 * time.Minute), Interval: config.Duration(7 * time.Second),
		VerificationURI: "https://auth.example.com/activate"}
	cfg.TrustedIssuers = []config.TrustedIssuer{{Name: "k8s", Issuer: "https://k8s.example", JWKS: map[string]any{"keys": []any{}},
		Audience: "https://auth.example.com", SubjectClaim: "sub", AllowedClients: []string{"deployer"},
		AllowedSubjects: []string{"system:serviceaccount:payments:*"}, Scopes: []string{"read"},
		MaxTokenAge: config.Duration(2 * time.Hour), Algorithms: []string{"ES256"}, AllowTokenReuse: true}}
	wantTrusted := []server.TrustedIssuer{{Name: "k8s", Issuer: "https://k8s.example", JWKS: `{"keys":[]}`,
		Audience: "https://auth.example.com", SubjectClaim: "sub", AllowedClients: []string{"deployer"},
		AllowedSubjects: []string{"system:serviceaccount:payments:*"}, Scopes: []string{"read"},
		MaxTokenAge: 2 * time.Hour, Algorithms: []string{"ES256"}, AllowTokenReuse: true}}
	got, err := serverConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("192.0.2.0/24")}
	wantDevice := server.DeviceConfig{CodeLifetime: 5 * time.Minute, Interval: 7 * time.Second, VerificationURI: "https://auth.example.com/activate"}
	if got.Issuer != cfg.Issuer || got.CodeTTL != 30e9 || got.Limits.PerIP != 7 || !reflect.DeepEqual(got.TrustedProxies, wantProxies) ||
		got.Device != wantDevice || !reflect.DeepEqual(got.TrustedIssuers, wantTrusted) {
		t.Errorf("serverConfig = %+v", got)
	}
	cfg.TrustedProxies = []string{"not-an-ip"}
	if _, err := serverConfig(cfg); err == nil {
		t.Error("an unparsable trusted proxy was accepted")
	}
}

// TestServerConfigRegistration: every registration setting reaches the
// server, and the file's initial access tokens only as digests.
func TestServerConfigRegistration(t *testing.T) {
	cfg := config.Default()
	const tok = "an-initial-access-token-of-32-characters-or-more"
	cfg.Registration = config.Registration{Enabled: true, Open: true, InitialAccessTokens: []config.Secret{tok},
		Policy: config.RegistrationPolicy{GrantTypes: []string{"authorization_code"}, AuthMethods: []string{"none"},
			DefaultAuthMethod: "none", Scopes: []string{"a", "b"}, DefaultScopes: []string{"a"}, Resources: []string{"https://mcp.example/"},
			RedirectURIs: config.RegistrationRedirects{Loopback: true}, MaxClients: 3},
		RateLimit: config.RegistrationRateLimit{PerIP: 4, Window: config.Duration(time.Minute)}}
	got, err := serverConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := server.RegistrationConfig{Enabled: true, Open: true, InitialTokenDigests: []string{token.HashSecret(tok)},
		Policy: server.RegistrationPolicy{GrantTypes: []string{"authorization_code"}, AuthMethods: []string{"none"},
			DefaultAuthMethod: "none", Scopes: []string{"a", "b"}, DefaultScopes: []string{"a"}, Resources: []string{"https://mcp.example/"},
			Redirects: server.RedirectRules{Loopback: true}, MaxClients: 3},
		PerIP: 4, Window: time.Minute}
	if !reflect.DeepEqual(got.Registration, want) {
		t.Errorf("registration = %+v\nwant %+v", got.Registration, want)
	}
}
