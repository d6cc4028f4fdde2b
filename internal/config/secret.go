package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// mask is what a set Secret shows instead of its value.
const mask = "[redacted]"

// passwordMask stands for the password in a StorageURL, as url.URL's
// Redacted writes it.
const passwordMask = "xxxxx"

// Secret is a configuration value that must never be shown: the system
// secret (secrets.system), a client secret (clients[].secret), a user's
// password (users[].password). Printed with any fmt verb (%v %+v %#v %s
// %q …), logged through slog, or marshalled to JSON or text, it shows
// "[redacted]" — or nothing when it is empty, so that a set secret and an
// unset one can still be told apart. Code that needs the value calls
// Reveal.
//
// YAML is the exception: MarshalYAML writes the value itself, because YAML
// is the configuration file's own format and a Config written as YAML is a
// configuration file that loads again (keep it as safe as one). Decoding
// from YAML, JSON and LATCHKEY_* variables reads the value as for a string.
type Secret string

// Reveal returns the secret itself, for the code that uses it.
func (s Secret) Reveal() string { return string(s) }

// String returns mask, or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return mask
}

// GoString is the %#v form: config.Secret("[redacted]").
func (s Secret) GoString() string { return "config.Secret(" + strconv.Quote(s.String()) + ")" }

// Format prints s masked whatever the verb; see Secret.
func (s Secret) Format(f fmt.State, verb rune) { formatMasked(f, verb, s.String(), s.GoString()) }

// LogValue logs s masked.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes s masked, as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes s masked.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML writes the secret itself; see Secret.
func (s Secret) MarshalYAML() (any, error) { return string(s), nil }

// StorageURL is the storage setting: sqlite://PATH, or a postgres:// URL
// that may hold the database password. Printed with any fmt verb, logged
// through slog, or marshalled to JSON or text, it shows the URL with only
// the password masked (postgres://latchkey:xxxxx@db:5432/latchkey, and
// likewise a password=… query parameter), so that paths and hosts stay
// readable. A postgres URL too malformed to parse shows only its scheme.
// Code that needs the URL calls Reveal. As for Secret, MarshalYAML writes
// the URL itself.
type StorageURL string

// Reveal returns the URL itself, password included, for the code that
// opens the store.
func (u StorageURL) Reveal() string { return string(u) }

// String returns the URL with its password masked.
func (u StorageURL) String() string {
	s := string(u)
	if strings.HasPrefix(s, "sqlite://") {
		return s // a file path: nothing to hide
	}
	p, err := url.Parse(s)
	if err != nil {
		// It may hold a password where the parser gave up.
		if scheme, _, ok := strings.Cut(s, "://"); ok {
			return scheme + "://" + mask
		}
		return mask
	}
	masked := false
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), passwordMask)
		masked = true
	}
	q := p.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, passwordMask)
			masked = true
		}
	}
	if !masked {
		return s
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// GoString is the %#v form: config.StorageURL("postgres://app:xxxxx@db/latchkey").
func (u StorageURL) GoString() string { return "config.StorageURL(" + strconv.Quote(u.String()) + ")" }

// Format prints u with its password masked whatever the verb.
func (u StorageURL) Format(f fmt.State, verb rune) { formatMasked(f, verb, u.String(), u.GoString()) }

// LogValue logs u with its password masked.
func (u StorageURL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalJSON writes u with its password masked, as a JSON string.
func (u StorageURL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalText writes u with its password masked.
func (u StorageURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalYAML writes the URL itself; see StorageURL.
func (u StorageURL) MarshalYAML() (any, error) { return string(u), nil }

// formatMasked prints shown for any verb, quoted for %q and keeping width
// and flags, and goSyntax for %#v: never the value that shown stands for.
func formatMasked(f fmt.State, verb rune, shown, goSyntax string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, goSyntax)
	case verb == 'q':
		fmt.Fprintf(f, fmt.FormatString(f, verb), shown)
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), shown)
	}
}
