package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// The benchmarks run the full handler (middleware, routing, client
// authentication, the grant, the store) through httptest.NewRecorder, so
// they measure Latchkey without TCP; BenchmarkClientCredentialsHTTP adds
// the loopback connection. Run with -benchmem.

type benchFixture struct {
	*fixture
	secrets map[string]string
}

func newBenchFixture(b *testing.B) benchFixture {
	return newBenchFixtureWith(b, nil)
}

// newBenchFixtureWith is newBenchFixture with configure applied after
// generous limits.
func newBenchFixtureWith(b *testing.B, configure func(*server.Config)) benchFixture {
	f := benchFixture{fixture: newFixture(b, func(c *server.Config) {
		generous(c)
		if configure != nil {
			configure(c)
		}
	}), secrets: map[string]string{}}
	for _, c := range []store.Client{
		{ID: "jwt", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
		{ID: "opaque", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, AccessTokenFormat: "opaque"},
		{ID: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}},
		{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true},
	} {
		f.secrets[c.ID] = f.AddClient(b, c)
	}
	f.AddUser(b, "alice", "wonderland", nil)
	return f
}

// serve runs one form POST through the handler and returns the recorder.
func (f benchFixture) serve(b *testing.B, path, client string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(f.secrets[client]))
	rec := httptest.NewRecorder()
	f.Server.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return rec
}

// cpuMeter reports the process's CPU time (user + system) and minor page
// faults per iteration: on a machine shared with other work they move far
// less than the wall time does, so A/B comparisons use them.
type cpuMeter struct{ start syscall.Rusage }

func startCPU() *cpuMeter {
	m := &cpuMeter{}
	syscall.Getrusage(syscall.RUSAGE_SELF, &m.start)
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	var end syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &end)
	ns := syscall.TimevalToNsec(end.Utime) + syscall.TimevalToNsec(end.Stime) -
		syscall.TimevalToNsec(m.start.Utime) - syscall.TimevalToNsec(m.start.Stime)
	b.ReportMetric(float64(ns)/1e3/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(end.Minflt-m.start.Minflt)/float64(b.N), "minflt/op")
}

func (f benchFixture) tokenField(b *testing.B, rec *httptest.ResponseRecorder, name string) string {
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		b.Fatal(err)
	}
	return body[name].(string)
}

func BenchmarkClientCredentialsJWT(b *testing.B) {
	f := newBenchFixture(b)
	form := formOf("grant_type", "client_credentials")
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "jwt", form)
	}
}

func BenchmarkClientCredentialsOpaque(b *testing.B) {
	f := newBenchFixture(b)
	form := formOf("grant_type", "client_credentials")
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "opaque", form)
	}
}

func BenchmarkPassword(b *testing.B) {
	f := newBenchFixture(b)
	form := formOf("grant_type", "password", "username", "alice", "password", "wonderland")
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "app", form)
	}
}

func BenchmarkRefresh(b *testing.B) {
	f := newBenchFixture(b)
	rec := f.serve(b, "/token", "app", formOf("grant_type", "password", "username", "alice", "password", "wonderland"))
	rt := f.tokenField(b, rec, "refresh_token")
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		rec := f.serve(b, "/token", "app", formOf("grant_type", "refresh_token", "refresh_token", rt))
		b.StopTimer()
		rt = f.tokenField(b, rec, "refresh_token")
		b.StartTimer()
	}
	cpu.report(b)
}

func BenchmarkIntrospectJWT(b *testing.B) {
	f := newBenchFixture(b)
	at := f.tokenField(b, f.serve(b, "/token", "jwt", formOf("grant_type", "client_credentials")), "access_token")
	form := formOf("token", at)
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/introspect", "rs", form)
	}
}

// BenchmarkClientCredentialsHTTP is the client credentials grant over a
// real loopback connection (kept alive), as a client sees it.
func BenchmarkClientCredentialsHTTP(b *testing.B) {
	f := newBenchFixture(b)
	body := formOf("grant_type", "client_credentials").Encode()
	client := f.Server.Client()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, f.URL+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("jwt", f.secrets["jwt"])
		r := do(b, client, req)
		if r.Status != http.StatusOK {
			b.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}

// BenchmarkAuthorizationCodeFlow is the whole code flow over loopback
// HTTP, as a browser and a client run it: GET /authorize, the login page,
// its POST, the consent page, its POST, the redirect with the code, and the
// code's exchange at /token (with an ID token, RS256 by default). Every
// iteration signs in afresh (a new cookie jar): one argon2id check each.
func BenchmarkAuthorizationCodeFlow(b *testing.B) {
	s := newAZ(b, testenv.Options{})
	b.ReportAllocs()
	for b.Loop() {
		params, verifier := azParams("web")
		code := s.browser(b).code(params)
		r, tok := azRedeem(b, s.Env, "web", s.secret, code, verifier)
		if r.status != http.StatusOK || tok.IDToken == "" {
			b.Fatalf("redeem: %d %s", r.status, r.body)
		}
	}
}

// BenchmarkAuthorizationCodeSession is the flow of a user who is signed
// in and has consented before: /authorize answers with the code at once.
func BenchmarkAuthorizationCodeSession(b *testing.B) {
	s := newAZ(b, testenv.Options{})
	br := s.browser(b)
	params, _ := azParams("web")
	br.code(params) // sign in and consent once
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		params, verifier := azParams("web")
		code := br.code(params)
		if r, _ := azRedeem(b, s.Env, "web", s.secret, code, verifier); r.status != http.StatusOK {
			b.Fatalf("redeem: %d %s", r.status, r.body)
		}
	}
	cpu.report(b)
}

// BenchmarkDevicePoll is a device's poll while the user has not decided
// (RFC 8628 §3.5): a public client's authentication, the one store round
// trip that records the poll and checks its interval, and the
// authorization_pending answer. Every device polls every few seconds for
// minutes, so this is the grant's hot path. The benchmark is 64 devices of
// one app polling in turn, each at its interval: the clock moves on by a
// 64th of the interval before each poll.
func BenchmarkDevicePoll(b *testing.B) {
	const devices = 64
	s := newDV(b, func(c *server.Config) {
		generous(c)
		c.Device.CodeLifetime = 100 * 365 * 24 * time.Hour // outlives any run
	})
	bodies := make([]string, devices)
	for i := range bodies {
		a := s.tvAuthorize(b, "read")
		bodies[i] = formOf("grant_type", protocol.GrantDeviceCode, "device_code", a.DeviceCode, "client_id", "tv").Encode()
	}
	h := s.Server.Config.Handler
	step := s.Config.Device.Interval / devices
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		s.Clock.Advance(step)
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(bodies[i%devices]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"authorization_pending"`) {
			b.Fatalf("poll %d: %d %s", i, rec.Code, rec.Body)
		}
		i++
	}
}

// BenchmarkTokenExchange is token exchange (RFC 8693) in its main use: a
// service trades a user's JWT access token (from the password grant, so
// it rests on a grant) for a JWT access token to another API, with the
// client named as actor. Each exchange verifies the subject, reads its
// revocation state, grant and user, and stores the child grant.
func BenchmarkTokenExchange(b *testing.B) {
	f := newBenchFixture(b)
	f.secrets["svc"] = f.AddClient(b, store.Client{ID: "svc", GrantTypes: []string{protocol.GrantTokenExchange},
		Scopes: []string{"read"}, Resources: []string{"https://notes.example.com"},
		TokenExchange: store.ExchangePolicy{AllowedSubjectClients: []string{"app"}}})
	rec := f.serve(b, "/token", "app", formOf("grant_type", "password", "username", "alice", "password", "wonderland"))
	form := formOf("grant_type", protocol.GrantTokenExchange, "subject_token", f.tokenField(b, rec, "access_token"),
		"subject_token_type", protocol.TokenTypeAccessToken)
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "svc", form)
	}
}

// BenchmarkClientCredentialsJWTTraced is BenchmarkClientCredentialsJWT
// with tracing on, every trace sampled, and the spans dropped rather
// than exported: the cost of the instrumentation itself.
func BenchmarkClientCredentialsJWTTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { tp.Shutdown(b.Context()) })
	f := benchFixture{fixture: newFixtureOpts(b, testenv.Options{Configure: generous, Tracing: tp}), secrets: map[string]string{}}
	f.secrets["jwt"] = f.AddClient(b, store.Client{ID: "jwt", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	form := formOf("grant_type", "client_credentials")
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "jwt", form)
	}
}
