-- latchkey: expand
-- 0019: the audit trail stored a batch to a row. A row per event cost the
-- writer 4.5 us of CPU per event (the row, four index entries, their
-- pages), enough to keep audit on below 0.95x of audit off at /token; one
-- row holding the batch as a JSON array, and the distinct users, clients
-- and types of the batch in audit_keys, cost a third of that
-- (BenchmarkWriterFlush). Expand only: new tables. audit_events stays and
-- is still read, so events an older binary wrote (before or during a
-- rolling upgrade) are listed and removed by retention as before; an
-- older binary does not see the events a newer one wrote.
--   * Event IDs are batch id << 10 | index in the batch (a batch holds at
--     most 1024), and batch ids start at 2^20, so every new ID is above
--     every audit_events ID (those count from 1) and IDs stay one cursor.
--   * first_at / last_at bound the batch's event times for the time
--     filters and retention; n is its event count.
CREATE TABLE audit_batches (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    events   TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_batches_first_at ON audit_batches (first_at);
INSERT INTO sqlite_sequence (name, seq) VALUES ('audit_batches', 1048575);

-- kind: 1 user id, 2 client id, 3 type.
CREATE TABLE audit_keys (
    kind  INTEGER NOT NULL,
    key   TEXT    NOT NULL,
    batch INTEGER NOT NULL REFERENCES audit_batches (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, key, batch)
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_keys_batch ON audit_keys (batch);
