package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/admin"
)

// userInput is what user create and set-password read from the flags.
type userInput struct {
	password  string
	fromStdin bool
	claims    []string
	// mfa is --mfa-required (create) or the state require-mfa sets.
	mfa bool
}

// runUserRemote is latchkey user … --server URL: the same commands and
// output, through the admin API.
func runUserRemote(ctx context.Context, sub, username string, in userInput, rf remoteFlags, e env) error {
	scope := admin.ScopeUsersWrite
	if sub == "list" || sub == "show" {
		scope = admin.ScopeUsersRead
	} else if username == "" {
		return usageError{"name the user: latchkey user " + sub + " USERNAME --server URL"}
	}
	ac, err := rf.connect(ctx, scope)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		views, err := ac.listAll(ctx, "/users")
		if err != nil {
			return err
		}
		return printUsers(views, rf.output, e)
	case "create":
		claims, err := parseClaims(in.claims)
		if err != nil {
			return err
		}
		pw, err := readPassword(in.password, in.fromStdin, e)
		if err != nil {
			return err
		}
		var u map[string]any
		if err := ac.call(ctx, "POST", "/users", map[string]any{"username": username, "password": pw, "claims": claims, "mfa_required": in.mfa}, &u); err != nil {
			return err
		}
		if rf.output == "json" {
			return printUser(u, e)
		}
		fmt.Fprintf(e.stdout, "created user %s (sub %s)\n", username, str(u["id"]))
		return nil
	}
	id, err := ac.userID(ctx, username)
	if err != nil {
		return err
	}
	switch sub {
	case "show":
		var u map[string]any
		if err := ac.call(ctx, "GET", "/users/"+url.PathEscape(id), nil, &u); err != nil {
			return err
		}
		return printUser(u, e)
	case "delete":
		if err := ac.call(ctx, "DELETE", "/users/"+url.PathEscape(id), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted user %s and every token issued for them\n", username)
		return nil
	case "set-password":
		pw, err := readPassword(in.password, in.fromStdin, e)
		if err != nil {
			return err
		}
		if pw == "" {
			return usageError{"the password must not be empty"}
		}
		if err := ac.call(ctx, "PUT", "/users/"+url.PathEscape(id)+"/password", map[string]string{"password": pw}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s changed\n", username)
		return nil
	case "require-mfa":
		// One flag set as asked, whatever else changed meanwhile: If-Match: *.
		if err := ac.callWith(ctx, "PATCH", "/users/"+url.PathEscape(id), http.Header{"If-Match": {"*"}},
			map[string]bool{"mfa_required": in.mfa}, nil); err != nil {
			return err
		}
		printMFARequired(username, in.mfa, e)
		return nil
	case "reset-mfa":
		var out struct {
			Removed int `json:"factors_removed"`
		}
		if err := ac.call(ctx, "DELETE", "/users/"+url.PathEscape(id)+"/factors", nil, &out); err != nil {
			return err
		}
		printReset(username, out.Removed, e)
		return nil
	}
	return usageError{fmt.Sprintf("unknown user subcommand %q", sub)}
}

// userID finds the id of the user called username through the
// username-prefix search (the index on usernames answers it).
func (c *adminClient) userID(ctx context.Context, username string) (string, error) {
	views, err := c.listAll(ctx, "/users?"+url.Values{"username_prefix": {username}}.Encode())
	if err != nil {
		return "", err
	}
	for _, v := range views {
		if v["username"] == username {
			return str(v["id"]), nil
		}
	}
	return "", fmt.Errorf("no user %q (latchkey user list --server URL shows them)", username)
}
