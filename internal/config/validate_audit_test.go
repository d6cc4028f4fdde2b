package config

import (
	"strings"
	"testing"
	"time"
)

const hookSecret = "0123456789abcdef0123456789abcdef-webhook"

func TestAuditRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"retention too short", y("audit:", "  retention: 1h"), "2: audit.retention: must be at least 24h"},
		{"queue too small", y("audit:", "  queue: 10"), "2: audit.queue: must be from 64 to 1048576"},
		{"secret without URL", y("audit:", "  webhook:", "    secret: "+hookSecret), "2: audit.webhook.url: is required"},
		{"webhook over http (A25)", y("audit:", "  webhook:", "    url: http://siem.example.com/x", "    secret: "+hookSecret),
			"3: audit.webhook.url: must use https"},
		{"webhook to the metadata service (A25)", y("audit:", "  webhook:", "    url: https://169.254.169.254/x", "    secret: "+hookSecret),
			"3: audit.webhook.url: names an address the SSRF guard refuses"},
		{"webhook to loopback without the allowance (A25)", y("audit:", "  webhook:", "    url: https://127.0.0.1:9000/x", "    secret: "+hookSecret),
			"3: audit.webhook.url: names an address the SSRF guard refuses"},
		{"webhook with userinfo", y("audit:", "  webhook:", "    url: https://u:p@siem.example.com/x", "    secret: "+hookSecret),
			"3: audit.webhook.url: must not contain a user name or password"},
		{"webhook relative", y("audit:", "  webhook:", "    url: /hook", "    secret: "+hookSecret),
			"3: audit.webhook.url: must be an absolute https URL"},
		{"webhook secret short", y("audit:", "  webhook:", "    url: https://siem.example.com/x", "    secret: short"),
			"4: audit.webhook.secret: must be at least 32 characters"},
		{"webhook without secret", y("audit:", "  webhook:", "    url: https://siem.example.com/x"),
			"2: audit.webhook.secret: must be at least 32 characters"},
	})
	for _, ok := range []string{
		y("audit:", "  enabled: false"),
		y("audit:", "  retention: 720h", "  queue: 64"),
		y("audit:", "  webhook:", "    url: https://siem.example.com/latchkey", "    secret: "+hookSecret),
		y("audit:", "  webhook:", "    url: http://127.0.0.1:9000/x", "    secret: "+hookSecret, "    allow_loopback: true"),
	} {
		if probs := loadProblems(t, ok); len(probs) != 0 {
			t.Errorf("refused %s: %v", ok, probs)
		}
	}
}

// Audit is on by default, with 90 days of retention and no webhook; the
// webhook secret never shows in a problem or a print of the config.
func TestAuditDefaultsAndSecret(t *testing.T) {
	d := Default().Audit
	if !d.Enabled || d.Retention.D() != 90*24*time.Hour || d.Webhook.URL != "" {
		t.Fatalf("default audit = %+v", d)
	}
	cfg, probs := check("latchkey.yaml", []byte(y("audit:", "  webhook:", "    url: http://siem.example.com/x", "    secret: "+hookSecret)), nil)
	if len(probs) != 1 {
		t.Fatalf("problems = %v", probs)
	}
	for _, s := range []string{probs[0].String(), strings.Join([]string{cfg.Audit.Webhook.Secret.String()}, "")} {
		if strings.Contains(s, hookSecret) {
			t.Fatalf("the webhook secret shows: %s", s)
		}
	}
}
