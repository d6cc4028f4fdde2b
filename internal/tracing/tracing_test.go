package tracing

import (
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// TestOffIsNoProvider: with no endpoint there is no SDK provider at all.
func TestOffIsNoProvider(t *testing.T) {
	tp, err := New(t.Context(), config.Default().Tracing, "test")
	if tp != nil || err != nil {
		t.Fatalf("New with no endpoint = %v, %v; want nil, nil", tp, err)
	}
}

func TestTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":        "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":       "http://127.0.0.1:4318/v1/traces",
		"https://gateway.example/otlp": "https://gateway.example/otlp/v1/traces",
	} {
		if got := TracesURL(in); got != want {
			t.Errorf("TracesURL(%q) = %q, want %q", in, got, want)
		}
	}
}
