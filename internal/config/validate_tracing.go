package config

import (
	"math"
	"net/url"
	"time"
)

// tracing checks the trace exporter's settings and the shutdown grace.
func (v *validator) tracing() {
	t := v.c.Tracing
	if t.OTLPEndpoint != "" {
		if msg := otlpEndpointProblem(t.OTLPEndpoint); msg != "" {
			v.add("tracing.otlp_endpoint", "%s", msg)
		}
	}
	if t.ServiceName == "" {
		v.add("tracing.service_name", "must not be empty; latchkey is the default")
	}
	if math.IsNaN(t.SampleRatio) || t.SampleRatio < 0 || t.SampleRatio > 1 {
		v.add("tracing.sample_ratio", "must be from 0 to 1, like 0.1 for one trace in ten; 1 is the default")
	}
	if g := v.c.ShutdownGrace.D(); g < 0 || g > 5*time.Minute {
		v.add("shutdown_grace", "must be from 0 to 5m; 5s is the default")
	}
}

// otlpEndpointProblem checks the collector's base URL. User information
// is refused: it would be sent in the clear on every export and printed
// with the configuration.
func otlpEndpointProblem(s string) string {
	const like = "; write it like http://127.0.0.1:4318"
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "must be an absolute http or https URL" + like
	case u.User != nil:
		return "must not contain a user name or password" + like
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment" + like
	}
	return ""
}
