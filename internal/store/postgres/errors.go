package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
)

// SQLSTATE codes the store maps. See the PostgreSQL manual, appendix A.
const (
	uniqueViolation     = "23505"
	queryCanceled       = "57014" // statement_timeout, or a cancel request
	adminShutdown       = "57P01" // pg_terminate_backend, fast shutdown
	crashShutdown       = "57P02"
	cannotConnectNow    = "57P03" // starting up, shutting down, in recovery
	tooManyConnections  = "53300"
	deadlockDetected    = "40P01" // e.g. a client deleted while its token rotates
	serializationFailed = "40001"
	connectionException = "08" // class: connection_failure and friends
)

// fail wraps err with the operation's name, mapping driver errors to the
// store's: no rows → ErrNotFound, a unique violation → ErrConflict, a
// database that cannot be reached or answer in time → ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w: store closed: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, classify(err))
}

// classify wraps err with store.ErrConflict for a unique violation and with
// store.ErrUnavailable when the database could not be reached or did not
// answer in time; it returns other errors unchanged.
func classify(err error) error {
	switch {
	case sqlState(err) == uniqueViolation:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case unreachable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err says that the database cannot be used
// right now, so that retrying later may succeed: no connection could be
// made or the one in use broke, the server is shutting down, starting or
// full, the call ran out of time, or it was aborted to break a deadlock. A caller that gave up
// (context.Canceled) is not among them.
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	switch code := sqlState(err); code {
	case adminShutdown, crashShutdown, cannotConnectNow, tooManyConnections, queryCanceled,
		deadlockDetected, serializationFailed:
		// A transaction PostgreSQL aborted to break a deadlock changed
		// nothing; the caller may retry, so it is "try again", not a 500.
		return true
	default:
		return strings.HasPrefix(code, connectionException)
	}
}

// sqlState returns the SQLSTATE of a server error in err's chain, or "".
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
