package oauthclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestParsePrivateKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8 := func(k any) []byte { b, _ := x509.MarshalPKCS8PrivateKey(k); return b }
	pub, _ := x509.MarshalPKIXPublicKey(ec.Public())
	for _, tc := range []struct {
		name, typ string
		der       []byte
		wantAlg   jose.SignatureAlgorithm
		wantErr   string
	}{
		{"PKCS#8 EC", "PRIVATE KEY", pkcs8(ec), jose.ES256, ""},
		{"SEC 1 EC", "EC PRIVATE KEY", sec1, jose.ES256, ""},
		{"PKCS#1 RSA", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs), jose.PS256, ""},
		{"PKCS#8 Ed25519", "PRIVATE KEY", pkcs8(ed), jose.EdDSA, ""},
		{"a public key", "PUBLIC KEY", pub, "", "not a private key"},
		{"encrypted", "ENCRYPTED PRIVATE KEY", []byte{1}, "", "encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: tc.typ, Bytes: tc.der}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if alg, err := AssertionAlg(key); err != nil || alg != tc.wantAlg {
				t.Errorf("AssertionAlg = %s, %v; want %s", alg, err, tc.wantAlg)
			}
		})
	}
	if _, err := ParsePrivateKey([]byte("not PEM")); err == nil {
		t.Error("not PEM: no error")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, k := range []crypto.Signer{p384, small} {
		if _, err := AssertionAlg(k); err == nil {
			t.Errorf("AssertionAlg(%T) accepted a key it should refuse", k)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dpop.pem")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("a new file: created %v, %v", created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the new key's mode: %v, %v; want 0600", fi.Mode(), err)
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !k1.(*ecdsa.PrivateKey).Equal(k2) {
		t.Fatalf("the same file again: created %v, %v, same key %v", created, err, k1.(*ecdsa.PrivateKey).Equal(k2))
	}
	if _, _, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "no-such-dir", "k.pem")); err == nil {
		t.Error("a file in a missing directory: no error")
	}
}

// An assertion says iss = sub = client_id, aud = the issuer, a fresh jti
// and a lifetime of one minute (RFC 7523 §3).
func TestAssertionClaims(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, err := newAssertionSigner(key, "k1", "svc", "https://as.example")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	a.now = func() time.Time { return now }
	seen := map[string]bool{}
	for range 2 {
		raw, err := a.assertion()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if kid := tok.Headers[0].KeyID; kid != "k1" {
			t.Errorf("kid %q, want k1", kid)
		}
		var c map[string]any
		if err := tok.Claims(key.Public(), &c); err != nil {
			t.Fatal(err)
		}
		jti, _ := c["jti"].(string)
		if c["iss"] != "svc" || c["sub"] != "svc" || c["aud"] != "https://as.example" || jti == "" || seen[jti] ||
			c["iat"] != float64(1800000000) || c["exp"] != float64(1800000060) {
			t.Errorf("claims %v", c)
		}
		seen[jti] = true
	}
}
