package config

import "testing"

func TestDeviceRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"code lifetime too long (S193)", y("device:", "  code_lifetime: 2h"), "2: device.code_lifetime: must be from 1m to 30m"},
		{"code lifetime too short", y("device:", "  code_lifetime: 10s"), "2: device.code_lifetime: must be from 1m to 30m"},
		{"interval zero", y("device:", "  interval: 0s"), "2: device.interval: must be whole seconds from 1s to 60s"},
		{"interval not whole seconds", y("device:", "  interval: 2500ms"), "2: device.interval: must be whole seconds"},
		{"interval too long", y("device:", "  interval: 5m"), "2: device.interval: must be whole seconds"},
		{"verification URI relative", y("device:", "  verification_uri: /device"), "2: device.verification_uri: must be an absolute https URL"},
		{"verification URI with a query", y("device:", "  verification_uri: https://example.com/device?x=1"),
			"2: device.verification_uri: must not have a query or fragment"},
		{"verification URI over http", y("device:", "  verification_uri: http://example.com/device"),
			"2: device.verification_uri: must use https"},
		{"verification URI with a password", y("device:", "  verification_uri: https://u:p@example.com/device"),
			"2: device.verification_uri: must not contain a user name or password"},
	})
	for _, ok := range []string{
		y("device:", "  code_lifetime: 30m", "  interval: 10s", "  verification_uri: https://example.com/activate"),
		y("device:", "  verification_uri: http://127.0.0.1:8080/device"),
		y("clients:", "  - id: tv", "    public: true", "    grant_types: [urn:ietf:params:oauth:grant-type:device_code, refresh_token]"),
	} {
		if probs := loadProblems(t, ok); len(probs) != 0 {
			t.Errorf("refused %s: %v", ok, probs)
		}
	}
}
