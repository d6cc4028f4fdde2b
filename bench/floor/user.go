package main

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/argon2"
	_ "modernc.org/sqlite" // the driver Latchkey's SQLite store uses
)

// The lifetimes of the user grants' artefacts.
const (
	codeTTL    = time.Minute
	refreshTTL = 30 * 24 * time.Hour
	sessionTTL = 24 * time.Hour
)

// argon2id with OWASP's minimum, the parameters Latchkey hashes with
// (internal/password.DefaultParams): 19 MiB, 2 passes, 1 lane.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
)

// Cookie names of the browser part.
const (
	sessionCookie = "floor_session"
	csrfCookie    = "floor_csrf"
)

// users is the floor's part for one resource owner: the password grant,
// the refresh grant with rotation, and the authorization code flow with
// PKCE and a remembered session. Codes and refresh tokens live in SQLite
// with the durability Latchkey's SQLite store has (WAL, synchronous
// NORMAL, one writer connection, BEGIN IMMEDIATE); only their SHA-256
// digests are stored.
type users struct {
	db          *sql.DB
	username    string
	subject     string
	salt, key   []byte // the user's argon2id salt and hash
	redirectURI string
	idSigner    jose.Signer // RS256, OpenID Connect's default
	idPub       *rsa.PublicKey
	jwks        []byte
	// sessionKey MACs the session cookie: the session is the cookie, so
	// checking it reads nothing.
	sessionKey [32]byte
}

// openUsers opens (creating) the store at path and derives the user's hash.
func openUsers(ctx context.Context, cfg config, random io.Reader) (*users, error) {
	u := &users{username: cfg.Username, subject: "user-" + cfg.Username, redirectURI: cfg.RedirectURI}
	u.salt = make([]byte, 16)
	if _, err := io.ReadFull(random, u.salt); err != nil {
		return nil, err
	}
	u.key = argon2.IDKey([]byte(cfg.Password), u.salt, argonTime, argonMemoryKiB, argonThreads, 32)
	if _, err := io.ReadFull(random, u.sessionKey[:]); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(random, 2048) // the size of Latchkey's RS256 key
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	u.idPub = &key.PublicKey
	jwk := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := jwk.Thumbprint(sha256Hash)
	if err != nil {
		return nil, err
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	if u.idSigner, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256,
		Key: jose.JSONWebKey{Key: key, KeyID: jwk.KeyID}}, (&jose.SignerOptions{}).WithType("JWT")); err != nil {
		return nil, err
	}
	if u.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}); err != nil {
		return nil, err
	}
	q := url.Values{"_pragma": {"busy_timeout(5000)", "synchronous(NORMAL)", "journal_mode(WAL)"}, "_txlock": {"immediate"}}
	if u.db, err = sql.Open("sqlite", cfg.StorePath+"?"+q.Encode()); err != nil {
		return nil, err
	}
	u.db.SetMaxOpenConns(1) // SQLite has one writer; every statement here writes
	u.db.SetMaxIdleConns(1)
	u.db.SetConnMaxLifetime(0)
	u.db.SetConnMaxIdleTime(0)
	const schema = `
CREATE TABLE IF NOT EXISTS codes (digest TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
	challenge TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, nonce TEXT NOT NULL,
	auth_time INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (digest TEXT PRIMARY KEY, family TEXT NOT NULL, client_id TEXT NOT NULL,
	subject TEXT NOT NULL, scope TEXT NOT NULL, auth_time INTEGER NOT NULL, expires_at INTEGER NOT NULL,
	rotated_at INTEGER);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family);`
	if _, err := u.db.ExecContext(ctx, schema); err != nil {
		u.db.Close()
		return nil, fmt.Errorf("store %s: %w", cfg.StorePath, err)
	}
	return u, nil
}

func (u *users) close() error { return u.db.Close() }

// checkPassword is one argon2id hash and a constant-time comparison; a
// wrong username costs the same hash.
func (u *users) checkPassword(username, password string) bool {
	got := argon2.IDKey([]byte(password), u.salt, argonTime, argonMemoryKiB, argonThreads, uint32(len(u.key)))
	keyOK := subtle.ConstantTimeCompare(got, u.key) == 1
	return subtle.ConstantTimeCompare([]byte(username), []byte(u.username)) == 1 && keyOK
}

// newSecret is 32 random bytes, base64url, and the digest that is stored.
func (f *floor) newSecret() (value, digest string, err error) {
	var b [32]byte
	if _, err := io.ReadFull(f.random, b[:]); err != nil {
		return "", "", err
	}
	value = base64.RawURLEncoding.EncodeToString(b[:])
	return value, digestOf(value), nil
}

func digestOf(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// grantedScope checks a requested scope against the client's; none asked
// means all of them (RFC 6749 §3.3).
func (f *floor) grantedScope(scope string) (string, *oauthError) {
	if scope == "" {
		return strings.Join(f.cfg.Scopes, " "), nil
	}
	for s := range strings.SplitSeq(scope, " ") {
		if !slices.Contains(f.cfg.Scopes, s) {
			return "", &oauthError{http.StatusBadRequest, "invalid_scope", "the client may not get this scope"}
		}
	}
	return scope, nil
}

func invalidGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc}
}

func serverError(err error) *oauthError {
	return &oauthError{http.StatusInternalServerError, "server_error", err.Error()}
}

// userTokens is what the user grants answer.
type userTokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// grant is what a refresh token or code carries to the tokens.
type grant struct {
	clientID, subject, scope, nonce string
	authTime                        int64
}

// issue stores a new refresh token of family inside tx (commits it) and
// signs the access token and, for openid, the ID token (OpenID Connect
// Core §3.1.3.3, §12.2).
func (f *floor) issue(ctx context.Context, tx *sql.Tx, family string, g grant) (userTokens, error) {
	refresh, digest, err := f.newSecret()
	if err != nil {
		return userTokens{}, err
	}
	now := f.now()
	const q = `INSERT INTO refresh_tokens (digest, family, client_id, subject, scope, auth_time, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, digest, family, g.clientID, g.subject, g.scope, g.authTime,
		now.Add(refreshTTL).UnixMilli()); err != nil {
		return userTokens{}, err
	}
	if err := tx.Commit(); err != nil {
		return userTokens{}, err
	}
	t := userTokens{TokenType: "Bearer", ExpiresIn: int64(tokenTTL / time.Second), Scope: g.scope, RefreshToken: refresh}
	if t.AccessToken, err = f.mintFor(g.subject, g.clientID, g.scope, ""); err != nil {
		return userTokens{}, err
	}
	if slices.Contains(strings.Fields(g.scope), "openid") {
		if t.IDToken, err = f.idToken(g, now); err != nil {
			return userTokens{}, err
		}
	}
	return t, nil
}

// idClaims are an ID token's claims (OpenID Connect Core §2).
type idClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	AuthTime int64  `json:"auth_time"`
	Nonce    string `json:"nonce,omitempty"`
}

func (f *floor) idToken(g grant, now time.Time) (string, error) {
	payload, err := json.Marshal(idClaims{Issuer: f.cfg.Issuer, Subject: g.subject, Audience: g.clientID,
		Expiry: now.Add(tokenTTL).Unix(), IssuedAt: now.Unix(), AuthTime: g.authTime, Nonce: g.nonce})
	if err != nil {
		return "", err
	}
	jws, err := f.u.idSigner.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// password is the resource owner password grant (RFC 6749 §4.3): it
// starts a new refresh token family.
func (f *floor) password(ctx context.Context, w http.ResponseWriter, clientID string, form url.Values) *oauthError {
	scope, e := f.grantedScope(form.Get("scope"))
	if e != nil {
		return e
	}
	if !f.u.checkPassword(form.Get("username"), form.Get("password")) {
		return invalidGrant("the username or password is wrong")
	}
	family, _, err := f.newSecret()
	if err != nil {
		return serverError(err)
	}
	tx, err := f.u.db.BeginTx(ctx, nil)
	if err != nil {
		return serverError(err)
	}
	defer tx.Rollback()
	t, err := f.issue(ctx, tx, family, grant{clientID: clientID, subject: f.u.subject, scope: scope, authTime: f.now().Unix()})
	if err != nil {
		return serverError(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// refresh rotates a refresh token (RFC 6749 §6, RFC 9700 §4.14.2) in one
// write transaction: the old token is marked rotated and its successor
// inserted. Presenting a rotated token again revokes its whole family.
func (f *floor) refresh(ctx context.Context, w http.ResponseWriter, clientID string, form url.Values) *oauthError {
	raw := form.Get("refresh_token")
	if raw == "" {
		return invalidRequest("refresh_token is required")
	}
	digest := digestOf(raw)
	now := f.now().UnixMilli()
	tx, err := f.u.db.BeginTx(ctx, nil)
	if err != nil {
		return serverError(err)
	}
	defer tx.Rollback()
	var family string
	g := grant{clientID: clientID}
	err = tx.QueryRowContext(ctx, `UPDATE refresh_tokens SET rotated_at = ?
		WHERE digest = ? AND rotated_at IS NULL AND client_id = ? AND expires_at > ?
		RETURNING family, subject, scope, auth_time`, now, digest, clientID, now).
		Scan(&family, &g.subject, &g.scope, &g.authTime)
	if errors.Is(err, sql.ErrNoRows) {
		return f.notRotated(ctx, tx, digest, clientID)
	}
	if err != nil {
		return serverError(err)
	}
	if s := form.Get("scope"); s != "" { // §6: narrower, never wider
		granted := strings.Fields(g.scope)
		for want := range strings.SplitSeq(s, " ") {
			if !slices.Contains(granted, want) {
				return &oauthError{http.StatusBadRequest, "invalid_scope", "the scope exceeds the grant's"}
			}
		}
		g.scope = s
	}
	t, err := f.issue(ctx, tx, family, g)
	if err != nil {
		return serverError(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// notRotated answers a refresh token that could not be rotated; one of
// this client that was rotated before is a replay, and its family is
// revoked (committed) before the answer.
func (f *floor) notRotated(ctx context.Context, tx *sql.Tx, digest, clientID string) *oauthError {
	var family string
	err := tx.QueryRowContext(ctx, `SELECT family FROM refresh_tokens WHERE digest = ? AND client_id = ? AND rotated_at IS NOT NULL`,
		digest, clientID).Scan(&family)
	if errors.Is(err, sql.ErrNoRows) {
		return invalidGrant("the refresh token is unknown, expired or another client's")
	}
	if err != nil {
		return serverError(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE family = ?`, family); err != nil {
		return serverError(err)
	}
	if err := tx.Commit(); err != nil {
		return serverError(err)
	}
	return invalidGrant("the refresh token was used before: its family is revoked")
}

// authorizationCode redeems a code (RFC 6749 §4.1.3, RFC 7636 §4.6): the
// code is deleted as it is read, so it redeems once, and the new refresh
// token is inserted in the same transaction.
func (f *floor) authorizationCode(ctx context.Context, w http.ResponseWriter, clientID string, form url.Values) *oauthError {
	code, verifier := form.Get("code"), form.Get("code_verifier")
	if code == "" || verifier == "" {
		return invalidRequest("code and code_verifier are required")
	}
	tx, err := f.u.db.BeginTx(ctx, nil)
	if err != nil {
		return serverError(err)
	}
	defer tx.Rollback()
	var g grant
	var redirectURI, challenge string
	var expires int64
	err = tx.QueryRowContext(ctx, `DELETE FROM codes WHERE digest = ?
		RETURNING client_id, redirect_uri, challenge, scope, subject, nonce, auth_time, expires_at`, digestOf(code)).
		Scan(&g.clientID, &redirectURI, &challenge, &g.scope, &g.subject, &g.nonce, &g.authTime, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return invalidGrant("the code is unknown or was used")
	}
	if err != nil {
		return serverError(err)
	}
	sum := sha256.Sum256([]byte(verifier))
	pkceOK := subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
	switch {
	case g.clientID != clientID || expires <= f.now().UnixMilli() || form.Get("redirect_uri") != redirectURI:
		err = invalidGrant("the code is another client's, expired, or its redirect_uri differs")
	case !pkceOK:
		err = invalidGrant("the code_verifier does not match the code_challenge")
	}
	if err != nil { // the code stays deleted: a wrong attempt spends it
		if cerr := tx.Commit(); cerr != nil {
			return serverError(cerr)
		}
		return err.(*oauthError)
	}
	family, _, err := f.newSecret()
	if err != nil {
		return serverError(err)
	}
	t, err := f.issue(ctx, tx, family, g)
	if err != nil {
		return serverError(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

// authRequest is a validated authorization request (RFC 6749 §4.1.1,
// RFC 7636 §4.3, OpenID Connect Core §3.1.2.1).
type authRequest struct {
	params                  url.Values
	state, challenge, scope string
	nonce                   string
}

// parseAuthorize validates q. An unknown client or redirect URI gets an
// error page (never a redirect, RFC 6749 §4.1.2.1); the rest are
// redirected errors.
func (f *floor) parseAuthorize(w http.ResponseWriter, q url.Values) (*authRequest, bool) {
	for name, v := range q {
		if len(v) > 1 {
			http.Error(w, name+" is repeated", http.StatusBadRequest)
			return nil, false
		}
	}
	if q.Get("client_id") != f.cfg.ClientID || q.Get("redirect_uri") != f.u.redirectURI {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return nil, false
	}
	req := &authRequest{params: q, state: q.Get("state"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	fail := func(code, desc string) (*authRequest, bool) {
		f.redirect(w, req.state, url.Values{"error": {code}, "error_description": {desc}})
		return nil, false
	}
	if q.Get("response_type") != "code" {
		return fail("unsupported_response_type", "only code is supported")
	}
	if q.Get("code_challenge_method") != "S256" || len(req.challenge) != 43 {
		return fail("invalid_request", "PKCE with S256 is required")
	}
	scope, e := f.grantedScope(q.Get("scope"))
	if e != nil {
		return fail(e.Code, e.Description)
	}
	req.scope = scope
	return req, true
}

// redirect sends the authorization response to the redirect URI, with
// state and iss (RFC 9207).
func (f *floor) redirect(w http.ResponseWriter, state string, v url.Values) {
	if state != "" {
		v.Set("state", state)
	}
	v.Set("iss", f.cfg.Issuer)
	w.Header().Set("Location", f.u.redirectURI+"?"+v.Encode())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// authorize is the authorization endpoint. With a valid session cookie it
// issues a code at once; otherwise it shows the login form.
func (f *floor) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := f.parseAuthorize(w, r.URL.Query())
	if !ok {
		return
	}
	if authTime, ok := f.session(r); ok {
		f.issueCode(w, r, req, authTime)
		return
	}
	f.showLogin(w, req, "")
}

// login takes the login form's POST (the authorization request rides in
// its hidden fields), checks the CSRF token and the password, starts the
// session and issues the code.
func (f *floor) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form cannot be read", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	c, err := r.Cookie(csrfCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form.Get("csrf"))) != 1 || c.Value == "" {
		http.Error(w, "the form's CSRF token does not match", http.StatusForbidden)
		return
	}
	params := url.Values{}
	for k, v := range form {
		if k != "csrf" && k != "username" && k != "password" {
			params[k] = v
		}
	}
	req, ok := f.parseAuthorize(w, params)
	if !ok {
		return
	}
	if !f.u.checkPassword(form.Get("username"), form.Get("password")) {
		f.showLogin(w, req, "The username or password is wrong.")
		return
	}
	authTime := f.now().Unix()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: f.sessionValue(authTime), Path: "/",
		HttpOnly: true, Secure: strings.HasPrefix(f.cfg.Issuer, "https:"), SameSite: http.SameSiteLaxMode,
		MaxAge: int(sessionTTL / time.Second)})
	f.issueCode(w, r, req, authTime)
}

// issueCode stores a code bound to the client, redirect URI, challenge,
// scope and nonce, and redirects with it.
func (f *floor) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, authTime int64) {
	code, digest, err := f.newSecret()
	if err != nil {
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	_, err = f.u.db.ExecContext(r.Context(), `INSERT INTO codes (digest, client_id, redirect_uri, challenge, scope,
		subject, nonce, auth_time, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		digest, f.cfg.ClientID, f.u.redirectURI, req.challenge, req.scope, f.u.subject, req.nonce, authTime,
		f.now().Add(codeTTL).UnixMilli())
	if err != nil {
		f.redirect(w, req.state, url.Values{"error": {"server_error"}})
		return
	}
	f.redirect(w, req.state, url.Values{"code": {code}})
}

// sessionValue is auth_time and expiry, MACed with HMAC-SHA-256.
func (f *floor) sessionValue(authTime int64) string {
	payload := strconv.FormatInt(authTime, 10) + "." + strconv.FormatInt(f.now().Add(sessionTTL).Unix(), 10)
	return payload + "." + f.mac(payload)
}

func (f *floor) mac(payload string) string {
	m := hmac.New(sha256.New, f.u.sessionKey[:])
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session checks the session cookie's MAC and expiry and returns its
// auth_time.
func (f *floor) session(r *http.Request) (int64, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 || !hmac.Equal([]byte(c.Value[i+1:]), []byte(f.mac(c.Value[:i]))) {
		return 0, false
	}
	at, exp, _ := strings.Cut(c.Value[:i], ".")
	authTime, err1 := strconv.ParseInt(at, 10, 64)
	expiry, err2 := strconv.ParseInt(exp, 10, 64)
	if err1 != nil || err2 != nil || f.now().Unix() >= expiry {
		return 0, false
	}
	return authTime, true
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head><body>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></body></html>
`))

// showLogin shows the login form with a fresh CSRF token (double
// submit: the cookie and the hidden field must match), framing refused.
func (f *floor) showLogin(w http.ResponseWriter, req *authRequest, msg string) {
	csrf, _, err := f.newSecret()
	if err != nil {
		http.Error(w, "server error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: csrf, Path: "/authorize", HttpOnly: true,
		Secure: strings.HasPrefix(f.cfg.Issuer, "https:"), SameSite: http.SameSiteStrictMode})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	loginPage.Execute(w, struct {
		Params      url.Values
		CSRF, Error string
	}{req.params, csrf, msg})
}
