package config

import "testing"

// TestBackchannelRules: a backchannel_logout_uri is posted to through the
// SSRF guard, so it obeys the rules of a fetched jwks_uri (A25).
func TestBackchannelRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"over http (A25)", confidential("    backchannel_logout_uri: http://rp.example.com/bc"),
			"5: clients[0].backchannel_logout_uri: must use https"},
		{"loopback without the dev switch (A25)", confidential("    backchannel_logout_uri: http://127.0.0.1:9998/bc"),
			"5: clients[0].backchannel_logout_uri: must use https"},
		{"private address (A25)", confidential("    backchannel_logout_uri: https://10.0.0.7/bc"),
			"5: clients[0].backchannel_logout_uri: 10.0.0.7 is never fetched"},
		{"metadata address (A25)", confidential("    backchannel_logout_uri: https://169.254.169.254/bc"),
			"5: clients[0].backchannel_logout_uri: 169.254.169.254 is never fetched"},
		{"fragment", confidential("    backchannel_logout_uri: https://rp.example.com/bc#x"),
			"5: clients[0].backchannel_logout_uri: must not carry userinfo or a fragment"},
		{"relative", confidential("    backchannel_logout_uri: /bc"), "5: clients[0].backchannel_logout_uri: must be an absolute https URL"},
		{"session required without a URI", confidential("    backchannel_logout_session_required: true"),
			"5: clients[0].backchannel_logout_session_required: needs backchannel_logout_uri"},
	})
}

func TestValidBackchannel(t *testing.T) {
	for name, doc := range map[string]string{
		"https": confidential("    backchannel_logout_uri: https://rp.example.com/bc", "    backchannel_logout_session_required: true"),
		"loopback under the dev switch": confidential("    backchannel_logout_uri: http://127.0.0.1:9998/bc") +
			y("client_assertions:", "  allow_loopback_jwks: true"),
	} {
		if probs := loadProblems(t, doc); len(probs) != 0 {
			t.Errorf("%s: %v", name, probs)
		}
	}
}
