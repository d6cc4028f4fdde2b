package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads a Go duration string such as "15m", "1h30m", "60s"
// or "0". A bad value is returned as a *yaml.TypeError whose message starts
// with "line N:", so the decoder carries on and Load reports every problem
// in the file at once.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// Worded like yaml's own type errors so Load explains it the same way.
		tag := "!!seq"
		if n.Kind == yaml.MappingNode {
			tag = "!!map"
		}
		return &yaml.TypeError{Errors: []string{
			fmt.Sprintf("line %d: cannot unmarshal %s into config.Duration", n.Line, tag),
		}}
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = v
	return nil
}

// MarshalYAML writes d the way UnmarshalYAML reads it, for example "15m".
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// String formats d like time.Duration but without zero trailing units:
// "15m" rather than "15m0s", "1h" rather than "1h0m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseDuration parses a Go duration string, explaining what to write when
// it cannot. The error never repeats more than a short value.
func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	v, err := time.ParseDuration(s)
	if err == nil {
		return Duration(v), nil
	}
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return 0, fmt.Errorf("duration %q has no unit; write %ss, %sm or %sh", s, s, s, s)
	}
	if len(s) > 20 {
		s = s[:17] + "..."
	}
	return 0, fmt.Errorf("invalid duration %q; write it like 15m, 1h30m or 60s", s)
}
