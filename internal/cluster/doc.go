// Package cluster holds tests only: they build the latchkey binary, start
// real processes and check what operators rely on when they run Latchkey
// for real.
//
//   - Several instances on one PostgreSQL behave as one server: a flow may
//     hop between instances at every step, revocations and guessing limits
//     are shared, and keys staged anywhere are published everywhere within
//     keys.reload_interval.
//   - Single-use values stay single-use across processes: a code or a
//     refresh token sent to two instances at the same moment wins once.
//   - kill -9 in the middle of load loses nothing a client received and
//     leaves no half-written grant, on SQLite and on PostgreSQL.
//   - The same holds through PgBouncer in transaction pooling mode, with
//     database.direct_url for the migration lock and LISTEN.
//   - A PostgreSQL restart turns into 503 temporarily_unavailable and
//     Latchkey recovers by itself; so does a 30-second network partition
//     (a proxy that stops forwarding), each 503 within the query timeout.
//   - A full disk under SQLite refuses writes with 503 while reads go on,
//     corrupts nothing, and writes resume once space returns.
//   - kill -9 of one of three instances: clients that fail over to the
//     others all succeed, and the restarted instance joins again.
//   - Expired rows are collected, so tables stay flat under load.
//   - A rolling upgrade loses nothing: instances of the previous release
//     (upgrade/BASELINE, built from git history) serve under load while
//     the current build migrates the database beside them, joins them and
//     takes over as they drain; every request gets a 200 and every token
//     they issued stays usable.
//
// The PostgreSQL tests skip when no database answers (and fail under
// CI=true), like the rest of the repository; see internal/store/postgres/pgtest.
// The disk-full test mounts a tmpfs: it skips without root (fails under
// CI=true).
// The upgrade test skips the same way in a clone without the baseline's
// history (shallow).
package cluster
