package main

// latchkey token with DPoP (RFC 9449), PAR (RFC 9126), private_key_jwt
// (RFC 7523) and resource indicators (RFC 8707), against a latchkey serve
// whose clients were made with latchkey client create.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/oauthclient"
	"github.com/latchkey/latchkey/internal/testenv"
)

const (
	apiResource   = "https://api.example"
	filesResource = "https://files.example"
)

// fapiEnv is a latchkey serve with these clients, made with client create:
//
//	svc    client_credentials, a secret, may introspect
//	keyed  client_credentials, private_key_jwt, resources api and files
//	nonce  client_credentials, a secret, DPoP-bound with server nonces
//	web    authorization_code and refresh_token, private_key_jwt, PAR required
//	spa    the same, public, without PAR required
//	site   the same, a secret
//	bank   the same, profile fapi2 (private_key_jwt, DPoP, PAR), with server nonces
//
// and the user alice.
type fapiEnv struct {
	url, storage           string
	svcSecret, nonceSecret string
	siteSecret             string
	clientKey              string // the PEM private key of keyed, web and bank
	user, password         string
}

func newFAPIEnv(t *testing.T) *fapiEnv {
	t.Helper()
	fe := &fapiEnv{storage: sqliteStorage(t), user: "alice", password: "through the looking-glass"}
	var publicKey string
	fe.clientKey, publicKey = writeECKey(t, t.TempDir(), "client")
	st := []string{"--storage", fe.storage}
	create := func(args ...string) string {
		return mustRun(t, nil, "", append(append([]string{"client", "create"}, args...), st...)...)
	}
	fe.svcSecret = printedSecret(t, create("--id", "svc", "--grant-types", "client_credentials", "--scopes", "read", "--introspection"))
	create("--id", "keyed", "--grant-types", "client_credentials", "--scopes", "read", "--token-endpoint-auth-method", "private_key_jwt",
		"--jwks-file", publicKey, "--resource", apiResource, "--resource", filesResource)
	fe.nonceSecret = printedSecret(t, create("--id", "nonce", "--grant-types", "client_credentials", "--scopes", "read",
		"--dpop-bound", "--require-dpop-nonce"))
	create("--id", "web", "--grant-types", "authorization_code,refresh_token", "--scopes", "openid,read",
		"--redirect-uris", "http://127.0.0.1/callback", "--token-endpoint-auth-method", "private_key_jwt",
		"--jwks-file", publicKey, "--require-par", "--resource", apiResource)
	create("--id", "spa", "--public", "--grant-types", "authorization_code,refresh_token", "--scopes", "openid,read",
		"--redirect-uris", "http://127.0.0.1/callback")
	fe.siteSecret = printedSecret(t, create("--id", "site", "--grant-types", "authorization_code", "--scopes", "openid,read",
		"--redirect-uris", "http://127.0.0.1/callback"))
	create("--id", "bank", "--profile", "fapi2", "--grant-types", "authorization_code,refresh_token", "--scopes", "openid,read",
		"--redirect-uris", "http://127.0.0.1/callback", "--jwks-file", publicKey, "--require-dpop-nonce")
	mustRun(t, nil, fe.password+"\n", append([]string{"user", "create", fe.user, "--password-stdin"}, st...)...)
	fe.url = startServe(t, nil, append([]string{"--listen", "127.0.0.1:0"}, st...)...).url
	return fe
}

// writeECKey writes a new P-256 key and its public key (writeKey).
func writeECKey(t *testing.T, dir, name string) (private, public string) {
	t.Helper()
	return writeKey(t, dir, name, newKey(t, "ES256"))
}

// thumbprint is the RFC 7638 thumbprint of the key in a PEM file: the
// cnf.jkt of the tokens bound to it.
func thumbprint(t *testing.T, path string) string {
	t.Helper()
	key, err := oauthclient.ReadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.Thumbprint()
}

func (fe *fapiEnv) token(t *testing.T, vars map[string]string, sub string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, vars, "", append([]string{"token", sub, "--issuer", fe.url}, args...)...)
}

func (fe *fapiEnv) mustToken(t *testing.T, sub string, args ...string) (map[string]any, cliResult) {
	t.Helper()
	r := fe.token(t, nil, sub, args...)
	if r.err != nil {
		t.Fatalf("latchkey token %s %s: %v\nstderr:\n%s", sub, strings.Join(args, " "), r.err, r.stderr)
	}
	return decodeJSON(t, r.stdout), r
}

// cnf returns the cnf.jkt of a JWT access token, "" when it has none.
func cnf(t *testing.T, claims map[string]any) string {
	t.Helper()
	c, _ := claims["cnf"].(map[string]any)
	jkt, _ := c["jkt"].(string)
	return jkt
}

// audiences is the aud claim as a list.
func audiences(claims map[string]any) []string {
	switch a := claims["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// TestTokenDPoPAndPrivateKeyJWT: client credentials with a DPoP key bind
// the token to it (RFC 9449 §6: token_type DPoP, cnf.jkt the key's
// thumbprint, shown by introspection too, §6.2); private_key_jwt works
// with a key registered with client create --jwks-file, alone and with
// DPoP; resource narrows aud (RFC 8707 §2); a client with server nonces
// gets its token after one retry (RFC 9449 §8).
func TestTokenDPoPAndPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	fe := newFAPIEnv(t)
	svc := []string{"--client-id", "svc", "--client-secret", fe.svcSecret}

	t.Run("a secret and --dpop-key FILE, created", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "dpop.pem")
		got, r := fe.mustToken(t, "client-credentials", append(svc, "--dpop-key", keyFile)...)
		if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(r.stderr, "saved a new DPoP key in "+keyFile) {
			t.Fatalf("--dpop-key with a new file: %v, stderr %q; want it created with mode 0600 and said so", err, r.stderr)
		}
		at, _ := got["access_token"].(string)
		jkt := thumbprint(t, keyFile)
		if got["token_type"] != "DPoP" || cnf(t, jwtClaims(t, at)) != jkt {
			t.Fatalf("token %v with claims %v, want token_type DPoP and cnf.jkt %s", got, jwtClaims(t, at), jkt)
		}
		info, _ := fe.mustToken(t, "introspect", append(svc, at)...)
		if c, _ := info["cnf"].(map[string]any); info["active"] != true || info["token_type"] != "DPoP" || c["jkt"] != jkt {
			t.Errorf("introspection %v, want active, token_type DPoP, cnf.jkt %s (RFC 9449 §6.2)", info, jkt)
		}
		// The same file again: the same key, and nothing said.
		got, r = fe.mustToken(t, "client-credentials", append(svc, "--dpop-key", keyFile)...)
		if cnf(t, jwtClaims(t, got["access_token"].(string))) != jkt || strings.Contains(r.stderr, "saved") {
			t.Errorf("--dpop-key with an existing file: a token bound to another key, or stderr %q", r.stderr)
		}
	})

	t.Run("--dpop, and -o token", func(t *testing.T) {
		got, _ := fe.mustToken(t, "client-credentials", append(svc, "--dpop")...)
		if got["token_type"] != "DPoP" || cnf(t, jwtClaims(t, got["access_token"].(string))) == "" {
			t.Errorf("--dpop: %v, want a DPoP token with cnf.jkt", got)
		}
		r := fe.token(t, nil, "client-credentials", append(svc, "--dpop", "-o", "token")...)
		if tok := strings.TrimSuffix(r.stdout, "\n"); r.err != nil || strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " {\n") {
			t.Errorf("--dpop -o token: %v, printed %q; want one bare JWT", r.err, r.stdout)
		}
	})

	t.Run("--private-key", func(t *testing.T) {
		got, _ := fe.mustToken(t, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey)
		claims := jwtClaims(t, got["access_token"].(string))
		if got["token_type"] != "Bearer" || claims["client_id"] != "keyed" || cnf(t, claims) != "" {
			t.Errorf("private_key_jwt: %v with claims %v, want a Bearer token of client keyed", got, claims)
		}
		// An assertion serves once: two runs in a row both work.
		fe.mustToken(t, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey, "--key-id", thumbprintKID(t, fe))
	})

	t.Run("--private-key and --dpop", func(t *testing.T) {
		got, _ := fe.mustToken(t, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey, "--dpop")
		if got["token_type"] != "DPoP" || cnf(t, jwtClaims(t, got["access_token"].(string))) == "" {
			t.Errorf("private_key_jwt with DPoP: %v, want a DPoP token", got)
		}
	})

	t.Run("--private-key at introspection and revocation", func(t *testing.T) {
		keyed := []string{"--client-id", "keyed", "--private-key", fe.clientKey}
		got, _ := fe.mustToken(t, "client-credentials", keyed...)
		at := got["access_token"].(string)
		if info, _ := fe.mustToken(t, "introspect", append(keyed, at)...); info["active"] != true {
			t.Fatalf("introspection of its own token with private_key_jwt: %v, want active", info)
		}
		if r := fe.token(t, nil, "revoke", append(keyed, at)...); r.err != nil {
			t.Fatalf("revocation with private_key_jwt: %v", r.err)
		}
		if info, _ := fe.mustToken(t, "introspect", append(keyed, at)...); info["active"] != false {
			t.Errorf("introspection after revocation: %v, want inactive", info)
		}
	})

	t.Run("another key is refused", func(t *testing.T) {
		other, _ := writeECKey(t, t.TempDir(), "other")
		r := fe.token(t, nil, "client-credentials", "--client-id", "keyed", "--private-key", other)
		if r.err == nil || !strings.Contains(r.err.Error(), "invalid_client") {
			t.Errorf("an assertion signed with an unregistered key: %v, want invalid_client", r.err)
		}
	})

	t.Run("--resource narrows aud", func(t *testing.T) {
		got, _ := fe.mustToken(t, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey, "--resource", apiResource)
		if aud := audiences(jwtClaims(t, got["access_token"].(string))); !slices.Equal(aud, []string{apiResource}) {
			t.Errorf("aud %v, want [%s] (RFC 8707 §2)", aud, apiResource)
		}
		got, _ = fe.mustToken(t, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey,
			"--resource", apiResource, "--resource", filesResource)
		if aud := audiences(jwtClaims(t, got["access_token"].(string))); !slices.Equal(aud, []string{apiResource, filesResource}) {
			t.Errorf("aud %v, want both resources", aud)
		}
		r := fe.token(t, nil, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey, "--resource", "https://other.example")
		if r.err == nil || !strings.Contains(r.err.Error(), "invalid_target") {
			t.Errorf("a resource the client may not ask for: %v, want invalid_target", r.err)
		}
	})

	t.Run("server nonces", func(t *testing.T) {
		nonce := []string{"--client-id", "nonce", "--client-secret", fe.nonceSecret}
		got, r := fe.mustToken(t, "client-credentials", append(nonce, "--dpop", "--trace")...)
		if got["token_type"] != "DPoP" {
			t.Errorf("with a nonce retry: %v, want a DPoP token", got)
		}
		for _, want := range []string{`"error": "use_dpop_nonce"`, "DPoP-Nonce: ", `"nonce":"`, "── Step 3: the server wants its nonce"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the trace lacks %q:\n%s", want, r.stderr)
			}
		}
		r = fe.token(t, nil, "client-credentials", nonce...)
		if r.err == nil || !strings.Contains(r.err.Error(), "invalid_dpop_proof") {
			t.Errorf("a DPoP-bound client without --dpop: %v, want invalid_dpop_proof (RFC 9449 §5)", r.err)
		}
	})
}

// TestTokenKeyTypes: private_key_jwt and DPoP with each kind of key the
// CLI takes: P-256 (ES256), RSA (PS256) and Ed25519 (EdDSA), registered
// with client create --jwks-file from a PEM public key. (One key does
// both only to keep the test short; keep two apart in practice.)
func TestTokenKeyTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := sqliteStorage(t)
	keys := map[string]crypto.Signer{}
	for _, alg := range []string{"ES256", "PS256", "EdDSA"} {
		key := newKey(t, alg)
		keys[alg] = key
		_, pub := writeKey(t, dir, alg, key)
		mustRun(t, nil, "", "client", "create", "--id", "c-"+alg, "--grant-types", "client_credentials", "--scopes", "read",
			"--token-endpoint-auth-method", "private_key_jwt", "--jwks-file", pub, "--storage", st)
	}
	issuer := startServe(t, nil, "--listen", "127.0.0.1:0", "--storage", st).url
	for alg := range keys {
		t.Run(alg, func(t *testing.T) {
			key := filepath.Join(dir, alg+".pem")
			r := runCLI(t, nil, "", "token", "client-credentials", "--issuer", issuer, "--client-id", "c-"+alg,
				"--private-key", key, "--dpop-key", key, "--trace")
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.stderr)
			}
			got := decodeJSON(t, r.stdout)
			if got["token_type"] != "DPoP" || cnf(t, jwtClaims(t, got["access_token"].(string))) != thumbprint(t, key) {
				t.Errorf("%v, want a DPoP token bound to the key", got)
			}
			if !strings.Contains(r.stderr, `"alg":"`+alg+`"`) {
				t.Errorf("the trace shows no %s assertion or proof:\n%s", alg, r.stderr)
			}
		})
	}
}

func newKey(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "PS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// writeKey writes key as PKCS#8 and its public key as PKIX, both PEM,
// and returns their paths.
func writeKey(t *testing.T, dir, name string, key crypto.Signer) (private, public string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	private, public = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub.pem")
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	return private, public
}

// thumbprintKID is the kid client create gave the key of --jwks-file: its
// thumbprint.
func thumbprintKID(t *testing.T, fe *fapiEnv) string {
	t.Helper()
	show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "keyed", "--storage", fe.storage))
	set, _ := show["jwks"].(map[string]any)
	keys, _ := set["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("client show keyed: jwks %v, want one key", show["jwks"])
	}
	kid, _ := keys[0].(map[string]any)["kid"].(string)
	if kid != thumbprint(t, fe.clientKey) {
		t.Fatalf("the kid of the registered key is %q, want the key's thumbprint", kid)
	}
	return kid
}

// jwsRE matches a whole compact JWS.
var jwsRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// TestTokenTraceShowsProofsAndAssertions: --trace shows what the DPoP
// proof and the client assertion say, decoded, but neither of them nor
// the access token whole (A9).
func TestTokenTraceShowsProofsAndAssertions(t *testing.T) {
	t.Parallel()
	fe := newFAPIEnv(t)
	got, r := fe.mustToken(t, "client-credentials", "--client-id", "keyed", "--private-key", fe.clientKey, "--dpop", "--trace")
	for _, want := range []string{
		"DPoP: eyJ", "DPoP proof, decoded (signature left out):", `"typ":"dpop+jwt"`, `"htm":"POST"`, `"htu":"` + fe.url + `/token"`,
		"client_assertion=eyJ", "client assertion, decoded (signature left out):", `"iss":"keyed"`, `"sub":"keyed"`, `"aud":"` + fe.url + `"`,
		`"token_type": "DPoP"`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the trace lacks %q", want)
		}
	}
	if strings.Contains(r.stderr, got["access_token"].(string)) {
		t.Error("the trace shows the whole access token")
	}
	if m := jwsRE.FindString(r.stderr); m != "" {
		t.Errorf("the trace shows a whole JWS: %s", m)
	}
	if t.Failed() {
		t.Logf("trace:\n%s", r.stderr)
	}
}

// TestTokenAuthorizationCodePARAndDPoP: the code flow pushed to the PAR
// endpoint (RFC 9126) by a private_key_jwt client with a DPoP key, walked
// headless through the login and consent pages: the browser sees only
// client_id and request_uri, the code is bound to the key (RFC 9449
// §10.1), and a refresh with the same --dpop-key keeps the binding. A
// public client's refresh token is bound to its key: another key cannot
// use it (RFC 9449 §5, S164).
func TestTokenAuthorizationCodePARAndDPoP(t *testing.T) {
	t.Parallel()
	fe := newFAPIEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dpop.pem")
	web := []string{"--client-id", "web", "--private-key", fe.clientKey, "--dpop-key", keyFile}

	got, authURL := fe.signIn(t, append(web, "--par", "--scope", "openid read", "--resource", apiResource)...)
	if q := authURL.Query(); len(q) != 2 || q.Get("client_id") != "web" || !strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Errorf("the browser was sent to %s, want only client_id and a request_uri (RFC 9126 §4)", authURL)
	}
	jkt := thumbprint(t, keyFile)
	claims := jwtClaims(t, got["access_token"].(string))
	if got["token_type"] != "DPoP" || cnf(t, claims) != jkt || !slices.Equal(audiences(claims), []string{apiResource}) {
		t.Fatalf("code flow: %v with claims %v, want token_type DPoP, cnf.jkt %s and aud %s", got, claims, jkt, apiResource)
	}
	if got["id_token"] == nil || got["refresh_token"] == nil {
		t.Fatalf("code flow: %v, want ID and refresh tokens", got)
	}
	refreshed, _ := fe.mustToken(t, "refresh", append(web, got["refresh_token"].(string))...)
	if claims := jwtClaims(t, refreshed["access_token"].(string)); refreshed["token_type"] != "DPoP" || cnf(t, claims) != jkt {
		t.Errorf("refresh with the same --dpop-key: %v with claims %v, want a DPoP token bound to %s", refreshed, claims, jkt)
	}

	// A secret in Basic at the PAR endpoint, and --dpop.
	got, authURL = fe.signIn(t, "--client-id", "site", "--client-secret", fe.siteSecret, "--par", "--dpop", "--scope", "read")
	if authURL.Query().Get("request_uri") == "" || got["token_type"] != "DPoP" {
		t.Errorf("PAR with client_secret_basic: URL %s and token %v, want a request_uri and a DPoP token", authURL, got)
	}

	// A public client, without PAR: the code is bound with dpop_jkt.
	spaKey := filepath.Join(dir, "spa.pem")
	spa := []string{"--client-id", "spa", "--dpop-key", spaKey}
	got, authURL = fe.signIn(t, append(spa, "--scope", "openid read")...)
	if authURL.Query().Get("dpop_jkt") != thumbprint(t, spaKey) || got["token_type"] != "DPoP" {
		t.Fatalf("public client: URL %s and token %v, want dpop_jkt and a DPoP token", authURL, got)
	}
	other := filepath.Join(dir, "other.pem")
	r := fe.token(t, nil, "refresh", "--client-id", "spa", "--dpop-key", other, got["refresh_token"].(string))
	if r.err == nil || !strings.Contains(r.err.Error(), "invalid_grant") {
		t.Errorf("a public client's refresh token with another DPoP key: %v, want invalid_grant", r.err)
	}
	if _, r := fe.mustToken(t, "refresh", append(spa, got["refresh_token"].(string))...); !strings.Contains(r.stdout, `"DPoP"`) {
		t.Errorf("refresh with the same key: %s", r.stdout)
	}
}

// TestTokenFAPI2Client: a client made with client create --profile fapi2
// gets through the whole flow the profile demands (PAR, private_key_jwt,
// DPoP with server nonces), and its refresh token is reused, not rotated
// (FAPI 2.0 §5.3.2.1).
func TestTokenFAPI2Client(t *testing.T) {
	t.Parallel()
	fe := newFAPIEnv(t)
	keyFile := filepath.Join(t.TempDir(), "dpop.pem")
	bank := []string{"--client-id", "bank", "--private-key", fe.clientKey, "--dpop-key", keyFile}
	got, _ := fe.signIn(t, append(bank, "--par", "--scope", "openid read")...)
	jkt := thumbprint(t, keyFile)
	if got["token_type"] != "DPoP" || cnf(t, jwtClaims(t, got["access_token"].(string))) != jkt {
		t.Fatalf("fapi2 code flow: %v, want a DPoP token bound to %s", got, jkt)
	}
	if h := jwtHeader(t, got["id_token"].(string)); h["alg"] == "RS256" {
		t.Errorf("fapi2 ID token signed %v, RS256 is not allowed (FAPI 2.0 §5.4)", h["alg"])
	}
	rt := got["refresh_token"].(string)
	for i := range 2 {
		refreshed, _ := fe.mustToken(t, "refresh", append(bank, rt)...)
		if refreshed["token_type"] != "DPoP" || refreshed["refresh_token"] != rt {
			t.Fatalf("refresh %d: %v, want a DPoP token and the same refresh token (no rotation under fapi2)", i+1, refreshed)
		}
	}
	// The profile refuses what it forbids: no DPoP, no PAR.
	r := fe.token(t, nil, "client-credentials", "--client-id", "bank", "--private-key", fe.clientKey)
	if r.err == nil {
		t.Error("a fapi2 client got a client credentials token it is not registered for")
	}
	r = fe.token(t, nil, "refresh", "--client-id", "bank", "--private-key", fe.clientKey, rt)
	if r.err == nil || !strings.Contains(r.err.Error(), "invalid_dpop_proof") {
		t.Errorf("a fapi2 refresh without DPoP: %v, want invalid_dpop_proof", r.err)
	}
}

// jwtHeader decodes the protected header of a JWT without verifying it.
func jwtHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	return jwtClaims(t, "x."+h+".y")
}

// signIn runs "latchkey token authorization-code args..." on a loopback
// redirect URI, walks the printed URL headless as alice (testenv.Walker
// checks every step), lets the browser reach the command's callback, and
// returns the token response and the URL the browser was sent to.
func (fe *fapiEnv) signIn(t *testing.T, args ...string) (map[string]any, *url.URL) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	ln.Close() // the command listens there
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := startCodeCommand(t, ctx, fe.url, nil, append([]string{"--redirect-uri", redirect}, args...)...)
	w := testenv.Walker(nil, fe.user, fe.password)
	w.RedirectURI = redirect
	res, err := w.Walk(ctx, cmd.URL.String())
	if err != nil {
		t.Fatalf("the headless sign-in: %v\ncommand's stderr:\n%s", err, cmd.stderr.String())
	}
	if res.Code == "" {
		t.Fatalf("the sign-in ended at %s (%s), want a code", res.Location, res.Error)
	}
	resp, err := http.Get(res.Location.String()) // the browser reaches the command's callback
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return cmd.wait(t), cmd.URL
}

// TestTokenFAPIFlagMistakes: combinations that cannot work are usage
// errors (exit status 2), found before any request.
func TestTokenFAPIFlagMistakes(t *testing.T) {
	t.Parallel()
	key, _ := writeECKey(t, t.TempDir(), "client")
	issuer := "http://127.0.0.1:9" // nothing listens: no request may be needed to refuse these
	for _, tc := range []struct {
		vars map[string]string
		args []string
		want string
	}{
		{nil, []string{"client-credentials", "--client-id", "c", "--private-key", key, "--client-secret", "s"}, "give one of them"},
		{map[string]string{"LATCHKEY_CLIENT_SECRET": "s"}, []string{"client-credentials", "--client-id", "c", "--private-key", key}, "unset it"},
		{nil, []string{"client-credentials", "--client-id", "c", "--private-key", key, "--auth-method", "post"}, "--auth-method"},
		{nil, []string{"client-credentials", "--client-id", "c", "--client-secret", "s", "--key-id", "k1"}, "--key-id names the key of --private-key"},
		{nil, []string{"client-credentials", "--client-id", "c", "--client-secret", "s", "--par"}, "authorization-code only"},
		{nil, []string{"introspect", "--client-id", "c", "--client-secret", "s", "--dpop", "TOKEN"}, "--dpop is for requests that get tokens"},
		{nil, []string{"revoke", "--client-id", "c", "--client-secret", "s", "--resource", apiResource, "TOKEN"}, "--resource is for requests"},
		{nil, []string{"client-credentials", "--client-id", "c", "--client-secret", "s", "--resource", "api"}, "absolute URI"},
		{nil, []string{"client-credentials", "--client-id", "c", "--client-secret", "s", "--resource", ""}, "must not be empty"},
	} {
		r := runCLI(t, tc.vars, "", append([]string{"token", tc.args[0], "--issuer", issuer}, tc.args[1:]...)...)
		var ue usageError
		if !errors.As(r.err, &ue) || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("token %v: %v, want a usage error saying %q", tc.args, r.err, tc.want)
		}
	}
	// Files that are not keys are errors naming the file (exit status 1).
	notKey := filepath.Join(t.TempDir(), "not-a-key.pem")
	if err := os.WriteFile(notKey, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--private-key", filepath.Join(t.TempDir(), "missing.pem")},
		{"--private-key", notKey},
		{"--client-secret", "s", "--dpop-key", notKey},
	} {
		r := runCLI(t, nil, "", append([]string{"token", "client-credentials", "--issuer", issuer, "--client-id", "c"}, args...)...)
		var ue usageError
		if r.err == nil || errors.As(r.err, &ue) || !strings.Contains(r.err.Error(), args[len(args)-1]) {
			t.Errorf("token client-credentials %v: %v, want an error naming the file", args, r.err)
		}
	}
	// Through the real binary: status 2.
	cmd := exec.Command(binary.Path(t), "token", "client-credentials", "--issuer", issuer, "--client-id", "c", "--private-key", key, "--client-secret", "s")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if exitCode(err) != 2 || !strings.Contains(string(out), "--private-key") {
		t.Errorf("--private-key with --client-secret: exit %d, output %q; want 2 and the reason", exitCode(err), out)
	}
}
