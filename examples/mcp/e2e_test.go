package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAgentWithConfiguredClient runs the MCP authorization flow end to end
// with a public client configured in Latchkey: the SDK's client meets a
// 401 with resource_metadata (RFC 9728 §5.1), reads the Protected Resource
// Metadata and Latchkey's RFC 8414 metadata, runs the authorization code
// grant with PKCE S256 (S063) and resource = the MCP endpoint (RFC 8707,
// S204) from a loopback redirect URI (S208) through Latchkey's real login
// and consent pages, calls tools that see alice's identity, and refreshes
// its token.
func TestAgentWithConfiguredClient(t *testing.T) {
	s := newStack(t, nil)
	cb := newCallback(t)
	s.env.AddClient(t, store.Client{ID: "agent", Name: "Notes agent", Public: true, TokenEndpointAuthMethod: "none",
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{scopeRead, scopeWrite},
		RedirectURIs: []string{cb.URL + "/cb"}, Resources: []string{s.resource}})
	a := connect(t, s, cb, func(c *auth.AuthorizationCodeHandlerConfig) {
		c.PreregisteredClient = &oauthex.ClientCredentials{ClientID: "agent", Issuer: s.env.URL}
	})
	checkDiscovery(t, s, a, "agent", false)
	checkTools(t, s, a, "agent")
	checkRefresh(t, a)
}

// checkDiscovery checks the client's way to its first tool call, in
// order: the 401 naming the metadata, the metadata, Latchkey's metadata,
// the registration when register, the token, and the MCP request with the
// token; and the authorization request the browser was sent to.
func checkDiscovery(t *testing.T, s *stack, a *agent, clientID string, register bool) {
	t.Helper()
	metadataURL, err := bearer.MetadataURL(s.resource)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		method, url string
		status      int
	}{
		{"POST", s.resource, http.StatusUnauthorized},
		{"GET", metadataURL, http.StatusOK},
		{"GET", s.env.URL + "/.well-known/oauth-authorization-server", http.StatusOK},
		{"POST", s.env.URL + "/register", http.StatusCreated},
		{"POST", s.env.URL + "/token", http.StatusOK},
		{"POST", s.resource, http.StatusOK},
	}
	if !register {
		steps = slices.Delete(steps, 3, 4)
	}
	log := a.rec.exchanges()
	i := 0
	for _, step := range steps {
		for i < len(log) && (log[i].method != step.method || log[i].url != step.url || autoDetectProbe(log[i], clientID)) {
			i++
		}
		if i == len(log) {
			t.Fatalf("no %s %s after the earlier steps; exchanges: %v", step.method, step.url, log)
		}
		if log[i].status != step.status {
			t.Fatalf("%s %s: %d, want %d", step.method, step.url, log[i].status, step.status)
		}
		if i == 0 || step.url == s.resource && step.status == http.StatusUnauthorized {
			if got := challengeParam(log[i].challenge, "Bearer", "resource_metadata"); got != metadataURL {
				t.Errorf("first 401: WWW-Authenticate %q, want resource_metadata=%q", log[i].challenge, metadataURL)
			}
		}
		if step.url == s.resource && step.status == http.StatusOK && !strings.HasPrefix(log[i].auth, "Bearer ") {
			t.Errorf("the MCP request after the token has Authorization %q", log[i].auth)
		}
		i++
	}
	if len(a.authURL) != 1 {
		t.Fatalf("%d authorization requests, want 1", len(a.authURL))
	}
	u, _ := url.Parse(a.authURL[0])
	q := u.Query()
	want := map[string]string{"client_id": clientID, "response_type": "code", "code_challenge_method": "S256",
		"resource": s.resource, "scope": scopeRead + " " + scopeWrite}
	// The SDK unions the challenged scopes through a map (authutil.
	// UnionScopes), so their order is random: compared as a set.
	scopes := strings.Fields(q.Get("scope"))
	slices.Sort(scopes)
	q.Set("scope", strings.Join(scopes, " "))
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorization request %s=%q, want %q (%s)", k, q.Get(k), v, a.authURL[0])
		}
	}
	if len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		t.Errorf("authorization request without a PKCE challenge or state: %s", a.authURL[0])
	}
}

// autoDetectProbe reports whether x is x/oauth2's first try of a client
// without a secret, which the SDK leaves on oauth2.AuthStyleAutoDetect
// for a CIMD client: HTTP Basic with an empty password, refused 401, after
// which x/oauth2 sends client_id in the body instead.
func autoDetectProbe(x exchange, clientID string) bool {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"))
	return x.status == http.StatusUnauthorized && x.auth == basic
}

// checkTools calls the tools as alice: whoami sees her subject, the client
// and the scopes of a token meant for the MCP server alone, and her notes
// are hers.
func checkTools(t *testing.T, s *stack, a *agent, clientID string) {
	t.Helper()
	var me Identity
	a.call(t, "whoami", nil, &me)
	if me.Subject != s.alice.ID || me.ClientID != clientID || !slices.Equal(me.Audience, []string{s.resource}) ||
		!slices.Contains(me.Scopes, scopeRead) || !slices.Contains(me.Scopes, scopeWrite) {
		t.Errorf("whoami %+v, want alice (%s) through %s, aud [%s], both scopes", me, s.alice.ID, clientID, s.resource)
	}
	var added AddResult
	a.call(t, "notes_add", map[string]any{"text": "buy milk"}, &added)
	var list NoteList
	a.call(t, "notes_list", nil, &list)
	if added.Count != 1 || len(list.Notes) != 1 || list.Notes[0].Text != "buy milk" {
		t.Errorf("notes_add %+v, notes_list %+v", added, list)
	}
}

// checkRefresh lets the access token expire: the agent refreshes it (RFC
// 6749 §6; a new refresh token, S133) and the next call still speaks
// for alice.
func checkRefresh(t *testing.T, a *agent) {
	t.Helper()
	a.source.expire()
	var list NoteList
	a.call(t, "notes_list", nil, &list)
	toks := a.source.tokens()
	if len(toks) != 2 {
		t.Fatalf("%d tokens, want the first and a refreshed one", len(toks))
	}
	if toks[1].AccessToken == toks[0].AccessToken || toks[1].RefreshToken == "" || toks[1].RefreshToken == toks[0].RefreshToken {
		t.Errorf("refresh gave the same access token or did not rotate the refresh token")
	}
	if len(list.Notes) != 1 {
		t.Errorf("after the refresh, notes_list %+v", list)
	}
	log := a.rec.exchanges()
	if last := log[len(log)-1]; last.status != http.StatusOK || last.auth != "Bearer "+toks[1].AccessToken {
		t.Errorf("last exchange %s %s %d: not made with the refreshed token", last.method, last.url, last.status)
	}
}

// TestMCPRefusals checks what the MCP server refuses, with tokens a client
// gets for itself (client credentials) and the SDK's client: no token
// (both challenges name the metadata, RFC 9728 §5.1), a token for another
// resource (401 invalid_token: the audience is the resource, S091, S205),
// a token without notes:write calling notes_add (403 insufficient_scope
// with scope= for step-up, S058), and another caller's token on a session
// (the SDK binds sessions to bearer's subject).
func TestMCPRefusals(t *testing.T) {
	s := newStack(t, nil)
	metadataURL, _ := bearer.MetadataURL(s.resource)
	secret := s.env.AddClient(t, store.Client{ID: "ci", GrantTypes: []string{"client_credentials"},
		Scopes: []string{scopeRead}, Resources: []string{s.resource, otherResource}})
	other := s.env.AddClient(t, store.Client{ID: "ci2", GrantTypes: []string{"client_credentials"},
		Scopes: []string{scopeRead}, Resources: []string{s.resource}})

	t.Run("what an agent sees first", func(t *testing.T) {
		resp := post(t, s.resource, "", "", initializeBody)
		want := []string{
			`Bearer realm="` + s.resource + `", resource_metadata="` + metadataURL + `"`,
			`DPoP resource_metadata="` + metadataURL + `", algs="ES256 EdDSA PS256"`,
		}
		if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || !slices.Equal(got, want) {
			t.Errorf("no token: %d %q, want 401 %q", resp.StatusCode, got, want)
		}
		meta, err := oauthex.GetProtectedResourceMetadata(context.Background(), metadataURL, s.resource, http.DefaultClient)
		if err != nil {
			t.Fatalf("the SDK refuses the metadata: %v", err)
		}
		if !slices.Equal(meta.AuthorizationServers, []string{s.env.URL}) || !slices.Equal(meta.ScopesSupported, []string{scopeRead, scopeWrite}) ||
			!slices.Equal(meta.BearerMethodsSupported, []string{"header"}) {
			t.Errorf("metadata %+v", meta)
		}
	})

	t.Run("a token for another resource", func(t *testing.T) {
		tok := clientToken(t, s, "ci", secret, otherResource)
		rec, client := staticClient(tok)
		_, err := mcp.NewClient(&mcp.Implementation{Name: "ci", Version: "1"}, nil).
			Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: s.resource, HTTPClient: client}, nil)
		log := rec.exchanges()
		if err == nil || len(log) == 0 || log[0].status != http.StatusUnauthorized ||
			challengeParam(log[0].challenge, "Bearer", "error") != "invalid_token" ||
			challengeParam(log[0].challenge, "Bearer", "resource_metadata") != metadataURL {
			t.Fatalf("connect with a token for %s: %v, exchanges %v; want 401 invalid_token with resource_metadata", otherResource, err, log)
		}
	})

	t.Run("a token without notes:write", func(t *testing.T) {
		tok := clientToken(t, s, "ci", secret, s.resource)
		rec, client := staticClient(tok)
		ctx := context.Background()
		session, err := mcp.NewClient(&mcp.Implementation{Name: "ci", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.resource, HTTPClient: client}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer session.Close()
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
		if err != nil || res.IsError || !strings.Contains(toolText(res), `"subject":"client:ci"`) {
			t.Fatalf("whoami: %v %+v", err, res)
		}
		_, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "notes_add", Arguments: map[string]any{"text": "x"}})
		// The SDK's client gives up on the session after the 403 (and
		// closes it with DELETE): find the answer to the call.
		var last exchange
		for _, x := range rec.exchanges() {
			if x.method == http.MethodPost && x.status != http.StatusOK && x.status != http.StatusAccepted {
				last = x
			}
		}
		if err == nil || last.status != http.StatusForbidden ||
			challengeParam(last.challenge, "Bearer", "error") != "insufficient_scope" ||
			challengeParam(last.challenge, "Bearer", "scope") != scopeWrite ||
			challengeParam(last.challenge, "Bearer", "resource_metadata") != metadataURL {
			t.Fatalf("notes_add without %s: %v, last exchange %+v; want 403 insufficient_scope, scope and resource_metadata", scopeWrite, err, last)
		}

	})

	t.Run("a batch is gated by every tool it calls", func(t *testing.T) {
		tok := clientToken(t, s, "ci", secret, s.resource)
		batch := `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list"}},` +
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"notes_add","arguments":{"text":"x"}}}]`
		resp := post(t, s.resource, tok, "", batch)
		if ch := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != http.StatusForbidden ||
			challengeParam(ch, "Bearer", "scope") != scopeRead+" "+scopeWrite {
			t.Errorf("batch: %d %q, want 403 naming both scopes", resp.StatusCode, ch)
		}
	})

	t.Run("another caller's token on a session", func(t *testing.T) {
		// The SDK compares the session's user with bearer's subject.
		tok := clientToken(t, s, "ci", secret, s.resource)
		_, client := staticClient(tok)
		ctx := context.Background()
		session, err := mcp.NewClient(&mcp.Implementation{Name: "ci", Version: "1"}, nil).
			Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.resource, HTTPClient: client}, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer session.Close()
		call := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami"}}`
		if resp := post(t, s.resource, tok, session.ID(), call); resp.StatusCode != http.StatusOK {
			t.Fatalf("the session's own caller: %d", resp.StatusCode)
		}
		hijack := clientToken(t, s, "ci2", other, s.resource)
		if resp := post(t, s.resource, hijack, session.ID(), call); resp.StatusCode != http.StatusForbidden {
			t.Errorf("another subject on the session: %d, want 403", resp.StatusCode)
		}
	})
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

// post sends a JSON-RPC message to the MCP endpoint as a streamable HTTP
// client does, with a bearer token and a session when given.
func post(t *testing.T, endpoint, token, session, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// clientToken gets a client credentials token for resource (RFC 8707).
func clientToken(t *testing.T, s *stack, id, secret, resource string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.env.URL + "/token",
		AuthStyle: oauth2.AuthStyleInHeader, EndpointParams: url.Values{"resource": {resource}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("token for %s: %v", resource, err)
	}
	return tok.AccessToken
}

// staticClient sends tok as a bearer token and records the exchanges.
func staticClient(tok string) (*recorder, *http.Client) {
	rec, _ := newRecorder()
	return rec, &http.Client{Timeout: 30 * time.Second,
		Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}), Base: rec}}
}

// toolText is the text content of a tool result.
func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// The tools check their scopes themselves, behind the HTTP scope gate: a
// call that reaches one without the scope is a tool error naming it.
func TestToolsCheckScopes(t *testing.T) {
	notes := newNoteStore(time.Now)
	req := func(scopes ...string) *mcp.CallToolRequest {
		c := &bearer.Claims{Subject: "alice-id", ClientID: "agent", Scopes: scopes}
		return &mcp.CallToolRequest{Extra: &mcp.RequestExtra{TokenInfo: &auth.TokenInfo{Extra: map[string]any{claimsKey: c}}}}
	}
	if _, _, err := notes.add(context.Background(), req(scopeRead), AddInput{Text: "x"}); err == nil || !strings.Contains(err.Error(), scopeWrite) {
		t.Errorf("notes_add with notes:read only: %v", err)
	}
	if _, _, err := notes.list(context.Background(), req(scopeWrite), struct{}{}); err == nil || !strings.Contains(err.Error(), scopeRead) {
		t.Errorf("notes_list with notes:write only: %v", err)
	}
	if _, _, err := whoami(context.Background(), &mcp.CallToolRequest{}, struct{}{}); err == nil {
		t.Error("whoami without verified claims answered")
	}
	if _, got, err := notes.add(context.Background(), req(scopeWrite), AddInput{Text: "x"}); err != nil || got.Count != 1 {
		t.Errorf("notes_add with notes:write: %v %+v", err, got)
	}
	if _, _, err := notes.add(context.Background(), req(scopeWrite), AddInput{Text: strings.Repeat("x", maxNote+1)}); err == nil {
		t.Error("a note over the limit was stored")
	}
}

// The scope gate finds the tools a message calls, in a batch too; other
// methods and garbage call none (and go on to the SDK, which answers them).
func TestCalledTools(t *testing.T) {
	for body, want := range map[string][]string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_add","arguments":{"text":"x"}}}`: {"notes_add"},
		` [{"method":"tools/list"},{"method":"tools/call","params":{"name":"notes_list"}}]`:                     {"notes_list"},
		`{"method":"tools/list"}`: nil,
		`{"method":"tools/call"`:  nil,
		``:                        nil,
	} {
		if got := calledTools([]byte(body)); !slices.Equal(got, want) {
			t.Errorf("calledTools(%s) = %q, want %q", body, got, want)
		}
	}
}

// A DPoP-bound token (RFC 9449) passes bearer's checks with its proof and
// reaches the tools; sent as a bearer token it is refused (S169).
func TestDPoPBoundToken(t *testing.T) {
	s := newStack(t, nil)
	secret := s.env.AddClient(t, store.Client{ID: "ci", GrantTypes: []string{"client_credentials"},
		Scopes: []string{scopeRead}, Resources: []string{s.resource}})
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	holder, err := dpop.NewProver(key)
	if err != nil {
		t.Fatal(err)
	}
	tok := dpopClientToken(t, s, "ci", secret, holder)

	send := func(scheme, session, body string, withProof bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.resource, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", scheme+" "+tok)
		if withProof {
			proof, err := holder.Proof(http.MethodPost, s.resource, tok, "")
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("DPoP", proof)
		}
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	init := send("DPoP", "", initializeBody, true)
	session := init.Header.Get("Mcp-Session-Id")
	if init.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("initialize with a DPoP-bound token: %d, session %q", init.StatusCode, session)
	}
	send("DPoP", session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, true)
	call := send("DPoP", session, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}}`, true)
	body, _ := io.ReadAll(call.Body)
	if call.StatusCode != http.StatusOK || !strings.Contains(string(body), `\"subject\":\"client:ci\"`) {
		t.Errorf("whoami with DPoP: %d %s", call.StatusCode, body)
	}
	asBearer := send("Bearer", session, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}`, false)
	if ch := asBearer.Header.Get("WWW-Authenticate"); asBearer.StatusCode != http.StatusUnauthorized || !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("the bound token as a bearer token: %d %q, want 401 invalid_token", asBearer.StatusCode, ch)
	}
}

// dpopClientToken gets a client credentials token for the MCP server bound
// to holder's key.
func dpopClientToken(t *testing.T, s *stack, id, secret string, holder *dpop.Prover) string {
	t.Helper()
	proof, err := holder.Proof(http.MethodPost, s.env.URL+"/token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {s.resource}}
	req, _ := http.NewRequest(http.MethodPost, s.env.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.TokenType != "DPoP" {
		t.Fatalf("DPoP token: %d %v %+v", resp.StatusCode, err, tok)
	}
	return tok.AccessToken
}

// TestAgentStepUp: an agent that first asks only for notes:read calls
// notes_add; the 403 insufficient_scope with scope="notes:write" (RFC 6750
// §3.1, S058) makes the SDK's client authorize again for both scopes (the
// MCP spec's step-up), and the retried call succeeds.
func TestAgentStepUp(t *testing.T) {
	s := newStack(t, nil)
	cb := newCallback(t)
	s.env.AddClient(t, store.Client{ID: "agent", Public: true, TokenEndpointAuthMethod: "none",
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{scopeRead, scopeWrite},
		RedirectURIs: []string{cb.URL + "/cb"}, Resources: []string{s.resource}})
	a := connect(t, s, cb, func(c *auth.AuthorizationCodeHandlerConfig) {
		c.PreregisteredClient = &oauthex.ClientCredentials{ClientID: "agent", Issuer: s.env.URL}
		// At first the agent asks for the least it needs: of the
		// metadata's scopes, notes:read; a challenge's scopes pass as they are.
		c.ScopeFilter = func(discovered []string) []string {
			if slices.Equal(discovered, []string{scopeRead, scopeWrite}) {
				return []string{scopeRead}
			}
			return discovered
		}
	})
	var me Identity
	a.call(t, "whoami", nil, &me)
	if !slices.Equal(me.Scopes, []string{scopeRead}) {
		t.Fatalf("first token's scopes %q, want only %s", me.Scopes, scopeRead)
	}
	var added AddResult
	a.call(t, "notes_add", map[string]any{"text": "step up"}, &added)
	if added.Count != 1 {
		t.Errorf("notes_add after step-up: %+v", added)
	}
	if len(a.authURL) != 2 {
		t.Fatalf("%d authorization requests, want 2 (the first and the step-up)", len(a.authURL))
	}
	u, _ := url.Parse(a.authURL[1])
	// Scopes are a set (RFC 6749 §3.3): the order the client sends them in is its own.
	if got := strings.Fields(u.Query().Get("scope")); !sameScopes(got, []string{scopeRead, scopeWrite}) {
		t.Errorf("step-up asked for scope %q, want %s and %s", got, scopeRead, scopeWrite)
	}
	var forbidden []exchange
	for _, x := range a.rec.exchanges() {
		if x.status == http.StatusForbidden {
			forbidden = append(forbidden, x)
		}
	}
	if len(forbidden) != 1 || challengeParam(forbidden[0].challenge, "Bearer", "scope") != scopeWrite {
		t.Errorf("403 answers %+v, want one naming scope %s", forbidden, scopeWrite)
	}
	a.call(t, "whoami", nil, &me)
	if !slices.Contains(me.Scopes, scopeWrite) || me.Subject != s.alice.ID {
		t.Errorf("after step-up whoami %+v", me)
	}
}

// sameScopes reports whether a and b hold the same scopes, in any order.
func sameScopes(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
