package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/token"
)

const issuer = "https://id.example"

// clock is a settable time source for the key manager.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newKeys returns a real key manager over a SQLite store in a temporary
// directory, with a key for every algorithm.
func newKeys(t testing.TB) (*keys.Manager, *clock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Now()}
	m, err := keys.NewManager(st, []byte("token-test-system-secret-32bytes"), keys.Options{
		ActivationDelay: time.Hour, Retention: 2 * time.Hour, Now: c.now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, c
}

func claimsAt(now time.Time) token.AccessClaims {
	return token.AccessClaims{Issuer: issuer, Subject: "user-1", Audience: token.Audience{issuer}, Expiry: now.Add(15 * time.Minute).Unix(),
		IssuedAt: now.Unix(), JTI: "jti-1", ClientID: "app", Scope: "read write", GrantID: "g1"}
}

// TestMintAccessIsRFC9068 checks the header (typ at+jwt, kid, the asked
// algorithm, S084, S085, S237) and the claims (S086) of every algorithm,
// and that VerifyAccess returns them.
func TestMintAccessIsRFC9068(t *testing.T) {
	m, c := newKeys(t)
	for _, alg := range keys.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			raw, err := token.MintAccess(m, alg, claimsAt(c.now()))
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.ExtraHeaders[jose.HeaderType] != "at+jwt" || h.KeyID == "" || h.Algorithm != alg {
				t.Errorf("header %+v", h)
			}
			var raw2 map[string]any
			if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &raw2); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id"} {
				if raw2[k] == nil {
					t.Errorf("claim %s missing (S086)", k)
				}
			}
			if raw2["aud"] != issuer {
				t.Errorf("a one-member aud is %v, want a string", raw2["aud"])
			}
			got, err := token.VerifyAccess(m, raw, issuer, c.now())
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != "user-1" || got.GrantID != "g1" || got.Scope != "read write" {
				t.Errorf("claims %+v", got)
			}
		})
	}
}

// TestVerifyAccessRefuses checks that VerifyAccess rejects what RFC 9068
// §4 and RFC 8725 say to reject (A13, A18).
func TestVerifyAccessRefuses(t *testing.T) {
	m, c := newKeys(t)
	now := c.now()
	good, err := token.MintAccess(m, keys.ES256, claimsAt(now))
	if err != nil {
		t.Fatal(err)
	}
	idTok, err := token.MintID(m, keys.RS256, token.IDClaims{Issuer: issuer, Subject: "user-1", Audience: "app",
		Expiry: now.Add(time.Hour), IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	var payload map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &payload)
	payload["scope"] = "admin"
	tampered, _ := json.Marshal(payload)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: stranger, KeyID: headerKID(t, good)}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	forged, _ := strangerSigner.Sign(b)
	forgedRaw, _ := forged.CompactSerialize()
	cases := map[string]struct {
		raw    string
		issuer string
		at     time.Time
	}{
		"expired":                                 {good, issuer, now.Add(16 * time.Minute)},
		"another issuer (S090)":                   {good, "https://other.example", now},
		"ID token as access token (A18)":          {idTok, issuer, now},
		"alg none (A13)":                          {base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + ".", issuer, now},
		"tampered payload (A13)":                  {parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2], issuer, now},
		"signed by a stranger with our kid (A14)": {forgedRaw, issuer, now},
		"unknown kid (A14)":                       {withKID(t, good, "nope"), issuer, now},
		"garbage":                                 {"a.b.c", issuer, now},
		"too long":                                {strings.Repeat("a", 17<<10), issuer, now},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := token.VerifyAccess(m, tc.raw, tc.issuer, tc.at); !errors.Is(err, token.ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func headerKID(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected.KeyID
}

// withKID replaces the kid in the header of raw, keeping the signature.
func withKID(t *testing.T, raw, kid string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	_ = json.Unmarshal(b, &h)
	h["kid"] = kid
	nb, _ := json.Marshal(h)
	return base64.RawURLEncoding.EncodeToString(nb) + "." + parts[1] + "." + parts[2]
}

// TestLeftHalfHash checks at_hash against OpenID Connect Core Appendix A.3.
func TestLeftHalfHash(t *testing.T) {
	if got := token.LeftHalfHash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"); got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Errorf("at_hash = %s, want 77QmUPtjPfzWtF2AnpK9RQ", got)
	}
	if got := token.LeftHalfHash("EdDSA", "x"); len(got) != 43 {
		t.Errorf("EdDSA at_hash %q should be the left half of SHA-512 (32 bytes)", got)
	}
}

// TestAudienceJSON checks RFC 7519 §4.1.3: one audience is a string, more
// are an array, and both read back.
func TestAudienceJSON(t *testing.T) {
	for _, tc := range []struct {
		aud  token.Audience
		json string
	}{{token.Audience{"a"}, `"a"`}, {token.Audience{"a", "b"}, `["a","b"]`}} {
		b, err := json.Marshal(tc.aud)
		if err != nil || string(b) != tc.json {
			t.Errorf("marshal %v = %s, %v", tc.aud, b, err)
		}
		var back token.Audience
		if err := json.Unmarshal(b, &back); err != nil || len(back) != len(tc.aud) {
			t.Errorf("unmarshal %s = %v, %v", b, back, err)
		}
	}
	var a token.Audience
	if err := json.Unmarshal([]byte(`42`), &a); err == nil {
		t.Error("a number was accepted as aud")
	}
}

func BenchmarkMintAccess(b *testing.B) {
	m, c := newKeys(b)
	for _, alg := range keys.Algorithms() {
		b.Run(alg, func(b *testing.B) {
			claims := claimsAt(c.now())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := token.MintAccess(m, alg, claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
