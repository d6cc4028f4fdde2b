package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// brokerWorld is the JWT bearer world with a client "broker" that may
// exchange the Kubernetes issuer's tokens, a client "stranger" that may
// exchange but is not among the issuer's allowed_clients, and alice's
// token from "web".
type brokerWorld struct {
	*bearerWorld
	secrets map[string]string
	userAT  string
}

func newBrokerWorld(t *testing.T) brokerWorld {
	t.Helper()
	w := brokerWorld{bearerWorld: newBearerWorld(t, func(ti []server.TrustedIssuer) {
		ti[0].AllowedClients = append(ti[0].AllowedClients, "broker")
	}), secrets: map[string]string{}}
	for _, c := range []store.Client{
		{ID: "broker", GrantTypes: []string{grantExchange}, Scopes: []string{"payments.read", "notes", "admin"},
			Resources: []string{"https://payments.example.com"}, TokenExchange: store.ExchangePolicy{AllowedSubjectClients: []string{"web"}}},
		{ID: "stranger", GrantTypes: []string{grantExchange}, Scopes: []string{"payments.read"}},
		{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"notes"}},
		{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true},
	} {
		w.secrets[c.ID] = w.AddClient(t, c)
	}
	w.AddUser(t, "alice", "wonderland", nil)
	w.userAT = wantToken(t, post(t, w.Env, "/token", formOf("grant_type", "password", "username", "alice",
		"password", "wonderland"), basic("web", w.secrets["web"])))["access_token"].(string)
	return w
}

func (w brokerWorld) exchangeAs(t *testing.T, client string, form url.Values) result {
	t.Helper()
	form.Set("grant_type", grantExchange)
	return post(t, w.Env, "/token", form, basic(client, w.secrets[client]))
}

// TestTokenExchangeExternalSubject: a trusted issuer's JWT (RFC 8693
// subject_token_type jwt) is exchanged for a token whose sub is the
// workload's namespaced subject, whose scope stays within what the issuer
// allows, and which lives no longer than the external token.
func TestTokenExchangeExternalSubject(t *testing.T) {
	w := newBrokerWorld(t)
	claims := saClaims(w.Env)
	claims["exp"] = w.Clock.Now().Add(5 * time.Minute).Unix()
	sa := w.k8sKey.sign(t, claims, nil)

	body, got := wantExchanged(t, w.exchangeAs(t, "broker", subject(sa, protocol.TokenTypeJWT,
		"resource", "https://payments.example.com")))
	if got["sub"] != "k8s:"+k8sSA || body["scope"] != "payments.read" {
		t.Errorf("sub %v scope %v, want k8s:%s and payments.read (the issuer allows no more of broker's)", got["sub"], body["scope"], k8sSA)
	}
	if exp := body["expires_in"].(float64); exp > 300 {
		t.Errorf("expires_in = %v, want at most the external token's 300 s", exp)
	}
	if !slices.Equal(actOf(got), []string{"client:broker"}) {
		t.Errorf("act = %v, want client:broker", actOf(got))
	}
	in := introspect(t, w.Env, "rs", w.secrets["rs"], body["access_token"].(string))
	if in["active"] != true || in["sub"] != "k8s:"+k8sSA {
		t.Errorf("introspection = %v, want active for the workload", in)
	}

	before := w.countRows(t)
	for name, tc := range map[string]struct {
		client string
		form   url.Values
		code   string
	}{
		"replayed (single-use issuer)": {"broker", subject(sa, protocol.TokenTypeJWT), "invalid_grant"},
		"a scope the issuer does not allow": {"broker",
			subject(w.k8sKey.sign(t, saClaims(w.Env), nil), protocol.TokenTypeJWT, "scope", "admin"), "invalid_scope"},
		"stated as an access token": {"broker",
			subject(w.k8sKey.sign(t, saClaims(w.Env), nil), protocol.TokenTypeAccessToken), "invalid_grant"},
		"a client the issuer does not allow": {"stranger",
			subject(w.k8sKey.sign(t, saClaims(w.Env), nil), protocol.TokenTypeJWT), "invalid_grant"},
		"signed by another key": {"broker",
			subject(newPKKey(t, "RS256", "sa-1").sign(t, saClaims(w.Env), nil), protocol.TokenTypeJWT), "invalid_grant"},
	} {
		t.Run(name, func(t *testing.T) {
			r := w.exchangeAs(t, tc.client, tc.form)
			wantOAuthError(t, r, http.StatusBadRequest, tc.code)
			if tc.code == "invalid_grant" && r.str(t, "error_description") != "the subject token is invalid, expired or revoked" {
				t.Errorf("description %q says more than that the token is bad (A23)", r.str(t, "error_description"))
			}
		})
	}
	if after := w.countRows(t); after["grants"] != before["grants"] {
		t.Errorf("refused exchanges stored grants: %d → %d", before["grants"], after["grants"])
	}
}

// TestTokenExchangeExternalActor: a workload's JWT from a trusted issuer
// the client may present can be the actor token: act names the workload
// and its issuer (RFC 8693 §4.1) for alice's token.
func TestTokenExchangeExternalActor(t *testing.T) {
	w := newBrokerWorld(t)
	sa := w.k8sKey.sign(t, saClaims(w.Env), nil)
	_, got := wantExchanged(t, w.exchangeAs(t, "broker", subject(w.userAT, protocol.TokenTypeAccessToken,
		"actor_token", sa, "actor_token_type", protocol.TokenTypeJWT)))
	act, _ := got["act"].(map[string]any)
	if act["sub"] != "k8s:"+k8sSA || act["iss"] != k8sIss || act["act"] != nil {
		t.Errorf("act = %v, want the workload k8s:%s of %s", got["act"], k8sSA, k8sIss)
	}
	if got["sub"] == act["sub"] {
		t.Errorf("sub %v: the subject must stay alice", got["sub"])
	}
}
