package readcache

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/store"
)

// admin returns the wrapped store's admin side.
func (s *Store) admin() (store.AdminStore, error) {
	a, ok := s.st.(store.AdminStore)
	if !ok {
		return nil, fmt.Errorf("readcache: %T has no admin side", s.st)
	}
	return a, nil
}

// ListClientsPage reads through: listings are never cached.
func (s *Store) ListClientsPage(ctx context.Context, q store.ClientQuery) ([]store.Client, error) {
	a, err := s.admin()
	if err != nil {
		return nil, err
	}
	return a.ListClientsPage(ctx, q)
}

// ReplaceClient purges: the cached client is stale.
func (s *Store) ReplaceClient(ctx context.Context, c store.Client, match func(store.Client) bool) error {
	a, err := s.admin()
	if err != nil {
		return err
	}
	return s.after(a.ReplaceClient(ctx, c, match))
}

// DeleteClientIf purges: the client and its grants are gone.
func (s *Store) DeleteClientIf(ctx context.Context, id string, match func(store.Client) bool) error {
	a, err := s.admin()
	if err != nil {
		return err
	}
	return s.after(a.DeleteClientIf(ctx, id, match))
}

// DeleteUserIf purges: the user and their grants are gone.
func (s *Store) DeleteUserIf(ctx context.Context, id string, match func(store.User) bool) error {
	a, err := s.admin()
	if err != nil {
		return err
	}
	return s.after(a.DeleteUserIf(ctx, id, match))
}

// ListUsersPage reads through.
func (s *Store) ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	a, err := s.admin()
	if err != nil {
		return nil, err
	}
	return a.ListUsersPage(ctx, q)
}

// ReplaceUser purges, as every write does.
func (s *Store) ReplaceUser(ctx context.Context, u store.User, match func(store.User) bool) error {
	a, err := s.admin()
	if err != nil {
		return err
	}
	return s.after(a.ReplaceUser(ctx, u, match))
}

// ListClientGrantsPage reads through: the cache does not keep grants' state.
func (s *Store) ListClientGrantsPage(ctx context.Context, q store.GrantQuery) ([]store.Grant, error) {
	a, err := s.admin()
	if err != nil {
		return nil, err
	}
	return a.ListClientGrantsPage(ctx, q)
}
