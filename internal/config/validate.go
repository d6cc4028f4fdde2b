package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
)

// Rules are what validation learns from the server rather than from this
// package: the grants and client authentication methods it implements.
type Rules struct {
	Grants      []protocol.GrantInfo
	AuthMethods []protocol.AuthMethod
}

// Validate checks c against the rules of the configuration reference and
// the server's rules, and returns Problems listing every problem at once,
// or nil. Each problem names the file and line of the offending key when c
// came from Load with a file, or the environment variable that set it.
func (c Config) Validate(r Rules) error {
	return c.problems(r).finish()
}

// problems runs every check.
func (c *Config) problems(r Rules) Problems {
	v := &validator{c: c, rules: r}
	v.server()
	v.tokens()
	v.limits()
	v.senderConstraints()
	v.device()
	v.registration()
	v.audit()
	v.tracing()
	v.trustedIssuers()
	v.clientIDDocuments()
	v.clients()
	v.users()
	return v.probs
}

// validator collects problems while checking one Config.
type validator struct {
	c     *Config
	rules Rules
	probs Problems
}

// add records a problem about the YAML path.
func (v *validator) add(path, format string, args ...any) {
	v.probs = append(v.probs, v.c.problemAt(path, fmt.Sprintf(format, args...)))
}

// positive requires d > 0.
func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be longer than 0, like 15m or 30s")
	}
}

// atLeast requires n ≥ low.
func (v *validator) atLeast(path string, n, low int64) {
	if n < low {
		v.add(path, "must be at least %d", low)
	}
}

// oneOf requires value to be one of allowed.
func (v *validator) oneOf(path, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.add(path, "must be one of %s, not %q", strings.Join(allowed, ", "), value)
}

// server checks where and how the server listens, stores and logs.
func (v *validator) server() {
	c := v.c
	if c.Issuer != "" {
		if msg := issuerProblem(c.Issuer); msg != "" {
			v.add("issuer", "%s", msg)
		}
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		v.add("listen", "must be host:port, like 127.0.0.1:8080 or :8080")
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.add("listen", "the port must be a number from 0 to 65535")
	}
	if a := c.Admin.Listen; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			v.add("admin.listen", "must be host:port, like 127.0.0.1:9443, or empty for the main listener")
		} else if a == c.Listen {
			v.add("admin.listen", "is the main listener's address: leave it empty to serve the admin API there")
		}
	}
	if msg := storageProblem(c.Storage.Reveal()); msg != "" {
		v.add("storage", "%s", msg)
	}
	v.tls()
	for i, p := range c.TrustedProxies {
		if !isIPOrCIDR(p) {
			v.add(fmt.Sprintf("trusted_proxies[%d]", i),
				"%q is not an IP address or CIDR range; write it like 10.0.0.1 or 10.0.0.0/8", p)
		}
	}
	if c.Debug.PprofListen != "" {
		if _, port, err := net.SplitHostPort(c.Debug.PprofListen); err != nil {
			v.add("debug.pprof_listen", "must be host:port, like 127.0.0.1:6060")
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			v.add("debug.pprof_listen", "the port must be a number from 0 to 65535")
		}
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "text", "json")
}

// issuerProblem checks the issuer identifier (S044, S045, S093).
func issuerProblem(s string) string {
	const like = "; write it like https://auth.example.com"
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "must be an absolute https URL (S093)" + like
	case u.User != nil:
		return "must not contain a user name or password" + like
	case strings.ContainsAny(s, "?#"):
		return "must not have a query or fragment (S093)" + like
	case strings.HasSuffix(s, "/"):
		return fmt.Sprintf("must not end with a slash; write %q", strings.TrimRight(s, "/"))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https; plain http is only for 127.0.0.1, [::1] or localhost (S044, S045)"
	}
	return ""
}

// isLoopback reports whether host (without brackets) is one of the
// loopback names allowed with plain http.
func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// storageProblem checks the storage URL. It never repeats the value, which
// may hold a database password.
func storageProblem(s string) string {
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		if s == "sqlite://" {
			return "needs a file path, like sqlite://latchkey.db"
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return "is not a valid URL; percent-encode special characters such as @ : / in the password"
		}
	default:
		return "must be sqlite://PATH or postgres://USER@HOST/DATABASE"
	}
	return ""
}

// isIPOrCIDR reports whether s is an IP address or a CIDR prefix.
func isIPOrCIDR(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// tls requires both TLS files or neither, and that they exist.
func (v *validator) tls() {
	t := v.c.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.add("tls.key_file", "is required when tls.cert_file is set; set both or neither")
	case t.CertFile == "" && t.KeyFile != "":
		v.add("tls.cert_file", "is required when tls.key_file is set; set both or neither")
	}
	files := []struct{ path, file string }{{"tls.cert_file", t.CertFile}, {"tls.key_file", t.KeyFile}}
	for _, f := range files {
		path, file := f.path, f.file
		if file == "" {
			continue
		}
		info, err := os.Stat(file)
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe):
			v.add(path, "cannot use %q: %v; check the path", file, pe.Err)
		case err != nil:
			v.add(path, "cannot use %q: %v", file, err)
		case info.IsDir():
			v.add(path, "%q is a directory; give the PEM file", file)
		}
	}
}

// tokens checks token lifetimes, the signing algorithm and key rotation.
func (v *validator) tokens() {
	t, k := v.c.Tokens, v.c.Keys
	v.positive("tokens.access_token_ttl", t.AccessTokenTTL)
	v.positive("tokens.refresh_token_ttl", t.RefreshTokenTTL)
	if t.RefreshTokenAbsoluteTTL < t.RefreshTokenTTL {
		v.add("tokens.refresh_token_absolute_ttl", "must be at least tokens.refresh_token_ttl (%s)", t.RefreshTokenTTL)
	}
	v.positive("tokens.id_token_ttl", t.IDTokenTTL)
	v.positive("tokens.code_ttl", t.CodeTTL)
	v.positive("tokens.session_ttl", t.SessionTTL)
	if t.AccessTokenTTL.D() > 24*time.Hour {
		v.add("tokens.access_token_ttl", "must be at most 24h; keep access tokens short and use refresh tokens")
	}
	if t.CodeTTL.D() > 10*time.Minute {
		v.add("tokens.code_ttl", "must be at most 10m (RFC 6749 §4.1.2, S017); 60s is usual")
	}
	v.oneOf("tokens.access_token_alg", t.AccessTokenAlg, "ES256", "EdDSA", "RS256", "PS256")

	if k.RotationPeriod < 0 || (k.RotationPeriod > 0 && k.RotationPeriod.D() < time.Hour) {
		v.add("keys.rotation_period", "must be 0 (no rotation) or at least 1h")
	}
	if k.ReloadInterval.D() < 100*time.Millisecond || k.ReloadInterval.D() > 10*time.Minute {
		v.add("keys.reload_interval", "must be between 100ms and 10m; 30s is usual")
	}
	if k.ActivationDelay >= 0 && k.ActivationDelay < k.ReloadInterval {
		v.add("keys.activation_delay", "must be at least keys.reload_interval (%s), so every instance publishes a new key before any signs with it", k.ReloadInterval)
	}
	if k.ActivationDelay < 0 {
		v.add("keys.activation_delay", "must not be negative; 1h is usual")
	} else if k.RotationPeriod.D() >= time.Hour && k.ActivationDelay >= k.RotationPeriod {
		v.add("keys.activation_delay", "must be shorter than keys.rotation_period (%s)", k.RotationPeriod)
	}
}

// limits checks password hashing, rate limits, the database pool and GC.
func (v *validator) limits() {
	c := v.c
	if c.Passwords.MemoryKiB < 8192 {
		v.add("passwords.memory_kib", "must be at least 8192 (8 MiB); 19456 is the OWASP minimum for argon2id")
	}
	v.atLeast("passwords.iterations", int64(c.Passwords.Iterations), 1)
	v.atLeast("passwords.parallelism", int64(c.Passwords.Parallelism), 1)

	l := c.Limits
	v.atLeast("limits.per_username", int64(l.PerUsername), 1)
	v.atLeast("limits.per_client", int64(l.PerClient), 1)
	v.atLeast("limits.per_ip", int64(l.PerIP), 1)
	v.positive("limits.window", l.Window)
	v.positive("limits.base_delay", l.BaseDelay)
	if l.BaseDelay > 0 && l.MaxDelay < l.BaseDelay {
		v.add("limits.max_delay", "must be at least limits.base_delay (%s)", l.BaseDelay)
	}

	v.atLeast("database.max_conns", int64(c.Database.MaxConns), 1)
	v.positive("database.connect_timeout", c.Database.ConnectTimeout)
	v.positive("database.query_timeout", c.Database.QueryTimeout)
	if d := c.Database.CacheTTL.D(); d < 0 || d > time.Minute {
		v.add("database.cache_ttl", "must be from 0 (no cache) to 1m; 1s is usual")
	}
	v.positive("gc.interval", c.GC.Interval)
	v.atLeast("gc.batch", int64(c.GC.Batch), 1)
}
