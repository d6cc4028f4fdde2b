package config

import (
	"errors"
	"testing"
	"time"
)

func TestTracingRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"endpoint relative", "tracing:\n  otlp_endpoint: collector:4318", "2: tracing.otlp_endpoint: must be an absolute http or https URL"},
		{"endpoint grpc scheme", "tracing:\n  otlp_endpoint: grpc://collector:4317", "2: tracing.otlp_endpoint: must be an absolute http or https URL"},
		{"endpoint userinfo", "tracing:\n  otlp_endpoint: https://me:pw@collector", "2: tracing.otlp_endpoint: must not contain a user name or password"},
		{"endpoint query", "tracing:\n  otlp_endpoint: http://127.0.0.1:4318?x=1", "2: tracing.otlp_endpoint: must not have a query or fragment"},
		{"service name empty", "tracing:\n  service_name: \"\"", "2: tracing.service_name: must not be empty"},
		{"sample ratio above 1", "tracing:\n  sample_ratio: 1.5", "2: tracing.sample_ratio: must be from 0 to 1"},
		{"sample ratio negative", "tracing:\n  sample_ratio: -0.1", "2: tracing.sample_ratio: must be from 0 to 1"},
		{"sample ratio NaN", "tracing:\n  sample_ratio: .nan", "2: tracing.sample_ratio: must be from 0 to 1"},
		{"grace negative", "shutdown_grace: -1s", "1: shutdown_grace: must be from 0 to 5m"},
		{"grace too long", "shutdown_grace: 6m", "1: shutdown_grace: must be from 0 to 5m"},
	})
}

// TestTracingDefaults: tracing is off, and a stop after SIGTERM waits 5s.
func TestTracingDefaults(t *testing.T) {
	cfg, err := Load("", nil, testRules)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing != (Tracing{ServiceName: "latchkey", SampleRatio: 1}) || cfg.ShutdownGrace.D() != 5*time.Second {
		t.Errorf("defaults: tracing %+v, shutdown_grace %v", cfg.Tracing, cfg.ShutdownGrace.D())
	}
}

func TestTracingEnv(t *testing.T) {
	cfg, err := Load("", env(map[string]string{
		"LATCHKEY_TRACING_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"LATCHKEY_TRACING_SAMPLE_RATIO":  " 0.25 ",
		"LATCHKEY_SHUTDOWN_GRACE":        "0s",
	}), testRules)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.OTLPEndpoint != "http://127.0.0.1:4318" || cfg.Tracing.SampleRatio != 0.25 || cfg.ShutdownGrace != 0 {
		t.Errorf("got tracing %+v, shutdown_grace %v", cfg.Tracing, cfg.ShutdownGrace.D())
	}
	_, err = Load("", env(map[string]string{"LATCHKEY_TRACING_SAMPLE_RATIO": "half"}), testRules)
	var ps Problems
	if !errors.As(err, &ps) || err.Error() != "LATCHKEY_TRACING_SAMPLE_RATIO: must be a number like 0.25" {
		t.Errorf("err = %v, want the variable named and a number asked for", err)
	}
}
