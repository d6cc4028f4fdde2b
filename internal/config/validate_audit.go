package config

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/safefetch"
)

// audit checks the audit section: a retention long enough to answer "who
// did what last week", a queue that bounds memory, and a webhook that the
// SSRF guard will reach (A25).
func (v *validator) audit() {
	a := v.c.Audit
	if a.Retention.D() < 24*time.Hour {
		v.add("audit.retention", "must be at least 24h; 2160h (90 days) is the default")
	}
	if a.Queue < 64 || a.Queue > 1<<20 {
		v.add("audit.queue", "must be from 64 to 1048576 events; 8192 is the default")
	}
	w := a.Webhook
	if w.URL == "" {
		if w.Secret != "" {
			v.add("audit.webhook.url", "is required when audit.webhook.secret is set")
		}
		return
	}
	if msg := webhookURLProblem(w.URL, w.AllowLoopback); msg != "" {
		v.add("audit.webhook.url", "%s", msg)
	}
	if len(w.Secret.Reveal()) < 32 {
		v.add("audit.webhook.secret", "must be at least 32 characters (receivers verify the HMAC with it); "+
			"make one with: openssl rand -base64 32")
	}
}

// webhookURLProblem checks the webhook URL as the SSRF guard will.
func webhookURLProblem(s string, allowLoopback bool) string {
	const like = "; write it like https://siem.example.com/latchkey"
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "must be an absolute https URL" + like
	case u.User != nil:
		return "must not contain a user name or password: the signature authenticates Latchkey" + like
	case u.Fragment != "":
		return "must not have a fragment" + like
	case u.Scheme == "http" && !(allowLoopback && isLoopback(u.Hostname())):
		return "must use https; plain http is only for a loopback host with audit.webhook.allow_loopback" + like
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		if err := safefetch.CheckAddress(ip.Unmap(), allowLoopback); err != nil {
			return "names an address the SSRF guard refuses (loopback, private, link-local)" + like
		}
	}
	return ""
}
