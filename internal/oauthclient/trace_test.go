package oauthclient

import (
	"strings"
	"testing"
)

// The trace must never show a password or client secret, and only the
// start of tokens and codes (A9: no secrets in output).
func TestMasking(t *testing.T) {
	form := MaskForm("grant_type=password&username=alice&password=correct+horse+battery&client_secret=s3cr3t-s3cr3t-s3cr3t&refresh_token=lk_rt_abcdefghijklmnopqrstuvwxyz")
	for _, leak := range []string{"correct", "horse", "s3cr3t", "lk_rt_abcdefghijklmnop"} {
		if strings.Contains(form, leak) {
			t.Errorf("MaskForm leaks %q: %s", leak, form)
		}
	}
	if !strings.Contains(form, "username=alice") || !strings.Contains(form, "refresh_token=lk_rt_ab…") {
		t.Errorf("MaskForm hides too much: %s", form)
	}
	js := MaskJSON([]byte(`{"access_token":"eyJhbGciOiJFUzI1NiJ9.payload.signature","token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiJ9.x.y"}`))
	if strings.Contains(js, "payload") || !strings.Contains(js, `"token_type": "Bearer"`) {
		t.Errorf("MaskJSON: %s", js)
	}
	if got := maskHeader("Authorization", "Basic ZGVtbzpzZWNyZXQ="); got != "Basic ****" {
		t.Errorf("Basic credentials shown: %s", got)
	}
	if got := maskHeader("Cookie", "a=secret1; b=secret2"); strings.Contains(got, "secret") {
		t.Errorf("cookies shown: %s", got)
	}
	if got := MaskURL("http://x/cb?code=lk_ac_0123456789abcdef&state=s"); strings.Contains(got, "0123456789abcdef") || !strings.Contains(got, "state=s") {
		t.Errorf("MaskURL: %s", got)
	}
}

func TestWellKnown(t *testing.T) {
	got := wellKnown("https://as.example/tenant")
	want := []string{"https://as.example/.well-known/oauth-authorization-server/tenant", "https://as.example/tenant/.well-known/openid-configuration"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("wellKnown = %v, want %v (RFC 8414 §3.1 inserts, OIDC appends)", got, want)
	}
}

// DPoP proofs and client assertions show masked, and decoded without
// their signature.
func TestTraceOfProofsAndAssertions(t *testing.T) {
	jws := "eyJhbGciOiJFUzI1NiIsInR5cCI6ImRwb3Arand0In0.eyJodG0iOiJQT1NUIiwiaHR1IjoiaHR0cHM6Ly9hcy5leGFtcGxlL3Rva2VuIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
	if got := maskHeader("DPoP", jws); strings.Contains(got, "c2lnbmF0dXJl") {
		t.Errorf("maskHeader(DPoP) = %s", got)
	}
	if got := MaskForm("client_assertion=" + jws + "&client_id=svc"); strings.Contains(got, "c2lnbmF0dXJl") || !strings.Contains(got, "client_id=svc") {
		t.Errorf("MaskForm = %s", got)
	}
	var b strings.Builder
	printJWS(&b, "DPoP proof", jws)
	for _, want := range []string{`header: {"alg":"ES256","typ":"dpop+jwt"}`, `claims: {"htm":"POST","htu":"https://as.example/token"}`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printJWS lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "c2lnbmF0dXJl") {
		t.Errorf("printJWS shows the signature:\n%s", b.String())
	}
}
