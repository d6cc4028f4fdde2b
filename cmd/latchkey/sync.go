package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
)

// syncConfig makes the store hold exactly the clients and users of the
// config file: those in the file are upserted, and records that an earlier
// version of the file created but this one no longer lists are deleted.
// Records made with the CLI are left alone.
func syncConfig(ctx context.Context, st store.Store, cfg config.Config, log *slog.Logger) error {
	params := hashParams(cfg)
	now := time.Now()
	keep := map[string]bool{}
	for _, cc := range cfg.Clients {
		keep[cc.ID] = true
		old, err := st.GetClient(ctx, cc.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sync client %s: %w", cc.ID, err)
		}
		c := clientFromConfig(cc, now)
		if c.SecretHash, err = secretHash(cc.Secret, cc.SecretHash, old.SecretHash, params); err != nil {
			return fmt.Errorf("sync client %s: %w", cc.ID, err)
		}
		if err := st.UpsertClient(ctx, c); err != nil {
			return fmt.Errorf("sync client %s: %w", cc.ID, err)
		}
	}
	if err := dropStale(ctx, st, keep, log); err != nil {
		return err
	}
	return syncUsers(ctx, st, cfg.Users, params, log)
}

func hashParams(cfg config.Config) password.Params {
	return password.Params{MemoryKiB: cfg.Passwords.MemoryKiB, Iterations: cfg.Passwords.Iterations, Parallelism: cfg.Passwords.Parallelism}
}

func clientFromConfig(cc config.Client, now time.Time) store.Client {
	return admin.ClientFromConfig(cc, now)
}

// jwksJSON writes a JWK Set read from YAML as JSON ("" for none);
// validation has checked that it is one.
func jwksJSON(set map[string]any) string {
	if len(set) == 0 {
		return ""
	}
	b, err := json.Marshal(set)
	if err != nil {
		return ""
	}
	return string(b)
}

// secretHash returns the hash to store for a configured secret: the one
// given, the one stored already when it still matches (no new salt on
// every start), or a fresh argon2id hash.
func secretHash(secret config.Secret, given, stored string, p password.Params) (string, error) {
	if given != "" || secret == "" {
		return given, nil
	}
	if stored != "" && password.IsArgon2id(stored) && !password.NeedsRehash(stored, p) {
		if ok, err := password.Check(secret.Reveal(), stored); err == nil && ok {
			return stored, nil
		}
	}
	return password.Hash(secret.Reveal(), p, rand.Reader)
}

func dropStale(ctx context.Context, st store.Store, keep map[string]bool, log *slog.Logger) error {
	all, err := st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("sync clients: %w", err)
	}
	for _, c := range all {
		if c.Source == "config" && !keep[c.ID] {
			if err := st.DeleteClient(ctx, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("sync: delete client %s: %w", c.ID, err)
			}
			log.Info("deleted client no longer in the config file", "client_id", c.ID)
		}
	}
	return nil
}

func syncUsers(ctx context.Context, st store.Store, users []config.User, p password.Params, log *slog.Logger) error {
	keep := map[string]bool{}
	now := time.Now()
	for _, cu := range users {
		keep[cu.Username] = true
		old, err := st.GetUserByUsername(ctx, cu.Username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sync user %s: %w", cu.Username, err)
		}
		hash, err := secretHash(cu.Password, cu.PasswordHash, old.PasswordHash, p)
		if err != nil {
			return fmt.Errorf("sync user %s: %w", cu.Username, err)
		}
		id, err := newUserID()
		if err != nil {
			return err
		}
		u := store.User{ID: id, Username: cu.Username, PasswordHash: hash, Claims: cu.Claims, Source: "config", CreatedAt: now, UpdatedAt: now}
		if _, err := st.UpsertUser(ctx, u); err != nil {
			return fmt.Errorf("sync user %s: %w", cu.Username, err)
		}
	}
	all, err := st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("sync users: %w", err)
	}
	for _, u := range all {
		if u.Source == "config" && !keep[u.Username] {
			if err := st.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("sync: delete user %s: %w", u.Username, err)
			}
			log.Info("deleted user no longer in the config file", "username", u.Username)
		}
	}
	return nil
}

// newUserID makes a user's stable subject: 128 random bits, base64url, so
// it never contains the colon of client subjects.
func newUserID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("user id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
