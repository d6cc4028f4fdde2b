package bearer

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Secret is a credential that must never be shown, such as
// IntrospectionConfig.ClientSecret. Printed with any fmt verb (%v %+v %#v
// %s %q …), logged through log/slog, or marshalled to JSON or text (and so
// to YAML), it shows "[redacted]" — or nothing when it is empty, so that a
// set secret and an unset one can still be told apart. Decoding it from
// JSON or YAML reads the value as for a string. Reveal returns the value.
//
// Convert a string where one is needed: bearer.Secret(os.Getenv("...")).
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString is the %#v form: bearer.Secret("[redacted]").
func (s Secret) GoString() string { return "bearer.Secret(" + strconv.Quote(s.String()) + ")" }

// Format prints s masked whatever the verb: quoted for %q, as GoString
// for %#v, as String otherwise (width and flags kept).
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), s.String())
	}
}

// LogValue logs s masked.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes s masked, as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes s masked.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
