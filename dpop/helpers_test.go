package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// endpoint is the URL the tests' proofs are made for.
const endpoint = "https://api.example/notes"

// t0 is the tests' fixed clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// prover returns a Prover of key on the fixed clock.
func prover(t testing.TB, key crypto.Signer) *dpop.Prover {
	t.Helper()
	p, err := dpop.NewProver(key)
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return t0 }
	return p
}

// claims are a valid proof's claims for GET endpoint at t0; edits set or,
// with a nil value, delete members.
func claims(edits map[string]any) map[string]any {
	c := map[string]any{"jti": "jti-" + rand.Text(), "htm": "GET", "htu": endpoint, "iat": t0.Unix()}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign makes a proof with go-jose: typed dpop+jwt with key's public JWK
// embedded unless header says otherwise (a nil value deletes a member).
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, header map[jose.HeaderKey]any, c any) string {
	t.Helper()
	embed := true
	opts := &jose.SignerOptions{}
	opts.WithType("dpop+jwt")
	for k, v := range header {
		switch {
		case k == "jwk" && v == nil:
			embed = false
		case v == nil:
			delete(opts.ExtraHeaders, k)
		default:
			opts.WithHeader(k, v)
		}
	}
	if _, own := header["jwk"]; own {
		embed = false
	}
	opts.EmbedJWK = embed
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compact assembles a JWS by hand, for what go-jose refuses to sign.
func compact(t testing.TB, header, c any, sig []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + enc(sig)
}

// publicJWK is the JSON object of key's public JWK.
func publicJWK(t testing.TB, key crypto.Signer) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// privateJWK is the JSON object of key's JWK, private members included.
func privateJWK(t testing.TB, key crypto.Signer) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// check is the request the proofs are checked against.
func check(edit func(*dpop.Check)) dpop.Check {
	c := dpop.Check{Method: "GET", URL: endpoint, Now: t0}
	if edit != nil {
		edit(&c)
	}
	return c
}

// wantCode checks that err is a *dpop.Error with code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var de *dpop.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *dpop.Error", err, err)
	}
	if de.Code != code {
		t.Fatalf("code %q (%v), want %q", de.Code, err, code)
	}
}

// failingCache is a replay cache whose backend is down.
type failingCache struct{}

func (failingCache) UseOnce(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store unavailable")
}
