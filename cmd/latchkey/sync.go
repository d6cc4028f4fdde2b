package main

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
// Records made with the CLI are left alone. It reports how many argon2id
// hashes and checks it ran: none when every typed secret is unchanged
// since the last start (see configSync.secretHash).
func syncConfig(ctx context.Context, st store.Store, cfg config.Config, systemSecret []byte, log *slog.Logger) (int, error) {
	cs := newConfigSync(st, hashParams(cfg), systemSecret, log)
	now := time.Now()
	keep := map[string]bool{}
	for _, cc := range cfg.Clients {
		keep[cc.ID] = true
		old, err := st.GetClient(ctx, cc.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return cs.argon2, fmt.Errorf("sync client %s: %w", cc.ID, err)
		}
		c := clientFromConfig(cc, now)
		if c.SecretHash, err = cs.secretHash(ctx, "client:"+cc.ID, cc.Secret, cc.SecretHash, old.SecretHash); err != nil {
			return cs.argon2, fmt.Errorf("sync client %s: %w", cc.ID, err)
		}
		if err := st.UpsertClient(ctx, c); err != nil {
			return cs.argon2, fmt.Errorf("sync client %s: %w", cc.ID, err)
		}
	}
	if err := cs.dropStaleClients(ctx, keep); err != nil {
		return cs.argon2, err
	}
	err := cs.syncUsers(ctx, cfg.Users)
	return cs.argon2, err
}

// configSync is one run of syncConfig.
type configSync struct {
	st     store.Store
	sync   store.ConfigSyncStore // nil when the backend keeps no verifiers
	params password.Params
	// macKey keys the verifiers: derived from the system secret, which the
	// database does not hold, so a copy of the database gives no fast way
	// to guess a typed secret.
	macKey []byte
	log    *slog.Logger
	argon2 int // argon2id hashes and checks run
}

func newConfigSync(st store.Store, params password.Params, systemSecret []byte, log *slog.Logger) *configSync {
	cs := &configSync{st: st, params: params, log: log}
	if vs, ok := st.(store.ConfigSyncStore); ok && len(systemSecret) > 0 {
		if k, err := hkdf.Key(sha256.New, systemSecret, nil, "latchkey config verifiers v1", 32); err == nil {
			cs.sync, cs.macKey = vs, k
		}
	}
	return cs
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
// every start), or a fresh argon2id hash. Whether it still matches is
// answered first by the verifier recorded when it last matched, an HMAC
// of the record's key, the stored hash and the typed secret, so an
// unchanged secret costs one SHA-256 and no argon2id; a changed secret, a
// changed hash or a missing verifier falls back to argon2id.
func (cs *configSync) secretHash(ctx context.Context, key string, secret config.Secret, given, stored string) (string, error) {
	if given != "" || secret == "" {
		return given, nil
	}
	if stored != "" && password.IsArgon2id(stored) && !password.NeedsRehash(stored, cs.params) {
		want := cs.verifier(key, secret, stored)
		if cs.sync != nil {
			got, err := cs.sync.ConfigVerifier(ctx, key)
			if err != nil {
				return "", err
			}
			if got != "" && hmac.Equal([]byte(got), []byte(want)) {
				return stored, nil
			}
		}
		cs.argon2++
		if ok, err := password.Check(secret.Reveal(), stored); err == nil && ok {
			return stored, cs.setVerifier(ctx, key, want)
		}
	}
	cs.argon2++
	h, err := password.Hash(secret.Reveal(), cs.params, rand.Reader)
	if err != nil {
		return "", err
	}
	// Recorded before the hash is stored: should that fail, the verifier
	// names a hash the store does not hold and never matches.
	return h, cs.setVerifier(ctx, key, cs.verifier(key, secret, h))
}

// verifier is the HMAC-SHA256 of the record's key, its hash and the typed
// secret, NUL-separated, in hex.
func (cs *configSync) verifier(key string, secret config.Secret, hash string) string {
	if cs.sync == nil {
		return ""
	}
	m := hmac.New(sha256.New, cs.macKey)
	m.Write([]byte(key + "\x00" + hash + "\x00" + secret.Reveal()))
	return hex.EncodeToString(m.Sum(nil))
}

func (cs *configSync) setVerifier(ctx context.Context, key, v string) error {
	if cs.sync == nil {
		return nil
	}
	return cs.sync.SetConfigVerifier(ctx, key, v)
}

// sourced lists the clients and users that a config file created: by the
// source index when the backend has one, else from every record.
func (cs *configSync) sourced(ctx context.Context) (clientIDs, usernames []string, err error) {
	if cs.sync != nil {
		return cs.sync.SourcedIDs(ctx, "config")
	}
	clients, err := cs.st.ListClients(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range clients {
		if c.Source == "config" {
			clientIDs = append(clientIDs, c.ID)
		}
	}
	users, err := cs.st.ListUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, u := range users {
		if u.Source == "config" {
			usernames = append(usernames, u.Username)
		}
	}
	return clientIDs, usernames, nil
}

func (cs *configSync) dropStaleClients(ctx context.Context, keep map[string]bool) error {
	ids, _, err := cs.sourced(ctx)
	if err != nil {
		return fmt.Errorf("sync clients: %w", err)
	}
	for _, id := range ids {
		if !keep[id] {
			if err := cs.st.DeleteClient(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("sync: delete client %s: %w", id, err)
			}
			cs.log.Info("deleted client no longer in the config file", "client_id", id)
		}
	}
	return nil
}

func (cs *configSync) syncUsers(ctx context.Context, users []config.User) error {
	keep := map[string]bool{}
	now := time.Now()
	for _, cu := range users {
		keep[cu.Username] = true
		old, err := cs.st.GetUserByUsername(ctx, cu.Username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sync user %s: %w", cu.Username, err)
		}
		hash, err := cs.secretHash(ctx, "user:"+cu.Username, cu.Password, cu.PasswordHash, old.PasswordHash)
		if err != nil {
			return fmt.Errorf("sync user %s: %w", cu.Username, err)
		}
		id, err := newUserID()
		if err != nil {
			return err
		}
		u := store.User{ID: id, Username: cu.Username, PasswordHash: hash, Claims: cu.Claims, Source: "config", CreatedAt: now, UpdatedAt: now,
			MFARequired: cu.MFARequired}
		if _, err := cs.st.UpsertUser(ctx, u); err != nil {
			return fmt.Errorf("sync user %s: %w", cu.Username, err)
		}
	}
	_, names, err := cs.sourced(ctx)
	if err != nil {
		return fmt.Errorf("sync users: %w", err)
	}
	for _, name := range names {
		if keep[name] {
			continue
		}
		u, err := cs.st.GetUserByUsername(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sync: user %s: %w", name, err)
		}
		if err := cs.st.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sync: delete user %s: %w", name, err)
		}
		cs.log.Info("deleted user no longer in the config file", "username", name)
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
