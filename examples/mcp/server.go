package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/latchkey/latchkey/bearer"
)

// The scopes the tools need.
const (
	scopeRead  = "notes:read"
	scopeWrite = "notes:write"
)

// toolScopes are the scopes each tool needs; a tool not listed needs only
// a valid token.
func toolScopes() map[string][]string {
	return map[string][]string{
		"notes_list": {scopeRead},
		"notes_add":  {scopeWrite},
	}
}

// newHandler serves the MCP endpoint at path, protected by v, and this
// resource's metadata (RFC 9728) at v.MetadataPath().
//
// A request to the endpoint passes, in order: bearer's token check (401
// with resource_metadata when it fails); the scope gate, which answers a
// tools/call of a tool whose scope the token lacks with bearer's 403
// insufficient_scope naming the scope, as the MCP authorization spec asks
// so that clients can step up; the SDK's auth middleware, which only
// carries bearer's verified claims to the tools (and binds each MCP
// session to its user); and the SDK's streamable HTTP handler.
func newHandler(v *bearer.Validator, path string, notes *noteStore, log *slog.Logger) http.Handler {
	server := newMCPServer(notes)
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Logger: log})
	sdk := withTokenInfo(streamable)
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle(path, v.Middleware(scopeGate(v, sdk)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// maxPeek bounds the JSON-RPC body the scope gate reads: the SDK's own
// limit (mcp.DefaultMaxRequestBodyBytes).
const maxPeek = mcp.DefaultMaxRequestBodyBytes

// scopeGate lets a POST whose JSON-RPC message calls tools through to
// next only with the scopes those tools need (toolScopes), answering
// bearer's 403 insufficient_scope otherwise; the body is put back for the
// SDK to read. The tools check their scopes again themselves: the gate
// exists to answer at the HTTP level, where clients step up.
func scopeGate(v *bearer.Validator, next http.Handler) http.Handler {
	need := toolScopes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxPeek+1))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil {
			http.Error(w, "cannot read the request", http.StatusBadRequest)
			return
		}
		var scopes []string
		for _, tool := range calledTools(body) {
			for _, s := range need[tool] {
				if !slices.Contains(scopes, s) {
					scopes = append(scopes, s)
				}
			}
		}
		if len(scopes) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		v.RequireScope(scopes...)(next).ServeHTTP(w, r)
	})
}

// calledTools returns the names of the tools that a JSON-RPC message (or
// a batch of them, which older protocol versions allow) calls.
func calledTools(body []byte) []string {
	type call struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	var calls []call
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		_ = json.Unmarshal(trimmed, &calls)
	} else {
		var c call
		if json.Unmarshal(trimmed, &c) == nil {
			calls = append(calls, c)
		}
	}
	var tools []string
	for _, c := range calls {
		if c.Method == "tools/call" {
			tools = append(tools, c.Params.Name)
		}
	}
	return tools
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// claimsKey is where withTokenInfo puts bearer's claims in the SDK's
// TokenInfo.Extra.
const claimsKey = "bearer.claims"

// withTokenInfo hands bearer's verified claims to the SDK, whose tools see
// them in req.Extra.TokenInfo, through the SDK's own middleware (the only
// way to set TokenInfo). Its verifier checks nothing: bearer.Middleware,
// before it, has checked the token, and its DPoP proof if it came with one.
// TokenInfo.UserID is the subject, so that the SDK refuses an MCP session
// to anyone but the user who opened it.
func withTokenInfo(next http.Handler) http.Handler {
	verified := func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		c, ok := bearer.ClaimsFrom(ctx)
		if !ok {
			return nil, fmt.Errorf("%w: no verified claims (is bearer.Middleware in front?)", auth.ErrInvalidToken)
		}
		return &auth.TokenInfo{Scopes: c.Scopes, Expiration: c.Expiry, UserID: c.Subject,
			Extra: map[string]any{claimsKey: c}}, nil
	}
	sdk := auth.RequireBearerToken(verified, nil)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The SDK's middleware reads the Bearer scheme only; a DPoP-bound
		// token has passed bearer's checks with its proof already.
		if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "DPoP") {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		sdk.ServeHTTP(w, r)
	})
}

// claimsOf returns the caller's verified claims, refusing the call (as a
// tool error, which the agent sees) without the scopes.
func claimsOf(req *mcp.CallToolRequest, scopes ...string) (*bearer.Claims, error) {
	var c *bearer.Claims
	if req.Extra != nil && req.Extra.TokenInfo != nil {
		c, _ = req.Extra.TokenInfo.Extra[claimsKey].(*bearer.Claims)
	}
	if c == nil {
		return nil, errors.New("no verified token came with this call")
	}
	for _, s := range scopes {
		if !c.HasScope(s) {
			return nil, fmt.Errorf("this tool needs the scope %s; the token has %q", s, strings.Join(c.Scopes, " "))
		}
	}
	return c, nil
}

// newMCPServer is the MCP server and its tools.
func newMCPServer(notes *noteStore) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "latchkey-notes", Version: "1.0.0"},
		&mcp.ServerOptions{Instructions: "Notes of the signed-in user. notes_list needs notes:read, notes_add notes:write."})
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "Who the access token speaks for: subject, client and scopes."}, whoami)
	mcp.AddTool(s, &mcp.Tool{Name: "notes_list", Description: "List your notes (needs scope notes:read)."}, notes.list)
	mcp.AddTool(s, &mcp.Tool{Name: "notes_add", Description: "Add a note (needs scope notes:write)."}, notes.add)
	return s
}

// Identity is what whoami answers.
type Identity struct {
	Subject   string    `json:"subject"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	Audience  []string  `json:"audience"`
	ExpiresAt time.Time `json:"expires_at"`
}

func whoami(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, Identity, error) {
	c, err := claimsOf(req)
	if err != nil {
		return nil, Identity{}, err
	}
	return nil, Identity{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes, Audience: c.Audience, ExpiresAt: c.Expiry}, nil
}

// Note is one note.
type Note struct {
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

// NoteList is what notes_list answers.
type NoteList struct {
	Notes []Note `json:"notes"`
}

// AddInput is notes_add's input.
type AddInput struct {
	Text string `json:"text" jsonschema:"the note's text"`
}

// AddResult is what notes_add answers.
type AddResult struct {
	Count int `json:"count"`
}

// noteStore keeps each subject's notes in memory.
type noteStore struct {
	now   func() time.Time
	mu    sync.Mutex
	bySub map[string][]Note
}

func newNoteStore(now func() time.Time) *noteStore {
	return &noteStore{now: now, bySub: map[string][]Note{}}
}

func (n *noteStore) list(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, NoteList, error) {
	c, err := claimsOf(req, scopeRead)
	if err != nil {
		return nil, NoteList{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return nil, NoteList{Notes: append([]Note{}, n.bySub[c.Subject]...)}, nil
}

// maxNote bounds a note's text.
const maxNote = 4 << 10

func (n *noteStore) add(_ context.Context, req *mcp.CallToolRequest, in AddInput) (*mcp.CallToolResult, AddResult, error) {
	c, err := claimsOf(req, scopeWrite)
	if err != nil {
		return nil, AddResult{}, err
	}
	if in.Text == "" || len(in.Text) > maxNote {
		return nil, AddResult{}, fmt.Errorf("a note needs 1 to %d bytes of text", maxNote)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.bySub[c.Subject] = append(n.bySub[c.Subject], Note{Text: in.Text, Created: n.now().UTC()})
	return nil, AddResult{Count: len(n.bySub[c.Subject])}, nil
}
