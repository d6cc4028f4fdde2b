-- latchkey: expand
-- 0004: device authorization requests (RFC 8628). digest is the SHA-256
-- of the device_code, user_code_digest a keyed digest of the normalised
-- user_code: neither can be typed in from a copy of the database.
-- interval_ms grows by 5 s with every poll that comes too soon.
CREATE TABLE device_codes (
    digest           TEXT PRIMARY KEY,
    user_code_digest TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes           TEXT NOT NULL,
    resources        TEXT NOT NULL,
    interval_ms      INTEGER NOT NULL CHECK (interval_ms > 0),
    last_poll_at     INTEGER,
    slow_down        INTEGER NOT NULL CHECK (slow_down IN (0, 1)),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_time        INTEGER,
    approved_at      INTEGER,
    denied_at        INTEGER,
    consumed_at      INTEGER,
    -- grant_id is not a foreign key, as in auth_codes: a replayed device
    -- code must still name the grant to revoke.
    grant_id         TEXT,
    CHECK (approved_at IS NULL OR denied_at IS NULL)
) STRICT;
CREATE INDEX device_codes_client ON device_codes (client_id);
CREATE INDEX device_codes_user ON device_codes (user_id);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
