package clientjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
)

// fuzzNow is the fuzz verifier's clock: the committed seeds in
// testdata/fuzz/FuzzVerify were signed for it with fuzzKeys.
func fuzzNow() time.Time { return time.Unix(1_800_000_000, 0) }

// fuzzKeys are fixed keys, so that the committed corpus holds assertions
// that verify.
func fuzzKeys(t testing.TB) (ed, ec testKey) {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	d := make([]byte, 32)
	d[31] = 7
	p, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	return keyOf(jose.EdDSA, ed25519.NewKeyFromSeed(seed), "ed"), keyOf(jose.ES256, p, "")
}

// alwaysFirst is a ReplayCache that forgets: fuzzing explores the parser,
// and a seed must verify however often it runs.
type alwaysFirst struct{}

func (alwaysFirst) UseOnce(context.Context, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

// fuzzVerifier verifies for fuzzKeys' client at fuzzNow.
func fuzzVerifier(t testing.TB) (*clientjwt.Verifier, clientjwt.Client, testKey, testKey) {
	ed, ec := fuzzKeys(t)
	now := fuzzNow
	v := &clientjwt.Verifier{
		Keys:   clientjwt.NewKeys(clientjwt.KeysConfig{Now: now}),
		Issuer: issuer, EndpointURLs: []string{tokenURL},
		Replay: alwaysFirst{}, Now: now,
	}
	return v, clientjwt.Client{ID: clientA, JWKS: jwksOf(t, ed, ec)}, ed, ec
}

// TestFuzzSeedsVerify keeps the committed corpus meaningful: its valid_*
// seeds verify, so the fuzzer starts from accepted assertions too.
func TestFuzzSeedsVerify(t *testing.T) {
	v, client, _, _ := fuzzVerifier(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzVerify", "valid_*"))
	if len(files) == 0 {
		t.Fatal("no valid seeds in testdata/fuzz/FuzzVerify")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[1])
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := v.Verify(context.Background(), raw, client); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzVerify feeds arbitrary assertions to Verify and UnsafeSubject: they
// must never panic, Verify must refuse with an *Error only, and whatever
// it accepts must name the client (UnsafeSubject agreeing).
func FuzzVerify(f *testing.F) {
	v, client, ed, ec := fuzzVerifier(f)
	claims := map[string]any{"iss": clientA, "sub": clientA, "aud": issuer, "exp": fuzzNow().Add(time.Minute).Unix(), "jti": "seed"}
	for _, seed := range []string{
		ed.sign(f, nil, claims),
		ec.sign(f, map[jose.HeaderKey]any{"typ": "client-authentication+jwt"}, claims),
		unsigned(map[string]any{"alg": "none"}, claims, ""),
		"", "a.b.c", "a.b.c.d.e", "e30.e30.e30",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := v.Verify(context.Background(), raw, client)
		sub, ok := clientjwt.UnsafeSubject(raw)
		if err != nil {
			var e *clientjwt.Error
			if !errors.As(err, &e) || e.Description == "" {
				t.Fatalf("Verify: %T %v", err, err)
			}
			return
		}
		if !ok || sub != clientA {
			t.Fatalf("accepted an assertion whose subject is %q, %v", sub, ok)
		}
	})
}
