package oauth4webapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// binary is the latchkey program, built once per test binary.
var binary testenv.Binary

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Remove()
	os.Exit(code)
}

// The user the tests sign in as, and the redirect URI of the code-flow
// clients: a loopback URL nobody listens on, read from the Location header.
const (
	username    = "alice"
	userPass    = "wonderland-e2e"
	redirectURI = "http://127.0.0.1:9/cb"
	// initialAccessToken allows registering clients (registration.test.mjs).
	initialAccessToken = "lk_iat_oauth4webapi-e2e-initial-access-token"
)

// The client ids of the configuration; the tests find their private keys
// under these names in LATCHKEY_KEYS.
var clientIDs = []string{"svc-jwt", "svc-nonce", "web", "web-nonce", "fapi", "box"}

// TestOAuth4WebAPI runs the node:test files of this directory against a
// real Latchkey and fails with node's output when any of them fails.
func TestOAuth4WebAPI(t *testing.T) {
	node, npm := needNode(t)
	// device.test.mjs waits for a device code to expire: a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	npmCI(t, ctx, npm)

	// 1. Key pairs made by the client side (keys.mjs); the public halves
	// go into the configuration, one client's through a jwks_uri.
	out, err := exec.CommandContext(ctx, node, append([]string{"keys.mjs"}, clientIDs...)...).Output()
	if err != nil {
		t.Fatalf("node keys.mjs: %v\n%s", err, stderrOf(err))
	}
	var keys map[string]struct{ Public map[string]any }
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatalf("node keys.mjs printed %q: %v", out, err)
	}
	jwksURI := serveJWKS(t, keys["svc-nonce"].Public)

	// 2. The server.
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "latchkey.yaml")
	writeYAML(t, cfgPath, serverConfig(dir, jwksURI, func(id string) map[string]any {
		return map[string]any{"keys": []any{keys[id].Public}}
	}))
	issuer, logs := serve(t, cfgPath)
	browser := serveBrowser(t)

	// 3. The client tests.
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec")
	cmd.Env = append(environ(),
		"LATCHKEY_ISSUER="+issuer,
		"LATCHKEY_USERNAME="+username,
		"LATCHKEY_PASSWORD="+userPass,
		"LATCHKEY_REDIRECT_URI="+redirectURI,
		"LATCHKEY_KEYS="+string(out),
		"LATCHKEY_BROWSER="+browser,
		"LATCHKEY_INITIAL_ACCESS_TOKEN="+initialAccessToken,
	)
	start := time.Now()
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed (%v) after %s:\n%s\nserver warnings and errors:\n%s",
			err, time.Since(start).Round(time.Millisecond), res, warnings(logs.String()))
	}
	t.Logf("node --test passed in %s:\n%s", time.Since(start).Round(time.Millisecond), res)
}

// needNode returns the paths of node and npm, skipping the test when one
// is missing, or failing it under CI=true.
func needNode(t *testing.T) (node, npm string) {
	t.Helper()
	var err error
	if node, err = exec.LookPath("node"); err == nil {
		npm, err = exec.LookPath("npm")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are needed for the oauth4webapi tests: %v", err)
		}
		t.Skipf("skipping the oauth4webapi client tests: %v (apt-get install nodejs npm)", err)
	}
	return node, npm
}

// npmCI installs the locked packages unless node_modules already holds
// exactly what package-lock.json names (a stamp keeps the lock's digest).
func npmCI(t *testing.T, ctx context.Context, npm string) {
	t.Helper()
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	digest := hex.EncodeToString(sum[:])
	stamp := filepath.Join("node_modules", ".latchkey-lock-sha256")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == digest {
		return
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Env = environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	if err := os.WriteFile(stamp, []byte(digest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// environ is this process's environment without LATCHKEY_* variables.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCHKEY_") {
			env = append(env, kv)
		}
	}
	return env
}

// serveJWKS publishes a JWK Set holding key on a loopback URL, as a
// client's jwks_uri.
func serveJWKS(t *testing.T, key map[string]any) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"keys": []any{key}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/jwks.json"
}

// deviceDoneRE finds the outcome on the last device page.
var deviceDoneRE = regexp.MustCompile(`<h1 id="device-done">([^<]*)</h1>`)

// serveBrowser is the user's browser for device.test.mjs, which cannot
// be in the device: a POST of verification_uri, user_code (empty when the
// URI carries it) and decision (approve or deny) makes it do the user's
// part on Latchkey's /device pages, reading each form as a browser does
// (formflow), and it answers with the heading of the page it ended on, or
// 502 and why it could not.
func serveBrowser(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		walker := &formflow.Walker{Username: username, Password: userPass}
		page, err := walker.Device(r.Context(), r.PostFormValue("verification_uri"), r.PostFormValue("user_code"),
			r.PostFormValue("decision") == "approve")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		heading := deviceDoneRE.FindSubmatch(page)
		if heading == nil {
			http.Error(w, "the walk ended on a page without the device-done heading:\n"+string(page), http.StatusBadGateway)
			return
		}
		_, _ = w.Write(heading[1])
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// serverConfig is the configuration the client tests expect: what each
// client is for is in the comment beside it. jwks gives a client's
// inline JWK Set.
func serverConfig(dir, jwksURI string, jwks func(id string) map[string]any) config.Config {
	c := config.Default()
	c.Listen = "127.0.0.1:0" // the issuer follows the port
	c.Storage = config.StorageURL("sqlite://" + filepath.Join(dir, "latchkey.db"))
	c.Secrets.System = "oauth4webapi-e2e-system-secret-0123456789"
	c.Log = config.Log{Level: "info", Format: "json"}
	c.Passwords = config.Argon2{MemoryKiB: 8192, Iterations: 1, Parallelism: 1}
	c.ClientAssertions.AllowLoopbackJWKS = true
	// The device grant: polls every second, and codes that expire within
	// the run (the shortest lifetime config validate accepts).
	c.Device = config.Device{CodeLifetime: config.Duration(time.Minute), Interval: config.Duration(time.Second)}
	const pkjwt = "private_key_jwt"
	api := []string{"https://api.example.com/", "https://files.example.com/"}
	code := []string{"authorization_code", "refresh_token"}
	const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
	c.Clients = []config.Client{
		// client credentials with private_key_jwt and DPoP; resource indicators;
		// it may introspect
		{ID: "svc-jwt", TokenEndpointAuthMethod: pkjwt, JWKS: jwks("svc-jwt"), Introspection: true,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}, Resources: api},
		// the same, with server nonces required and keys at a jwks_uri
		{ID: "svc-nonce", TokenEndpointAuthMethod: pkjwt, JWKSURI: jwksURI, RequireDPoPNonce: true,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}},
		// the code flow with PAR, DPoP and PKCE; the consent page is shown
		{ID: "web", Name: "Web", TokenEndpointAuthMethod: pkjwt, JWKS: jwks("web"), RedirectURIs: []string{redirectURI},
			GrantTypes: code, Scopes: []string{"openid", "profile", "read"}, Resources: api},
		// the code flow with server nonces at PAR, /token and /userinfo
		{ID: "web-nonce", TokenEndpointAuthMethod: pkjwt, JWKS: jwks("web-nonce"), RedirectURIs: []string{redirectURI},
			GrantTypes: code, Scopes: []string{"openid", "read"}, SkipConsent: true, RequireDPoPNonce: true},
		// a public client: its refresh tokens are bound to its DPoP key
		{ID: "spa", Public: true, RedirectURIs: []string{redirectURI},
			GrantTypes: code, Scopes: []string{"openid", "read"}, SkipConsent: true},
		// the FAPI 2.0 profile: PAR, private_key_jwt and DPoP required
		{ID: "fapi", Name: "FAPI", Profile: "fapi2", JWKS: jwks("fapi"), RedirectURIs: []string{redirectURI},
			GrantTypes: code, Scopes: []string{"openid", "read"}, SkipConsent: true},
		// the device grant, a public client that may refresh
		{ID: "tv", Name: "Living Room TV", Public: true, GrantTypes: []string{deviceGrant, "refresh_token"},
			Scopes: []string{"openid", "read", "offline_access"}},
		// the device grant, a confidential client with private_key_jwt
		{ID: "box", Name: "Set-top Box", TokenEndpointAuthMethod: pkjwt, JWKS: jwks("box"),
			GrantTypes: []string{deviceGrant}, Scopes: []string{"read"}},
	}
	c.Users = []config.User{{Username: username, Password: userPass, Claims: map[string]any{"name": "Alice"}}}
	// Dynamic client registration (RFC 7591) with an initial access token.
	c.Registration.Enabled = true
	c.Registration.InitialAccessTokens = []config.Secret{initialAccessToken}
	c.Registration.Policy.Scopes = []string{"openid", "read"}
	c.Registration.Policy.Resources = []string{"https://mcp.example.com/mcp"}
	return c
}

func writeYAML(t *testing.T, path string, c config.Config) {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serve starts latchkey serve with the configuration and returns its
// issuer, once /healthz answers, and its log; it is stopped when the test
// ends.
func serve(t *testing.T, cfgPath string) (string, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	cmd := exec.Command(binary.Path(t), "serve", "--config", cfgPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(cfgPath)}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if strings.Contains(logs.String(), "panic") {
			t.Errorf("latchkey serve logged a panic:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if addr := testenv.ListeningAddr(logs.String()); addr != "" {
			issuer := "http://" + addr
			if err := testkit.WaitHealthy(issuer, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			return issuer, logs
		}
		select {
		case <-done:
			t.Fatalf("latchkey serve exited before listening:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("latchkey serve did not listen within 20 s:\n%s", logs.String())
		}
	}
}

// warnings are the log lines of level WARN or ERROR, and the reasons
// client assertions were refused.
func warnings(logs string) string {
	var b bytes.Buffer
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) ||
			strings.Contains(line, "client assertion refused") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// stderrOf is what a failed command wrote to standard error.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
