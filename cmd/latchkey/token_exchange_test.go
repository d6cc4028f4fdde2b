package main

// latchkey token exchange against a Latchkey started with testenv: the
// user's token from one client traded by another (RFC 8693).

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// exchangeEnv adds to tokenEnv a client "gateway" that may exchange the
// tokens of "app" and introspect what it gets.
func newExchangeEnv(t *testing.T) (*tokenEnv, string) {
	t.Helper()
	te := newTokenEnv(t)
	secret := te.AddClient(t, store.Client{ID: "gateway", GrantTypes: []string{protocol.GrantTokenExchange, protocol.GrantRefreshToken},
		Scopes: []string{"read"}, Introspection: true,
		TokenExchange: store.ExchangePolicy{AllowedSubjectClients: []string{"app"}, RefreshTokens: true}})
	return te, secret
}

// userToken gets alice's tokens from app by the password grant.
func (te *tokenEnv) userToken(t *testing.T) map[string]any {
	t.Helper()
	return te.mustToken(t, map[string]string{"LATCHKEY_CLIENT_SECRET": te.appSecret}, "password",
		"--client-id", "app", "--username", te.user, "--password", te.password, "--scope", "openid read")
}

func TestTokenExchangeCLI(t *testing.T) {
	t.Parallel()
	te, gwSecret := newExchangeEnv(t)
	gw := map[string]string{"LATCHKEY_CLIENT_SECRET": gwSecret}
	user := te.userToken(t)
	at, _ := user["access_token"].(string)

	t.Run("subject token from standard input, delegation", func(t *testing.T) {
		r := runCLI(t, gw, at+"\n", "token", "exchange", "--issuer", te.URL, "--client-id", "gateway", "--subject-token", "-", "--scope", "read")
		if r.err != nil {
			t.Fatalf("latchkey token exchange: %v\nstderr:\n%s", r.err, r.stderr)
		}
		got := decodeJSON(t, r.stdout)
		if got["issued_token_type"] != protocol.TokenTypeAccessToken || got["token_type"] != "Bearer" || got["scope"] != "read" {
			t.Fatalf("exchange response %v, want an access token (issued_token_type), Bearer, scope read", got)
		}
		alice := te.mustToken(t, gw, "introspect", "--client-id", "gateway", at)["sub"]
		in := te.mustToken(t, gw, "introspect", "--client-id", "gateway", got["access_token"].(string))
		act, _ := in["act"].(map[string]any)
		if in["active"] != true || alice == nil || in["sub"] != alice || in["client_id"] != "gateway" || act["sub"] != "client:gateway" {
			t.Errorf("introspection of the exchanged token: %v, want active, alice's, issued to gateway, act.sub client:gateway", in)
		}
	})

	t.Run("refresh token as subject, refresh token requested", func(t *testing.T) {
		rt, _ := user["refresh_token"].(string)
		got := te.mustToken(t, gw, "exchange", "--client-id", "gateway", "--subject-token", rt,
			"--subject-token-type", "refresh_token", "--requested-token-type", "refresh_token")
		// RFC 8693 §2.2.1: the issued token is in access_token, token_type N_A.
		if got["issued_token_type"] != protocol.TokenTypeRefreshToken || got["token_type"] != "N_A" ||
			!strings.HasPrefix(got["access_token"].(string), "lk_rt_") {
			t.Errorf("exchange response %v, want a refresh token in access_token with token_type N_A", got)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			stdin string
			args  []string
			want  string
		}{
			{"no subject token", "", nil, "--subject-token is required"},
			{"empty standard input", "", []string{"--subject-token", "-"}, "no token on standard input"},
			{"both from standard input", at, []string{"--subject-token", "-", "--actor-token", "-"}, "only one of --subject-token and --actor-token"},
			{"actor type without actor", "", []string{"--subject-token", at, "--actor-token-type", "jwt"}, "give --actor-token too"},
			{"unknown type", "", []string{"--subject-token", at, "--subject-token-type", "saml"}, "unknown token type"},
			{"scope widening", "", []string{"--subject-token", at, "--scope", "write"}, protocol.ErrInvalidScope},
			{"forged subject token", "", []string{"--subject-token", at[:len(at)-4] + "AAAA"}, protocol.ErrInvalidGrant},
			{"resource beyond the subject", "", []string{"--subject-token", at, "--resource", "https://elsewhere.example"}, protocol.ErrInvalidTarget},
		} {
			t.Run(tc.name, func(t *testing.T) {
				args := append([]string{"token", "exchange", "--issuer", te.URL, "--client-id", "gateway"}, tc.args...)
				r := runCLI(t, gw, tc.stdin, args...)
				if r.err == nil || !strings.Contains(r.err.Error()+r.stderr, tc.want) {
					t.Errorf("got %v (stdout %q), want an error with %q", r.err, r.stdout, tc.want)
				}
			})
		}
	})

	t.Run("exchange flags elsewhere", func(t *testing.T) {
		r := te.token(t, gw, "client-credentials", "--client-id", "gateway", "--subject-token", at)
		if r.err == nil || !strings.Contains(r.err.Error(), "--subject-token is for latchkey token exchange only") {
			t.Errorf("got %v, want --subject-token refused outside exchange", r.err)
		}
	})
}
