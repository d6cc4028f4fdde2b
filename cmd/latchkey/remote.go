package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauthclient"
)

// remoteFlags point client, user and keys at a running server's admin
// API instead of the store, and choose the output of list and show.
type remoteFlags struct {
	server, issuer, clientID, secret, output string
}

func (r *remoteFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&r.server, "server", getenv("LATCHKEY_SERVER"), "talk to the admin API of the server at `URL` (LATCHKEY_SERVER) instead of the store,\n"+
		"e.g. --server https://admin.login.example; the credentials are a client's with a latchkey:admin scope")
	fs.StringVar(&r.clientID, "client-id", getenv("LATCHKEY_CLIENT_ID"), "admin client `id`, with --server (LATCHKEY_CLIENT_ID)")
	fs.StringVar(&r.secret, "client-secret", "", "admin client `secret`, with --server (prefer LATCHKEY_CLIENT_SECRET: flags show in ps)")
	fs.StringVar(&r.output, "output", "table", "`table` or json (list, and user create; show always prints JSON)")
}

// remote reports whether --server was given, and checks the flags. The
// admin token comes from issuer (--issuer), LATCHKEY_ISSUER, or --server.
func (r *remoteFlags) remote(getenv func(string) string, issuer string) (bool, error) {
	if r.output != "table" && r.output != "json" {
		return false, usageError{fmt.Sprintf("--output %q: use table or json", r.output)}
	}
	if r.server == "" {
		return false, nil
	}
	if r.secret == "" {
		r.secret = getenv("LATCHKEY_CLIENT_SECRET")
	}
	if r.clientID == "" || r.secret == "" {
		return false, usageError{"--server needs an admin client's credentials: --client-id and LATCHKEY_CLIENT_SECRET (or --client-secret)"}
	}
	r.issuer = issuer
	if r.issuer == "" {
		r.issuer = getenv("LATCHKEY_ISSUER")
	}
	if r.issuer == "" {
		r.issuer = r.server
	}
	return true, nil
}

// adminClient calls the admin API with a token from client credentials.
type adminClient struct {
	base, token string
	hc          *http.Client
}

// connect gets an admin token by client credentials, as latchkey token
// client-credentials does: with the narrow scope the command needs, or,
// when the client may not have that one, with latchkey:admin.
func (r *remoteFlags) connect(ctx context.Context, scope string) (*adminClient, error) {
	var resp oauthclient.Response
	for _, s := range []string{scope, admin.ScopeAll} {
		oc, err := oauthclient.New(ctx, oauthclient.Config{Issuer: strings.TrimSuffix(r.issuer, "/"), ClientID: r.clientID,
			ClientSecret: config.Secret(r.secret), Scopes: []string{s}})
		if err != nil {
			return nil, err
		}
		resp, err = oc.ClientCredentials(ctx)
		var oe *oauthclient.Error
		if errors.As(err, &oe) && oe.Code == "invalid_scope" && s != admin.ScopeAll {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get an admin token (scope %s or %s) for %s: %w", scope, admin.ScopeAll, r.clientID, err)
		}
		break
	}
	return &adminClient{base: strings.TrimSuffix(r.server, "/") + admin.Prefix, token: resp.Token.AccessToken,
		hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// call sends one request; a problem answer becomes an error that says
// what the server said, field by field. out, when not nil, receives the
// decoded JSON of a success.
func (c *adminClient) call(ctx context.Context, method, path string, body, out any) error {
	return c.callWith(ctx, method, path, nil, body, out)
}

// callWith is call with extra request headers (If-Match).
func (c *adminClient) callWith(ctx context.Context, method, path string, header http.Header, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: read the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return problemError(resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("admin API: %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// problemError explains an RFC 9457 problem (or an RFC 6750 error).
func problemError(status int, raw []byte) error {
	var p admin.Problem
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(raw, &p) == nil && p.Title != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "admin API: %d %s: %s", status, p.Title, p.Detail)
		for _, fe := range p.Errors {
			fmt.Fprintf(&b, "\n  %s: %s", fe.Field, fe.Detail)
		}
		return fmt.Errorf("%s", b.String())
	}
	if json.Unmarshal(raw, &oauth) == nil && oauth.Error != "" {
		return fmt.Errorf("admin API: %d %s: %s (does the client have a latchkey:admin scope?)", status, oauth.Error, oauth.Description)
	}
	return fmt.Errorf("admin API: status %d", status)
}

// listAll fetches every page of a list.
func (c *adminClient) listAll(ctx context.Context, path string) ([]map[string]any, error) {
	var all []map[string]any
	cursor := ""
	for {
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		q := url.Values{"limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		if err := c.call(ctx, "GET", path+sep+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// writeJSONList prints views as an indented JSON array.
func writeJSONList(w io.Writer, views []map[string]any) error {
	if views == nil {
		views = []map[string]any{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(views)
}
