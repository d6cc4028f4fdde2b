package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// softKey is a passkey held in the test: an ES256 key pair with a
// credential id, a user handle and a signature counter, that answers
// WebAuthn ceremonies as an authenticator would (WebAuthn §6.1 authenticator
// data, "none" attestation, §6.3.3 assertion signature). It lets HTTP
// tests drive the passkey endpoints without a browser; the CBOR is the
// encoder go-webauthn itself parses with.
type softKey struct {
	key    *ecdsa.PrivateKey
	id     []byte
	handle []byte
	count  uint32
	// flags of every answer: UP, UV, and the backup bits.
	uv, be, bs bool
}

func newSoftKey(t testing.TB) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{key: k, id: id, uv: true}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (k *softKey) flags(attested bool) byte {
	f := byte(0x01) // UP
	if k.uv {
		f |= 0x04
	}
	if k.be {
		f |= 0x08
	}
	if k.bs {
		f |= 0x10
	}
	if attested {
		f |= 0x40
	}
	return f
}

func (k *softKey) authData(t testing.TB, rpID string, attested bool) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, k.flags(attested))
	out = binary.BigEndian.AppendUint32(out, k.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		pub, err := k.key.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:]})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// options is the publicKey member of a begin answer.
type options struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

func parseOptions(t testing.TB, body string) options {
	t.Helper()
	var o struct {
		PublicKey options `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(body), &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("begin answer %q: %v", body, err)
	}
	return o.PublicKey
}

// create answers a registration's options as the authenticator would,
// keeping the user handle for later assertions.
func (k *softKey) create(t testing.TB, o options, origin string) string {
	t.Helper()
	k.handle, _ = base64.RawURLEncoding.DecodeString(o.User.ID)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(t, o.RP.ID, true)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64u(k.id), "rawId": b64u(k.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64u(clientData("webauthn.create", o.Challenge, origin)),
			"attestationObject": b64u(att), "transports": []string{"internal"}}})
	return string(b)
}

// get answers an assertion's options; the counter goes up first, as a
// real authenticator's does.
func (k *softKey) get(t testing.TB, o options, origin string) string {
	t.Helper()
	k.count++
	ad := k.authData(t, o.RPID, false)
	cd := clientData("webauthn.get", o.Challenge, origin)
	h := sha256.Sum256(cd)
	sum := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64u(k.id), "rawId": b64u(k.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad),
			"signature": b64u(sig), "userHandle": b64u(k.handle)}})
	return string(b)
}

// loginPasskeyField is the CSRF token of a login page's passkey form.
var loginPasskeyField = regexp.MustCompile(`action="/login/passkey"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)

func passkeyLoginCSRF(t testing.TB, body string) string {
	t.Helper()
	m := loginPasskeyField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no passkey form on the login page:\n%.2000s", body)
	}
	return m[1]
}

// begin posts a ceremony's begin form and returns the answer.
func (b *azBrowser) begin(path, csrf string) azResp {
	b.t.Helper()
	return b.post(b.env.URL+path, url.Values{"csrf": {csrf}})
}

// wantJSONError checks a begin endpoint's refusal: status and an OAuth
// error object, never a page.
func wantJSONError(t testing.TB, r azResp, status int) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") ||
		json.Unmarshal([]byte(r.body), &e) != nil || e.Error != "invalid_request" {
		t.Fatalf("want a %d JSON invalid_request, got %d %s\n%.500s", status, r.status, r.header.Get("Content-Type"), r.body)
	}
}

// cookieOf is the named cookie b holds for the server.
func (b *azBrowser) cookieOf(name string) *http.Cookie {
	u, _ := url.Parse(b.env.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}
