package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/dpop"
)

const (
	tokenTTL     = 5 * time.Minute
	maxFormBytes = 64 << 10
)

// config is what the floor serves: one issuer and one confidential client.
type config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string // the client may get these; all of them when it asks for none
	// DPoP makes every token request carry a DPoP proof (RFC 9449), ES256,
	// checked by dpop.Verifier with a replay cache in memory of
	// ReplayCacheSize proofs; the token is bound to its key (cnf.jkt).
	DPoP            bool
	ReplayCacheSize int
	// StorePath, when set, adds the user grants (password, refresh,
	// authorization code with PKCE) for one user, Username with Password,
	// and the client's one RedirectURI; codes and refresh tokens are kept
	// in the SQLite file at StorePath.
	StorePath, Username, Password, RedirectURI string
}

// floor answers the token and introspection requests of one client.
type floor struct {
	cfg       config
	secretSum [sha256.Size]byte // only the digest of the secret is kept
	pub       *ecdsa.PublicKey
	signer    jose.Signer
	metadata  []byte
	random    io.Reader
	now       func() time.Time
	// proofs checks the DPoP proofs sent to tokenURL, when cfg.DPoP.
	proofs   *dpop.Verifier
	tokenURL string
	// u serves the user grants, when cfg.StorePath is set.
	u *users
}

// sha256Hash names SHA-256 for the RFC 7638 thumbprints.
const sha256Hash = crypto.SHA256

func newFloor(cfg config, random io.Reader, now func() time.Time) (*floor, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	thumb, err := (&jose.JSONWebKey{Key: &key.PublicKey}).Thumbprint(crypto.SHA256) // RFC 7638
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256,
		Key: jose.JSONWebKey{Key: key, KeyID: base64.RawURLEncoding.EncodeToString(thumb)}},
		(&jose.SignerOptions{}).WithType("at+jwt")) // RFC 9068 §2.1
	if err != nil {
		return nil, err
	}
	md := map[string]any{ // RFC 8414 §2
		"issuer":                                        cfg.Issuer,
		"token_endpoint":                                cfg.Issuer + "/token",
		"introspection_endpoint":                        cfg.Issuer + "/introspect",
		"grant_types_supported":                         []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                              cfg.Scopes,
	}
	f := &floor{cfg: cfg, secretSum: sha256.Sum256([]byte(cfg.ClientSecret)), pub: &key.PublicKey,
		signer: signer, random: random, now: now, tokenURL: cfg.Issuer + "/token"}
	if cfg.DPoP {
		md["dpop_signing_alg_values_supported"] = []string{string(jose.ES256)} // RFC 9449 §5.1
		f.proofs = &dpop.Verifier{Algs: []jose.SignatureAlgorithm{jose.ES256}, Window: dpop.DefaultWindow,
			Replay: dpop.NewMemoryReplayCache(cfg.ReplayCacheSize)}
	}
	if cfg.StorePath != "" {
		if f.u, err = openUsers(context.Background(), cfg, random); err != nil {
			return nil, err
		}
		md["grant_types_supported"] = []string{"client_credentials", "password", "refresh_token", "authorization_code"}
		md["authorization_endpoint"] = cfg.Issuer + "/authorize"
		md["jwks_uri"] = cfg.Issuer + "/jwks.json"
		md["response_types_supported"] = []string{"code"}
		md["code_challenge_methods_supported"] = []string{"S256"}
		md["authorization_response_iss_parameter_supported"] = true // RFC 9207
		md["id_token_signing_alg_values_supported"] = []string{string(jose.RS256)}
	}
	if f.metadata, err = json.Marshal(md); err != nil {
		return nil, err
	}
	return f, nil
}

// routes is the whole API. The method patterns answer 405 to anything else.
func (f *floor) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.metadata)
	})
	mux.HandleFunc("POST /token", handle(f.token))
	mux.HandleFunc("POST /introspect", handle(f.introspect))
	if f.u != nil {
		mux.HandleFunc("GET /authorize", f.authorize)
		mux.HandleFunc("POST /authorize", f.login)
		mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/jwk-set+json")
			w.Write(f.u.jwks)
		})
	}
	return mux
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func invalidClient() *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
}

func invalidRequest(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", desc}
}

// handle writes the error a handler returns.
func handle(fn func(http.ResponseWriter, *http.Request) *oauthError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e := fn(w, r); e != nil {
			if e.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="floor"`)
			}
			writeJSON(w, e.status, e)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readForm parses the POST body, size-capped; RFC 6749 §3.2 forbids
// repeated parameters.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the form cannot be read")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 {
			return nil, invalidRequest(name + " is repeated")
		}
	}
	return r.PostForm, nil
}

// authenticate checks the client's id and secret, sent with HTTP Basic
// (form-urlencoded inside it, RFC 6749 §2.3.1) or in the form, not both.
func (f *floor) authenticate(r *http.Request, form url.Values) (string, *oauthError) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Has("client_secret") {
			return "", invalidRequest("use one client authentication method")
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || (form.Has("client_id") && form.Get("client_id") != id) {
			return "", invalidClient()
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	sum := sha256.Sum256([]byte(secret))
	secretOK := subtle.ConstantTimeCompare(sum[:], f.secretSum[:]) == 1
	if !secretOK || id != f.cfg.ClientID {
		return "", invalidClient()
	}
	return id, nil
}

// accessClaims are the claims of an RFC 9068 access token.
type accessClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	ClientID string `json:"client_id"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	ID       string `json:"jti"`
	Scope    string `json:"scope,omitempty"`
	Cnf      *cnf   `json:"cnf,omitempty"`
}

// cnf is the confirmation of a DPoP-bound token (RFC 9449 §6.1).
type cnf struct {
	JKT string `json:"jkt"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// token is the token endpoint: the client credentials grant (RFC 6749
// §4.4) and, with a store, the user grants.
func (f *floor) token(w http.ResponseWriter, r *http.Request) *oauthError {
	form, e := readForm(w, r)
	if e != nil {
		return e
	}
	clientID, e := f.authenticate(r, form)
	if e != nil {
		return e
	}
	gt := form.Get("grant_type")
	switch {
	case gt == "client_credentials":
	case gt == "":
		return invalidRequest("grant_type is required")
	case f.u != nil && gt == "password":
		return f.password(r.Context(), w, clientID, form)
	case f.u != nil && gt == "refresh_token":
		return f.refresh(r.Context(), w, clientID, form)
	case f.u != nil && gt == "authorization_code":
		return f.authorizationCode(r.Context(), w, clientID, form)
	default:
		return &oauthError{http.StatusBadRequest, "unsupported_grant_type", "this grant is not supported"}
	}
	scope, e := f.grantedScope(form.Get("scope"))
	if e != nil {
		return e
	}
	jkt, e := f.proof(r)
	if e != nil {
		return e
	}
	access, err := f.mint(clientID, scope, jkt)
	if err != nil {
		return &oauthError{status: http.StatusInternalServerError, Code: "server_error"}
	}
	tokenType := "Bearer"
	if jkt != "" {
		tokenType = "DPoP" // RFC 9449 §5
	}
	writeJSON(w, http.StatusOK, tokenResponse{access, tokenType, int64(tokenTTL / time.Second), scope})
	return nil
}

// proof checks the request's DPoP proof when the floor takes them (RFC
// 9449 §4.3: one ES256 signature, the claims, the jti once) and returns
// the thumbprint of its key, or "" when it does not.
func (f *floor) proof(r *http.Request) (string, *oauthError) {
	if f.proofs == nil {
		return "", nil
	}
	p, err := f.proofs.Verify(r.Context(), r.Header.Values("DPoP"), dpop.Check{Method: r.Method, URL: f.tokenURL, Now: f.now()})
	if err != nil {
		desc := "the DPoP proof is invalid"
		var de *dpop.Error
		if errors.As(err, &de) {
			desc = de.Description
		}
		return "", &oauthError{http.StatusBadRequest, "invalid_dpop_proof", desc}
	}
	return p.JKT, nil
}

// mint signs an RFC 9068 access token the client gets for itself.
func (f *floor) mint(clientID, scope, jkt string) (string, error) {
	return f.mintFor(clientID, clientID, scope, jkt)
}

// mintFor signs an RFC 9068 access token for subject, got by clientID.
func (f *floor) mintFor(subject, clientID, scope, jkt string) (string, error) {
	var jti [16]byte
	if _, err := io.ReadFull(f.random, jti[:]); err != nil {
		return "", err
	}
	now := f.now()
	c := accessClaims{Issuer: f.cfg.Issuer, Subject: subject, Audience: f.cfg.Issuer,
		ClientID: clientID, IssuedAt: now.Unix(), Expiry: now.Add(tokenTTL).Unix(),
		ID: base64.RawURLEncoding.EncodeToString(jti[:]), Scope: scope}
	if jkt != "" {
		c.Cnf = &cnf{JKT: jkt}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := f.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// introspection is the RFC 7662 §2.2 response.
type introspection struct {
	Active    bool   `json:"active"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Scope     string `json:"scope,omitempty"`
	Expiry    int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Cnf       *cnf   `json:"cnf,omitempty"`
}

// introspect is RFC 7662: the client may ask about its own tokens. What
// does not verify, has expired or belongs to someone else is inactive.
func (f *floor) introspect(w http.ResponseWriter, r *http.Request) *oauthError {
	form, e := readForm(w, r)
	if e != nil {
		return e
	}
	clientID, e := f.authenticate(r, form)
	if e != nil {
		return e
	}
	raw := form.Get("token")
	if raw == "" {
		return invalidRequest("token is required")
	}
	c, ok := f.verify(raw)
	if !ok || c.ClientID != clientID {
		writeJSON(w, http.StatusOK, introspection{})
		return nil
	}
	tokenType := "Bearer"
	if c.Cnf != nil {
		tokenType = "DPoP" // RFC 9449 §6.2
	}
	writeJSON(w, http.StatusOK, introspection{Active: true, ClientID: c.ClientID, Subject: c.Subject,
		Scope: c.Scope, Expiry: c.Expiry, IssuedAt: c.IssuedAt, Issuer: c.Issuer, TokenType: tokenType, Cnf: c.Cnf})
	return nil
}

// verify checks an access token's signature (ES256 only), type, issuer and
// expiry.
func (f *floor) verify(raw string) (accessClaims, bool) {
	var c accessClaims
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(tok.Headers) != 1 || tok.Headers[0].ExtraHeaders[jose.HeaderType] != "at+jwt" {
		return c, false
	}
	if err := tok.Claims(f.pub, &c); err != nil {
		return c, false
	}
	return c, c.Issuer == f.cfg.Issuer && f.now().Unix() < c.Expiry
}
