-- latchkey: expand
-- 0016: start-up without full scans or argon2id for what did not change.
-- Expand only: a new table and indexes, which an older binary ignores.
--   * config_verifiers: per configured client or user, a keyed MAC (HMAC
--     under a key derived from the system secret, which the database does
--     not hold) of its typed secret and stored hash, so a start whose
--     config secret is unchanged keeps the hash without running argon2id.
--   * users_source: the config sync finds the users an earlier config
--     file created (clients_source exists since 0007).
--   * replays_expires: DeleteExpired removes replays by expiry (PostgreSQL
--     has had it since 0004).
CREATE TABLE config_verifiers (
    key      TEXT PRIMARY KEY,
    verifier TEXT NOT NULL
) STRICT;
CREATE INDEX users_source ON users (source);
CREATE INDEX replays_expires ON replays (expires_at);
