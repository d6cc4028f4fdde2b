package trustjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
	"github.com/latchkey/latchkey/internal/trustjwt"
)

// FuzzVerify feeds Verify anything: it never panics, refuses with an
// *Error or accepts, and what it accepts has a subject within the rules.
// The seeds include tokens that verify (a fixed key, a fixed clock).
func FuzzVerify(f *testing.F) {
	d := make([]byte, 32)
	d[31] = 9
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		f.Fatal(err)
	}
	key := jwstest.KeyOf(jose.ES256, priv, "k1")
	now := time.Unix(1_800_000_000, 0)
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "replay.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	v := &trustjwt.Verifier{Keys: clientjwt.NewKeys(clientjwt.KeysConfig{}), Replay: st, Now: func() time.Time { return now }}
	iss := trustjwt.Issuer{Name: "k8s", Issuer: k8sIssuer, JWKS: jwstest.JWKS(f, key), Audience: audience,
		SubjectClaim: "sub", AllowReuse: true}
	claims := map[string]any{"iss": k8sIssuer, "sub": saSubject, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	f.Add(key.Sign(f, nil, claims))
	f.Add(key.Sign(f, map[jose.HeaderKey]any{"typ": "JWT"}, with(claims, "aud", []string{"x", audience})))
	f.Add(key.Sign(f, nil, with(claims, "sub", "")))
	f.Add(jwstest.Unsigned(map[string]any{"alg": "none"}, claims, ""))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := v.Verify(context.Background(), raw, iss)
		if err != nil {
			var te *trustjwt.Error
			if !errors.As(err, &te) || te.Description == "" {
				t.Fatalf("Verify = %v, want a *trustjwt.Error with a description", err)
			}
			return
		}
		if tok.Subject == "" || len(tok.Subject) > trustjwt.MaxSubjectBytes || strings.ContainsFunc(tok.Subject, unicode.IsControl) {
			t.Fatalf("accepted subject %q", tok.Subject)
		}
		if got, ok := trustjwt.UnsafeIssuer(raw); !ok || got != k8sIssuer {
			t.Fatalf("accepted a token whose UnsafeIssuer is %q, %v", got, ok)
		}
	})
}
