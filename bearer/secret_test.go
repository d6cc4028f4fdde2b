package bearer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/bearer"
)

// The introspection secret never shows when it, the IntrospectionConfig
// holding it, or the Config holding that is printed, logged or marshalled.
//
// Config is not printed with %s or %q: fmt answers a verb that does not
// suit a field (%!s(*http.Client=<nil>)) by printing the field's value
// with no method called, so a Config holding a pointer to an
// IntrospectionConfig cannot mask it then. %v, %+v and %#v print that
// pointer as an address.
func TestSecretNeverShown(t *testing.T) {
	const leak = "the-introspection-secret"
	in := bearer.IntrospectionConfig{ClientID: "notes-api", ClientSecret: leak}
	cfg := bearer.Config{Issuer: "https://login.example", Audience: "https://notes.example", Introspection: &in}
	values := map[string]any{"Secret": bearer.Secret(leak), "IntrospectionConfig": in, "*IntrospectionConfig": &in, "Config": cfg}
	for name, v := range values {
		var shown []string
		verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x"}
		if name == "Config" {
			verbs = verbs[:3]
		}
		for _, verb := range verbs {
			shown = append(shown, fmt.Sprintf(verb, v))
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("config", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "v", v)
		shown = append(shown, text.String(), js.String())
		if b, err := json.Marshal(v); err == nil { // Config's funcs do not marshal
			shown = append(shown, string(b))
		}
		for _, s := range shown {
			if strings.Contains(s, leak) {
				t.Errorf("%s: the secret shows: %s", name, s)
			}
		}
	}
}

// A set secret shows a fixed mask and an empty one nothing, so that set
// and unset can be told apart; Reveal returns the value.
func TestSecretShows(t *testing.T) {
	tests := []struct {
		format string
		v      any
		want   string
	}{
		{"%v", bearer.Secret("s"), "[redacted]"},
		{"%q", bearer.Secret("s"), `"[redacted]"`},
		{"%#v", bearer.Secret("s"), `bearer.Secret("[redacted]")`},
		{"%+v", bearer.IntrospectionConfig{ClientID: "a", ClientSecret: "s"}, "{ClientID:a ClientSecret:[redacted] CacheTTL:0s}"},
		{"%+v", bearer.IntrospectionConfig{ClientID: "a"}, "{ClientID:a ClientSecret: CacheTTL:0s}"},
		{"%q", bearer.Secret(""), `""`},
	}
	for _, tc := range tests {
		if got := fmt.Sprintf(tc.format, tc.v); got != tc.want {
			t.Errorf("Sprintf(%q, %T) = %q, want %q", tc.format, tc.v, got, tc.want)
		}
	}
	if bearer.Secret("s").Reveal() != "s" {
		t.Error("Reveal")
	}
	var in bearer.IntrospectionConfig
	if err := json.Unmarshal([]byte(`{"ClientSecret":"from-json"}`), &in); err != nil || in.ClientSecret.Reveal() != "from-json" {
		t.Errorf("decoding: %v %q", err, in.ClientSecret.Reveal())
	}
}
