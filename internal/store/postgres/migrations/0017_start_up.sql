-- latchkey: expand
-- latchkey: plain-index (users_source: a brief write lock on users; a CONCURRENTLY build deadlocked with an instance waiting for the migration lock)
-- 0017: start-up without full scans or argon2id for what did not change.
-- Expand only: a new table and an index, which an older binary ignores.
--   * config_verifiers: per configured client or user, a keyed MAC (HMAC
--     under a key derived from the system secret, which the database does
--     not hold) of its typed secret and stored hash, so a start whose
--     config secret is unchanged keeps the hash without running argon2id.
CREATE TABLE IF NOT EXISTS config_verifiers (
    key      text PRIMARY KEY,
    verifier text NOT NULL
);
-- users_source: the config sync finds the users an earlier config file
-- created (clients_source exists since 0008).
CREATE INDEX IF NOT EXISTS users_source ON users (source);
