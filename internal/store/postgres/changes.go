package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"
)

// changesChannel names the notification channel on which every revocation
// and every change to a client or user is announced, so that the other
// instances drop what they cached at once rather than within
// database.cache_ttl. Channels belong to the database, so the name is
// derived from the schema: deployments in other schemas hear nothing.
func changesChannel(schema string) string {
	sum := sha256.Sum256([]byte(schema))
	return "latchkey_changes_" + hex.EncodeToString(sum[:8])
}

// announce tells every listening instance that something it may have
// cached changed. It is best effort: should it fail, their caches expire
// anyway.
func (s *Store) announce(ctx context.Context) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, _ = s.pool.Exec(ctx, "SELECT pg_notify($1, '')", s.channel)
}

// WatchChanges listens for announcements on a connection of its own and
// calls changed for each one, and once each time it starts listening
// (announcements may have been missed while it was not), until ctx ends.
// A lost connection is reported to failed and opened again after a pause
// that grows from 100 ms to 5 s.
func (s *Store) WatchChanges(ctx context.Context, changed func(), failed func(error)) {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	pause := first
	for {
		listened, err := s.listen(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		failed(err)
		if listened {
			pause = first
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, most)
	}
}

// listen opens a connection, listens on changesChannel and calls changed
// for every notification until the connection fails or ctx ends.
func (s *Store) listen(ctx context.Context, changed func()) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.direct.Copy())
	if err != nil {
		return false, classify(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, classify(err)
	}
	changed()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, classify(err)
		}
		changed()
	}
}
