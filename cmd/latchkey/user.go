package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
)

const userExample = `latchkey user create --username alice --claim name="Alice Liddell" --claim email=alice@example.com
latchkey user create bob --password-stdin --output json < pw.txt
latchkey user list
latchkey user show alice
latchkey user set-password alice
echo 'new password' | latchkey user set-password alice --password-stdin
latchkey user delete alice
latchkey user require-mfa alice          # every sign-in asks for a second factor
latchkey user require-mfa alice --off
latchkey user reset-mfa alice            # a lost phone: remove the factors and recovery codes`

func runUser(ctx context.Context, args []string, e env) error {
	fs := newFlags("user", "user create|list|show|delete|set-password|require-mfa|reset-mfa [USERNAME] [flags]", userExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	username := fs.String("username", "", "the user's `name` (create)")
	pw := fs.String("password", "", "the `password` (prefer the prompt or --password-stdin: flags show in ps)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	var claims listFlag
	fs.Var(&claims, "claim", "an OpenID Connect claim `name=value` (create; repeatable)")
	mfa := fs.Bool("mfa-required", false, "every sign-in of the user asks for a second factor (create)")
	off := fs.Bool("off", false, "turn the requirement off (require-mfa)")
	var rf remoteFlags
	rf.register(fs, e.getenv)
	sub, name, done, err := parseNamedSubcommand(fs, args, "user", []string{"create", "list", "show", "delete", "set-password", "require-mfa", "reset-mfa"})
	if done {
		return err
	}
	if *username == "" {
		*username = name
	}
	if remote, err := rf.remote(e.getenv, cf.issuer); err != nil {
		return err
	} else if remote {
		return runUserRemote(ctx, sub, *username, userInput{*pw, *fromStdin, claims, *mfa || (sub == "require-mfa" && !*off)}, rf, e)
	}
	return withStore(ctx, &cf, e, func(cfg config.Config, st store.Store, _ []string) error {
		if sub == "list" {
			return listUsers(ctx, st, rf.output, e)
		}
		if *username == "" {
			return usageError{"name the user: latchkey user " + sub + " USERNAME"}
		}
		switch sub {
		case "create":
			secret, err := readPassword(*pw, *fromStdin, e)
			if err != nil {
				return err
			}
			return createUser(ctx, st, cfg, newUser{*username, secret, claims, *mfa}, rf.output, e)
		case "require-mfa":
			return requireMFA(ctx, st, *username, !*off, e)
		case "reset-mfa":
			return resetMFA(ctx, cfg, st, *username, e)
		case "show":
			u, err := getUser(ctx, st, *username)
			if err != nil {
				return err
			}
			return printUser(admin.UserView(u), e)
		case "delete":
			return deleteUser(ctx, st, *username, e)
		case "set-password":
			secret, err := readPassword(*pw, *fromStdin, e)
			if err != nil {
				return err
			}
			return setPassword(ctx, st, cfg, *username, secret, e)
		}
		return usageError{fmt.Sprintf("unknown user subcommand %q", sub)}
	})
}

// readPassword takes the password from the flag, standard input, or a
// prompt on the terminal that does not echo.
func readPassword(flagValue string, fromStdin bool, e env) (string, error) {
	switch {
	case flagValue != "":
		return flagValue, nil
	case fromStdin:
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageError{"give the password with --password-stdin (standard input is not a terminal)"}
	}
	fmt.Fprint(e.stderr, "Password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// newUser is what user create stores: a name, a password and --claim flags.
type newUser struct {
	username, password string
	claims             []string
	mfaRequired        bool
}

// createUser stores nu and prints its sub, or with output "json" the
// stored user as the admin API shows it (what user show prints).
func createUser(ctx context.Context, st store.Store, cfg config.Config, nu newUser, output string, e env) error {
	username, pw := nu.username, nu.password
	parsed, err := parseClaims(nu.claims)
	if err != nil {
		return err
	}
	cu := config.User{Username: username, Password: config.Secret(pw), Claims: parsed}
	check := config.Default()
	check.Users = []config.User{cu}
	if err := check.Validate(rules()); err != nil {
		return err
	}
	hash, err := password.Hash(pw, hashParams(cfg), rand.Reader)
	if err != nil {
		return err
	}
	id, err := newUserID()
	if err != nil {
		return err
	}
	now := time.Now()
	err = st.CreateUser(ctx, store.User{ID: id, Username: username, PasswordHash: hash, Claims: cu.Claims, Source: "cli",
		CreatedAt: now, UpdatedAt: now, MFARequired: nu.mfaRequired})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("user %q exists already", username)
	}
	if err != nil {
		return err
	}
	if output == "json" {
		u, err := st.GetUser(ctx, id)
		if err != nil {
			return err
		}
		return printUser(admin.UserView(u), e)
	}
	fmt.Fprintf(e.stdout, "created user %s (sub %s)\n", username, id)
	return nil
}

// parseClaims reads --claim name=value flags.
func parseClaims(claims []string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range claims {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Sprintf("--claim %q: expected name=value", kv)}
		}
		out[k] = claimValue(v)
	}
	return out, nil
}

// claimValue keeps true and false as booleans (email_verified).
func claimValue(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

func listUsers(ctx context.Context, st store.Store, output string, e env) error {
	all, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	views := make([]map[string]any, len(all))
	for i, u := range all {
		views[i] = admin.UserView(u)
	}
	return printUsers(views, output, e)
}

// printUsers prints user views as a table or JSON; local and remote alike.
func printUsers(views []map[string]any, output string, e env) error {
	if output == "json" {
		return writeJSONList(e.stdout, views)
	}
	var rows [][]string
	for _, v := range views {
		rows = append(rows, []string{str(v["username"]), str(v["id"]), str(v["source"]), str(v["created_at"])})
	}
	return writeTable(e.stdout, []string{"USERNAME", "SUB", "SOURCE", "CREATED"}, rows)
}

// printUser prints one user view as JSON; local and remote alike.
func printUser(view map[string]any, e env) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(view)
}

func getUser(ctx context.Context, st store.Store, username string) (store.User, error) {
	u, err := st.GetUserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("no user %q (latchkey user list shows them)", username)
	}
	return u, err
}

func deleteUser(ctx context.Context, st store.Store, username string, e env) error {
	u, err := getUser(ctx, st, username)
	if err != nil {
		return err
	}
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted user %s and every token issued for them\n", username)
	if u.Source == "config" {
		fmt.Fprintln(e.stdout, "note: the user is defined in the config file and comes back at the next start unless you remove it there")
	}
	return nil
}

func setPassword(ctx context.Context, st store.Store, cfg config.Config, username, pw string, e env) error {
	if pw == "" {
		return usageError{"the password must not be empty"}
	}
	u, err := getUser(ctx, st, username)
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw, hashParams(cfg), rand.Reader)
	if err != nil {
		return err
	}
	if err := st.SetUserPassword(ctx, u.ID, hash, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s changed\n", username)
	return nil
}

// requireMFA turns the user's second-factor requirement on or off.
func requireMFA(ctx context.Context, st store.Store, username string, on bool, e env) error {
	as, ok := st.(store.AdminStore)
	if !ok {
		return errors.New("this store cannot change users in place")
	}
	u, err := getUser(ctx, st, username)
	if err != nil {
		return err
	}
	u.MFARequired, u.UpdatedAt = on, time.Now()
	if err := as.ReplaceUser(ctx, u, func(store.User) bool { return true }); err != nil {
		return err
	}
	printMFARequired(username, on, e)
	return nil
}

func printMFARequired(username string, on bool, e env) {
	if on {
		fmt.Fprintf(e.stdout, "%s must sign in with a second factor (enrolled at the next sign-in if they have none)\n", username)
		return
	}
	fmt.Fprintf(e.stdout, "%s may sign in with a password alone again, unless they have a second factor\n", username)
}

// resetMFA removes the user's second factors and recovery codes, and
// records mfa.removed when audit is on.
func resetMFA(ctx context.Context, cfg config.Config, st store.Store, username string, e env) error {
	u, err := getUser(ctx, st, username)
	if err != nil {
		return err
	}
	n, err := st.DeleteFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	rec, stopAudit, err := startAudit(ctx, cfg, st, nil, newLogger(cfg, e.stderr))
	if err != nil {
		return err
	}
	rec.Record(ctx, audit.Event{Time: time.Now(), Type: audit.MFARemoved, Actor: "system", UserID: u.ID,
		Details: map[string]string{"via": "cli", "factors": strconv.Itoa(n)}})
	stopAudit()
	printReset(username, n, e)
	return nil
}

func printReset(username string, n int, e env) {
	fmt.Fprintf(e.stdout, "removed %d second factor(s) and the recovery codes of %s\n", n, username)
}
