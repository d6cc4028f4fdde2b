package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// devCallback is the redirect URI of the demo web client.
const devCallback = "http://127.0.0.1:9999/callback"

// devSetup is what serve --dev creates and prints.
type devSetup struct {
	service, app, web, user, userPassword, serviceSecret, appSecret, webSecret string
}

// devSecret derives a demo credential from the system secret, so the same
// values come back on every start without being stored in clear anywhere.
func devSecret(secret []byte, name string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("latchkey dev credential\x00" + name))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// ensureDev creates the demo clients and user (once; later starts find
// them) with credentials derived from the system secret.
func ensureDev(ctx context.Context, st store.Store, secret []byte, p password.Params) (devSetup, error) {
	d := devSetup{
		service: "demo-service", app: "demo-app", web: "demo-web", user: "demo",
		serviceSecret: token.PrefixClientSecret + devSecret(secret, "demo-service"),
		appSecret:     token.PrefixClientSecret + devSecret(secret, "demo-app"),
		webSecret:     token.PrefixClientSecret + devSecret(secret, "demo-web"),
		userPassword:  devSecret(secret, "demo user")[:16],
	}
	now := time.Now()
	clients := []store.Client{
		{ID: d.service, Name: "Demo service (client credentials)", SecretHash: token.HashSecret(d.serviceSecret),
			GrantTypes: []string{protocol.GrantClientCredentials}, Scopes: []string{"read", "write"},
			DefaultScopes: []string{"read"}, Introspection: true},
		{ID: d.app, Name: "Demo app (password)", SecretHash: token.HashSecret(d.appSecret),
			GrantTypes: []string{protocol.GrantPassword, protocol.GrantRefreshToken},
			Scopes:     []string{"openid", "profile", "email", "read", "write"}, DefaultScopes: []string{"read"}},
		{ID: d.web, Name: "Demo web app", SecretHash: token.HashSecret(d.webSecret),
			RedirectURIs: []string{devCallback}, GrantTypes: []string{protocol.GrantAuthorizationCode, protocol.GrantRefreshToken},
			Scopes: []string{"openid", "profile", "email", "read", "write"}, DefaultScopes: []string{"openid", "read"}},
	}
	for _, c := range clients {
		c.Source, c.CreatedAt, c.UpdatedAt = "dev", now, now
		if err := st.UpsertClient(ctx, c); err != nil {
			return d, fmt.Errorf("dev client %s: %w", c.ID, err)
		}
	}
	old, err := st.GetUserByUsername(ctx, d.user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("dev user: %w", err)
	}
	cs := newConfigSync(st, p, secret, slog.New(slog.DiscardHandler))
	hash, err := cs.secretHash(ctx, "dev-user:"+d.user, config.Secret(d.userPassword), "", old.PasswordHash)
	if err != nil {
		return d, err
	}
	id, err := newUserID()
	if err != nil {
		return d, err
	}
	_, err = st.UpsertUser(ctx, store.User{ID: id, Username: d.user, PasswordHash: hash, Source: "dev", CreatedAt: now, UpdatedAt: now,
		Claims: map[string]any{"name": "Demo User", "email": "demo@example.com", "email_verified": true}})
	if err != nil {
		return d, fmt.Errorf("dev user: %w", err)
	}
	return d, nil
}

// printDev prints the demo credentials and a ready-to-paste command for
// each grant, each on one line.
func printDev(w io.Writer, issuer string, d devSetup) {
	tok := issuer + "/token"
	fmt.Fprintf(w, `
Latchkey is running in development mode.

  issuer   %s
  user     %s   password %s
  clients  %-13s secret %s   (client_credentials; may introspect any token)
           %-13s secret %s   (password, refresh_token)
           %-13s secret %s   (authorization_code, refresh_token; redirect %s)

Try each grant (copy one line at a time):

# client credentials
curl -s -u '%s:%s' -d grant_type=client_credentials -d scope=read %s
# password (resource owner credentials)
curl -s -u '%s:%s' -d grant_type=password -d username=%s -d password='%s' -d scope='openid profile read' %s
# refresh: paste the refresh_token of the password grant
curl -s -u '%s:%s' -d grant_type=refresh_token -d refresh_token=PASTE_REFRESH_TOKEN %s
# introspect: paste any access token
curl -s -u '%s:%s' -d token=PASTE_ACCESS_TOKEN %s/introspect
# revoke: paste the refresh token (revokes its whole grant)
curl -s -u '%s:%s' -d token=PASTE_REFRESH_TOKEN %s/revoke
`,
		issuer, d.user, d.userPassword,
		d.service, d.serviceSecret, d.app, d.appSecret, d.web, d.webSecret, devCallback,
		d.service, d.serviceSecret, tok,
		d.app, d.appSecret, d.user, d.userPassword, tok,
		d.app, d.appSecret, tok,
		d.service, d.serviceSecret, issuer,
		d.app, d.appSecret, issuer)
	printDevAuthorize(w, issuer, d)
	fmt.Fprintln(w)
}
