package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

const registrationExample = `latchkey registration token create --expires 24h --max-uses 10
latchkey registration token list
latchkey registration token revoke ID`

// runRegistration manages the initial access tokens that allow dynamic
// client registration (RFC 7591 §3) when it is not open.
func runRegistration(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "token" {
		fs := newFlags("registration", "registration token create|list|revoke [ID] [flags]", registrationExample, e.stdout)
		if done, err := parse(fs, args); done {
			return err
		}
		fs.Usage()
		return usageError{"expected: latchkey registration token create|list|revoke"}
	}
	fs := newFlags("registration token", "registration token create|list|revoke [ID] [flags]", registrationExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	expires := fs.Duration("expires", 24*time.Hour, "how long the token allows registering, e.g. 24h or 30m (create)")
	maxUses := fs.Int("max-uses", 1, "how many clients it may register; 0 means no limit (create)")
	sub, id, done, err := parseNamedSubcommand(fs, args[1:], "registration token", []string{"create", "list", "revoke"})
	if done {
		return err
	}
	return withStore(ctx, &cf, e, func(_ config.Config, st store.Store, _ []string) error {
		switch sub {
		case "create":
			return createInitialToken(ctx, st, *expires, *maxUses, e)
		case "list":
			return listInitialTokens(ctx, st, e)
		}
		return revokeInitialToken(ctx, st, id, e)
	})
}

// createInitialToken mints a token, stores its digest and prints it once.
func createInitialToken(ctx context.Context, st store.Store, expires time.Duration, maxUses int, e env) error {
	if expires <= 0 || maxUses < 0 {
		return usageError{"--expires must be positive and --max-uses 0 or more"}
	}
	raw, _, err := token.New(token.PrefixInitialToken, rand.Reader)
	if err != nil {
		return err
	}
	id, _, err := token.New("", rand.Reader)
	if err != nil {
		return err
	}
	id = id[:12] // a name for list and revoke, not a secret
	uses := maxUses
	if uses == 0 {
		uses = -1
	}
	now := time.Now()
	t := store.InitialToken{ID: id, Digest: token.HashSecret(raw), UsesLeft: uses, CreatedAt: now, ExpiresAt: now.Add(expires)}
	if err := st.CreateInitialToken(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "initial_access_token: %s\n", raw)
	fmt.Fprintf(e.stdout, "id: %s  expires: %s  uses: %s\n", id, t.ExpiresAt.UTC().Format(time.RFC3339), usesText(uses))
	fmt.Fprintln(e.stdout, "Give it to the client developer now: it is shown only once. Send it as Authorization: Bearer to /register.")
	return nil
}

func listInitialTokens(ctx context.Context, st store.Store, e env) error {
	all, err := st.ListInitialTokens(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, t := range all {
		rows = append(rows, []string{t.ID, t.ExpiresAt.UTC().Format(time.RFC3339), usesText(t.UsesLeft), t.CreatedAt.UTC().Format(time.RFC3339)})
	}
	return writeTable(e.stdout, []string{"ID", "EXPIRES", "USES LEFT", "CREATED"}, rows)
}

func revokeInitialToken(ctx context.Context, st store.Store, id string, e env) error {
	if id == "" {
		return usageError{"name the token: latchkey registration token revoke ID (latchkey registration token list shows them)"}
	}
	if err := st.DeleteInitialToken(ctx, id); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no initial access token %q (latchkey registration token list shows them)", id)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked initial access token %s; clients it registered stay\n", id)
	return nil
}

func usesText(n int) string {
	if n < 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}
