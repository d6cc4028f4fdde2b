package config

import "testing"

// exchanger is a confidential client with the token exchange grant and
// the policy lines given, beside a client "web".
func exchanger(grants string, policy ...string) string {
	return y(append([]string{
		"clients:",
		"  - id: web",
		"    secret: a-long-random-secret-of-32-or-more-characters",
		"    grant_types: [client_credentials]",
		"  - id: notes-api",
		"    secret: another-long-random-secret-of-32-or-more-chars",
		"    grant_types: [" + grants + "]",
	}, policy...)...)
}

const exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"

func TestTokenExchangeRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"policy without the grant", exchanger("client_credentials", "    token_exchange:", "      impersonation: true"),
			"8: clients[1].token_exchange: has no effect without the grant"},
		{"an unknown subject client", exchanger(exchangeGrant, "    token_exchange:", "      allowed_subject_clients: [web, mobile]"),
			"9: clients[1].token_exchange.allowed_subject_clients[1]: \"mobile\" is not the id of a client in this file"},
		{"a subject client twice", exchanger(exchangeGrant, "    token_exchange:", "      allowed_subject_clients: [web, web]"),
			"9: clients[1].token_exchange.allowed_subject_clients[1]: \"web\" is listed twice"},
		{"refresh tokens without the refresh grant", exchanger(exchangeGrant, "    token_exchange:", "      refresh_tokens: true"),
			"9: clients[1].token_exchange.refresh_tokens: needs refresh_token in grant_types"},
		{"an unknown policy key", exchanger(exchangeGrant, "    token_exchange:", "      act: false"),
			"9: clients[1].token_exchange.act: unknown key"},
	})
	for _, ok := range []string{
		exchanger(exchangeGrant),
		exchanger(exchangeGrant+", refresh_token", "    token_exchange:", "      allowed_subject_clients: [web]",
			"      impersonation: true", "      refresh_tokens: true", "      beyond_subject_lifetime: true"),
	} {
		if probs := loadProblems(t, ok); len(probs) != 0 {
			t.Errorf("refused %s: %v", ok, probs)
		}
	}
}
