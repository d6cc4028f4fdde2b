package sqlite

import "context"

// Pragmas returns the value of PRAGMA name on the writer and on a reader
// connection of s, for tests.
func (s *Store) Pragmas(ctx context.Context, name string) (writer, reader string, err error) {
	if err := s.w.db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&writer); err != nil {
		return "", "", err
	}
	if err := s.r.db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&reader); err != nil {
		return "", "", err
	}
	return writer, reader, nil
}

// TakeOver is takeOver, for tests.
var TakeOver = takeOver
