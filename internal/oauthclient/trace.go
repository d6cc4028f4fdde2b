package oauthclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Tracer is an http.RoundTripper that prints every request and response as
// a numbered step. Secrets (client secrets, passwords, tokens, codes,
// verifiers, client assertions, DPoP proofs, Basic credentials, cookies)
// are masked; DPoP proofs and client assertions are also shown decoded,
// header and claims without the signature, so that a reader sees what
// they say but cannot send them again.
type Tracer struct {
	Out  io.Writer
	Next http.RoundTripper

	mu   sync.Mutex
	n    int
	note string
}

// Step sets the explanation printed with the next request.
func (t *Tracer) Step(note string) {
	t.mu.Lock()
	t.note = note
	t.mu.Unlock()
}

// RoundTrip sends req, printing it and its response when Out is set.
func (t *Tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	t.mu.Lock()
	t.n++
	n, note := t.n, t.note
	t.note = ""
	t.mu.Unlock()
	if t.Out != nil {
		t.printRequest(n, note, req, reqBody)
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		if t.Out != nil {
			fmt.Fprintf(t.Out, "<- error: %v\n\n", err)
		}
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if t.Out != nil {
		t.printResponse(resp, body)
	}
	return resp, nil
}

func (t *Tracer) printRequest(n int, note string, req *http.Request, body []byte) {
	fmt.Fprintf(t.Out, "── Step %d", n)
	if note != "" {
		fmt.Fprintf(t.Out, ": %s", note)
	}
	fmt.Fprintf(t.Out, "\n-> %s %s\n", req.Method, MaskURL(req.URL.String()))
	printHeaders(t.Out, req.Header, "Authorization", "DPoP", "Content-Type", "Cookie")
	if p := req.Header.Get("DPoP"); p != "" {
		printJWS(t.Out, "DPoP proof", p)
	}
	switch {
	case len(body) == 0:
	case strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		fmt.Fprintf(t.Out, "\n%s\n", MaskForm(string(body)))
		if vals, err := url.ParseQuery(string(body)); err == nil && vals.Get("client_assertion") != "" {
			printJWS(t.Out, "client assertion", vals.Get("client_assertion"))
		}
	case strings.HasPrefix(req.Header.Get("Content-Type"), "application/json"):
		fmt.Fprintf(t.Out, "\n%s\n", MaskJSON(body))
	default:
		fmt.Fprintf(t.Out, "\n(%d bytes)\n", len(body))
	}
	fmt.Fprintln(t.Out)
}

func (t *Tracer) printResponse(resp *http.Response, body []byte) {
	fmt.Fprintf(t.Out, "<- %s\n", resp.Status)
	printHeaders(t.Out, resp.Header, "Location", "Content-Type", "Cache-Control", "WWW-Authenticate", "DPoP-Nonce", "Set-Cookie")
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		fmt.Fprintf(t.Out, "\n%s\n", MaskJSON(body))
	case strings.HasPrefix(ct, "text/html"):
		fmt.Fprintf(t.Out, "\n(an HTML page of %d bytes)\n", len(body))
	case len(body) > 0:
		fmt.Fprintf(t.Out, "\n%s\n", truncate(string(body), 300))
	}
	fmt.Fprintln(t.Out)
}

func printHeaders(w io.Writer, h http.Header, names ...string) {
	for _, name := range names {
		for _, v := range h.Values(name) {
			fmt.Fprintf(w, "%s: %s\n", name, maskHeader(name, v))
		}
	}
}

// isSecret reports whether a parameter or JSON member holds a secret.
func isSecret(name string) bool {
	switch name {
	case "client_secret", "password", "code", "code_verifier", "refresh_token", "access_token", "id_token", "token", "device_code",
		"client_assertion", "assertion", "subject_token", "actor_token", "registration_access_token":
		return true
	}
	return false
}

// maskValue masks the value of parameter name: passwords and client
// secrets entirely, tokens and codes but for their start.
func maskValue(name, v string) string {
	if name == "password" || name == "client_secret" {
		return "****"
	}
	return Mask(v)
}

// Mask shows the start of a token so a reader can tell values apart.
func Mask(s string) string {
	if len(s) <= 10 {
		return "****"
	}
	return s[:8] + "…(" + fmt.Sprint(len(s)) + " chars)"
}

func maskHeader(name, v string) string {
	switch strings.ToLower(name) {
	case "authorization":
		scheme, cred, ok := strings.Cut(v, " ")
		if !ok || strings.EqualFold(scheme, "basic") {
			return scheme + " ****"
		}
		return scheme + " " + Mask(cred)
	case "cookie":
		var parts []string
		for _, c := range strings.Split(v, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(c), "=")
			parts = append(parts, k+"=****")
		}
		return strings.Join(parts, "; ")
	case "set-cookie":
		k, rest, _ := strings.Cut(v, "=")
		_, attrs, _ := strings.Cut(rest, ";")
		return k + "=****;" + attrs
	case "location":
		return MaskURL(v)
	case "dpop":
		return Mask(v)
	}
	return v
}

// printJWS shows what a DPoP proof or a client assertion says: its header
// and claims, decoded. The signature is left out, and with it anything a
// reader could present: the value itself is printed masked.
func printJWS(w io.Writer, what, jws string) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		fmt.Fprintf(w, "(%s: not a compact JWS)\n", what)
		return
	}
	fmt.Fprintf(w, "%s, decoded (signature left out):\n", what)
	for i, name := range []string{"header", "claims"} {
		fmt.Fprintf(w, "  %s: %s\n", name, decodeSegment(parts[i]))
	}
}

// decodeSegment is a JWS segment as compact JSON with sorted members, or
// a note when it is not JSON.
func decodeSegment(seg string) string {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "(not base64url)"
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "(not a JSON object)"
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// MaskForm masks the secret parameters of a form body.
func MaskForm(body string) string {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return "(unparsable form)"
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		for _, v := range vals[k] {
			if i > 0 || b.Len() > 0 {
				b.WriteString("&")
			}
			if isSecret(k) {
				v = maskValue(k, v)
			}
			b.WriteString(k + "=" + v)
		}
	}
	return b.String()
}

// MaskURL masks secret query parameters of u.
func MaskURL(u string) string {
	base, query, ok := strings.Cut(u, "?")
	if !ok {
		return u
	}
	return base + "?" + MaskForm(query)
}

// MaskJSON pretty-prints a JSON object with its secret members masked.
func MaskJSON(body []byte) string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return truncate(string(body), 300)
	}
	if _, ok := m["token_endpoint"]; ok {
		// A metadata document: its endpoints are what the reader needs.
		for k := range m {
			if k != "issuer" && !strings.HasSuffix(k, "_endpoint") && k != "jwks_uri" {
				delete(m, k)
			}
		}
		m["…"] = "(other members left out)"
	}
	for k, v := range m {
		if s, ok := v.(string); ok && isSecret(k) {
			m[k] = maskValue(k, s)
		}
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	return string(out)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
