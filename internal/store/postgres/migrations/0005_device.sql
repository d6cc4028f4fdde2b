-- latchkey: expand
-- 0005: device authorization requests (RFC 8628). digest is the SHA-256
-- of the device_code, user_code_digest a keyed digest of the normalised
-- user_code: neither can be typed in from a copy of the database.
-- interval_ms grows by 5 s with every poll that comes too soon.
CREATE TABLE device_codes (
    digest           text COLLATE "C" PRIMARY KEY,
    user_code_digest text COLLATE "C" NOT NULL UNIQUE,
    client_id        text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes           text[] NOT NULL DEFAULT '{}',
    resources        text[] NOT NULL DEFAULT '{}',
    interval_ms      bigint NOT NULL CHECK (interval_ms > 0),
    last_poll_at     timestamptz,
    slow_down        boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    user_id          text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    auth_time        timestamptz,
    approved_at      timestamptz,
    denied_at        timestamptz,
    consumed_at      timestamptz,
    -- grant_id is not a foreign key, as in auth_codes: a replayed device
    -- code must still name the grant to revoke.
    grant_id         text COLLATE "C",
    CHECK (approved_at IS NULL OR denied_at IS NULL)
);
CREATE INDEX device_codes_client ON device_codes (client_id);
CREATE INDEX device_codes_user ON device_codes (user_id);
CREATE INDEX device_codes_expires ON device_codes (expires_at);
