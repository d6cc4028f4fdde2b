package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"golang.org/x/time/rate"

	"github.com/latchkey/latchkey/internal/oauthclient"
	"github.com/latchkey/latchkey/internal/protocol"
)

// maxBody bounds what is read of any answer; the rest is discarded.
const maxBody = 1 << 20

// userAgent names the generator in the server's logs.
const userAgent = "latchkey-bench"

// runner is what every worker shares, all of it read-only once built: the
// HTTP client, the endpoints and the request bodies that never change.
type runner struct {
	cfg Config
	md  oauthclient.Metadata
	// hc sends token and introspection requests: no cookies, no redirects.
	hc        *http.Client
	transport http.RoundTripper
	ownsTr    bool

	tokenURL, introspectURL, authorizeURL *url.URL
	// tokenEndpoint is tokenURL as the metadata gives it, the htu of the
	// DPoP proofs.
	tokenEndpoint string

	// authorization is the Basic header of client_secret_basic, or "".
	authorization string
	// authParams are appended to every body: client_id (and client_secret
	// with client_secret_post, or client_id alone for a public client).
	authParams string
	// pace, when the run has a Rate, hands out the requests' turns.
	pace *rate.Limiter
	// fixedBody is the body of the ClientCredentials, Password,
	// JWTBearer and Introspect requests; passwordBody that of a password grant.
	fixedBody, passwordBody []byte
}

// newTransport is one keep-alive transport for the whole run, with an
// idle connection for every worker. HTTP/2 is used where TLS negotiates it.
func newTransport(concurrency int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency + 4
	tr.MaxIdleConns = max(tr.MaxIdleConns, 2*concurrency+8)
	return tr
}

// newRunner discovers the server's metadata and prepares what the workers
// share; for Introspect without a token it gets one.
func newRunner(ctx context.Context, cfg Config) (*runner, error) {
	r := &runner{cfg: cfg, transport: cfg.Transport}
	if cfg.Rate > 0 {
		// A burst of one: the requests are spread evenly over each second.
		r.pace = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	if r.transport == nil {
		r.transport, r.ownsTr = newTransport(cfg.Concurrency), true
	}
	r.hc = &http.Client{Transport: r.transport, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	md, err := oauthclient.Discover(ctx, r.hc, cfg.Issuer)
	if err != nil {
		r.close()
		return nil, err
	}
	r.md = md
	if err := r.parseEndpoints(); err != nil {
		r.close()
		return nil, err
	}
	r.buildBodies()
	if (cfg.Grant == Introspect || cfg.Grant == TokenExchange) && cfg.Token == "" {
		tok, how, err := r.firstToken(ctx)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("getting a token to %s with the %s grant: %w (or give one with --token)", cfg.Grant, how, err)
		}
		r.cfg.Token = tok
		r.buildBodies()
	}
	return r, nil
}

// firstToken gets the token an Introspect or TokenExchange run works
// on: the user's by the password grant when the run has a username (a
// token exchange's subject is usually a user), else the client's own.
func (r *runner) firstToken(ctx context.Context) (token, grant string, err error) {
	w := r.newWorker()
	if r.cfg.Grant == TokenExchange && r.cfg.Username != "" {
		a, o := w.exchange(ctx, r.passwordBody)
		if !o.ok {
			return "", "password", errors.New(o.String())
		}
		return a.AccessToken, "password", nil
	}
	tok, err := w.clientCredentialsToken(ctx)
	return tok, "client credentials", err
}

// close lets go of the idle connections of a transport the run made.
func (r *runner) close() {
	if tr, ok := r.transport.(*http.Transport); ok && r.ownsTr {
		tr.CloseIdleConnections()
	}
}

// parseEndpoints reads the endpoints the grant needs from the metadata.
func (r *runner) parseEndpoints() error {
	need := func(name, raw string) (*url.URL, error) {
		if raw == "" {
			return nil, fmt.Errorf("the server's metadata has no %s, which the %s grant needs", name, r.cfg.Grant)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("the server's %s %q is not an http or https URL", name, raw)
		}
		return u, nil
	}
	var err error
	if r.tokenURL, err = need("token_endpoint", r.md.TokenEndpoint); err != nil {
		return err
	}
	r.tokenEndpoint = r.md.TokenEndpoint
	if r.cfg.Grant == Introspect {
		if r.introspectURL, err = need("introspection_endpoint", r.md.IntrospectionEndpoint); err != nil {
			return err
		}
	}
	if r.cfg.Grant == AuthorizationCode || (r.cfg.Grant == Refresh && r.cfg.RedirectURI != "") {
		if r.authorizeURL, err = need("authorization_endpoint", r.md.AuthorizationEndpoint); err != nil {
			return err
		}
	}
	return nil
}

// buildBodies encodes the client authentication and the constant bodies
// once, so the workers' loop only copies bytes.
func (r *runner) buildBodies() {
	c := r.cfg
	esc := url.QueryEscape
	switch {
	case c.ClientSecret == "":
		r.authParams = "&client_id=" + esc(c.ClientID)
	case c.AuthMethod == protocol.AuthPost:
		r.authParams = "&client_id=" + esc(c.ClientID) + "&client_secret=" + esc(c.ClientSecret)
	default: // RFC 6749 §2.3.1: both form-urlencoded before Basic encoding
		r.authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(esc(c.ClientID)+":"+esc(c.ClientSecret)))
	}
	scope := ""
	if c.Scope != "" {
		scope = "&scope=" + esc(c.Scope)
	}
	if c.Username != "" {
		r.passwordBody = []byte("grant_type=" + protocol.GrantPassword + "&username=" + esc(c.Username) + "&password=" + esc(c.Password) + scope + r.authParams)
	}
	switch c.Grant {
	case ClientCredentials:
		r.fixedBody = []byte("grant_type=" + protocol.GrantClientCredentials + scope + r.authParams)
	case Password:
		r.fixedBody = r.passwordBody
	case Introspect:
		r.fixedBody = []byte("token=" + esc(c.Token) + r.authParams)
	case TokenExchange:
		r.fixedBody = []byte("grant_type=" + esc(protocol.GrantTokenExchange) + "&subject_token=" + esc(c.Token) +
			"&subject_token_type=" + esc(protocol.TokenTypeAccessToken) + scope + r.authParams)
	case JWTBearer:
		r.fixedBody = []byte("grant_type=" + esc(protocol.GrantJWTBearer) + "&assertion=" + esc(c.Assertion) + scope + r.authParams)
	}
}

// refreshBody is the body of a refresh token request.
func (r *runner) refreshBody(refreshToken string) []byte {
	b := make([]byte, 0, 64+len(refreshToken)+len(r.authParams))
	b = append(b, "grant_type="+protocol.GrantRefreshToken+"&refresh_token="...)
	b = append(b, url.QueryEscape(refreshToken)...)
	return append(b, r.authParams...)
}

// codeBody is the body of the code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5).
func (r *runner) codeBody(code, verifier string) []byte {
	return []byte("grant_type=" + protocol.GrantAuthorizationCode + "&code=" + url.QueryEscape(code) +
		"&redirect_uri=" + url.QueryEscape(r.cfg.RedirectURI) + "&code_verifier=" + url.QueryEscape(verifier) + r.authParams)
}

// postHeader is the header of every token and introspection request. A
// worker builds it once and sends it unchanged with each of its requests.
func (r *runner) postHeader() http.Header {
	h := http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"},
		"Accept":       {"application/json"},
		"User-Agent":   {userAgent},
	}
	if r.authorization != "" {
		h["Authorization"] = []string{r.authorization}
	}
	return h
}

// post sends body to u and reads the answer into w.buf.
func (w *worker) post(ctx context.Context, u *url.URL, body []byte) (int, error) {
	req := (&http.Request{
		Method: http.MethodPost, URL: u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		// A request on a keep-alive connection the server just closed is
		// sent again; the transport needs a fresh copy of the body for it.
		GetBody: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
	}).WithContext(ctx)
	resp, err := w.r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	if w.prover != nil {
		w.keepNonce(resp.Header)
	}
	return resp.StatusCode, w.read(resp)
}

// read reads resp's body (up to maxBody) into w.buf and closes it.
func (w *worker) read(resp *http.Response) error {
	w.buf.Reset()
	w.lim = io.LimitedReader{R: resp.Body, N: maxBody}
	_, err := w.buf.ReadFrom(&w.lim)
	resp.Body.Close()
	return err
}

// leanAnswer is what the hot path reads of a token response: whether it
// holds an access token (without copying it), its type and the error code.
type leanAnswer struct {
	AccessToken present `json:"access_token"`
	TokenType   string  `json:"token_type"`
	Error       string  `json:"error"`
}

// present records that a JSON member is a non-empty string, without
// keeping the string.
type present bool

// UnmarshalJSON implements json.Unmarshaler.
func (p *present) UnmarshalJSON(b []byte) error {
	*p = len(b) > 2 && b[0] == '"'
	return nil
}

// tokenAnswer is a token response with the tokens kept.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// tokenOutcome judges a token response: a success is a 200 whose JSON
// body holds an access token, and nothing else is.
func tokenOutcome(status int, jsonErr error, hasToken bool, code string) outcome {
	switch {
	case status == http.StatusOK && jsonErr != nil:
		return failure(status, "not JSON")
	case status == http.StatusOK && !hasToken:
		return failure(status, "no access_token")
	case status == http.StatusOK:
		return outcome{ok: true, status: status}
	default:
		return failure(status, code)
	}
}

// exchange posts body to the token endpoint (with a DPoP proof when the
// run uses them) and keeps the tokens.
func (w *worker) exchange(ctx context.Context, body []byte) (tokenAnswer, outcome) {
	status, err := w.postToken(ctx, body)
	if err != nil {
		return tokenAnswer{}, transportFailure(err)
	}
	var a tokenAnswer
	jerr := json.Unmarshal(w.buf.Bytes(), &a)
	return a, w.judge(status, jerr, a.AccessToken != "", a.TokenType, a.Error)
}

// clientCredentialsToken gets one access token for the client itself.
func (w *worker) clientCredentialsToken(ctx context.Context) (string, error) {
	body := []byte("grant_type=" + protocol.GrantClientCredentials + w.r.authParams)
	a, o := w.exchange(ctx, body)
	if !o.ok {
		return "", errors.New(o.String())
	}
	return a.AccessToken, nil
}

// errorClass is the short name of a transport failure.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := []rune(err.Error())
	if len(s) > 60 {
		s = append(s[:59], '…')
	}
	return string(s)
}
