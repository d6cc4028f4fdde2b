-- latchkey: expand
-- 0003: resource indicators (RFC 8707), DPoP key bindings (RFC 9449),
-- single-use identifiers and pushed authorization requests (RFC 9126).
-- The new client fields live in clients.settings and need no column.

ALTER TABLE auth_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE refresh_tokens ADD COLUMN jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN jkt TEXT NOT NULL DEFAULT '';

-- replays holds the jtis of DPoP proofs and client assertions until they
-- expire (store.ReplayStore); an expired row may be claimed again. Every
-- DPoP proof inserts a row keyed by a random digest, so the table is built
-- for that insert: WITHOUT ROWID clusters it on the key, and it has no
-- index on expires_at (unlike the convention above), which would be a
-- second B-tree to write on every proof (together 40 % of UseOnce). Its
-- rows live a proof window, so the garbage collector's scan for expired
-- ones reads at most a couple of minutes of proofs.
CREATE TABLE replays (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- pushed_requests are keyed by the digest of their request_uri; params is
-- the request, form-encoded.
CREATE TABLE pushed_requests (
    digest     TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params     TEXT NOT NULL,
    dpop_jkt   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pushed_requests_client ON pushed_requests (client_id);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
