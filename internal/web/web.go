// Package web renders Latchkey's pages — login, consent, logout, error and
// device verification — from html/template files embedded in the binary
// and parsed once at start. The pages work without JavaScript and load
// nothing from other origins; the one script, static/passkey.js, only adds
// the passkey buttons.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Pages holds the parsed templates.
type Pages struct {
	byName map[string]*template.Template
}

// Page names.
const (
	Login         = "login"
	Consent       = "consent"
	Error         = "error"
	LogoutConfirm = "logout_confirm"
	LoggedOut     = "logged_out"
	// The device verification pages (RFC 8628 §3.3): enter the code, the
	// consent with its phishing warning, and the outcome.
	Device        = "device"
	DeviceConsent = "device_consent"
	DeviceDone    = "device_done"
	// Account is the signed-in user's own page: password, sessions,
	// applications.
	Account = "account"
	// The second step of a sign-in: the code page (TOTP or recovery
	// code), the enrolment of an authenticator app (QR code and secret,
	// shown once), the recovery codes (shown once), and the prompt after
	// a recovery code was used.
	MFA          = "mfa"
	MFAEnrol     = "mfa_enrol"
	MFACodes     = "mfa_codes"
	MFARecovered = "mfa_recovered"
)

// Parse parses every page with the shared layout. It fails at start, not
// at the first request, when a template is broken.
func Parse() (*Pages, error) {
	p := &Pages{byName: map[string]*template.Template{}}
	for _, name := range []string{Login, Consent, Error, LogoutConfirm, LoggedOut, Device, DeviceConsent, DeviceDone, Account,
		MFA, MFAEnrol, MFACodes, MFARecovered} {
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// Render writes page name with data and status, with the security headers
// every page carries: no framing (clickjacking, S136), nothing but this
// origin's resources, no Referer leaving the page (S124), no caching.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, data any) error {
	t, ok := p.byName[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	SecurityHeaders(w.Header())
	if sc, ok := data.(Scripted); ok && sc.Scripted() {
		w.Header().Set("Content-Security-Policy", ScriptCSP)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := io.Copy(w, &buf)
	return err
}

// The Content-Security-Policy of the pages: no script at all, or, on the
// pages with passkey buttons, the server's own script files only (no
// inline script, no eval, nothing from elsewhere).
const (
	CSP       = "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
	ScriptCSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

// Scripted is the data of a page that may load the server's script (the
// passkey buttons): when Scripted reports true the page gets ScriptCSP.
type Scripted interface {
	Scripted() bool
}

// SecurityHeaders sets the headers of every HTML page.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}

// Static serves the stylesheet and other assets.
func Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
