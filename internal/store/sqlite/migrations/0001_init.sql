-- latchkey: expand
-- 0001_init: the first Latchkey schema.
--
-- Conventions:
--   * times are INTEGER unix milliseconds (UTC); NULL is the zero time;
--   * lists are JSON arrays in TEXT columns; "" ids are stored as NULL;
--   * tokens and codes are keyed by the SHA-256 digest of their value;
--   * every child row references its client and user ON DELETE CASCADE,
--     and every foreign key column has an index (SQLite scans otherwise);
--   * every table with an expiry has an index on expires_at for DeleteExpired.

CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    public      INTEGER NOT NULL CHECK (public IN (0, 1)),
    source      TEXT NOT NULL,
    -- settings holds the remaining fields of store.Client as a JSON object.
    settings    TEXT NOT NULL,
    created_at  INTEGER,
    updated_at  INTEGER
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    claims        TEXT NOT NULL,
    source        TEXT NOT NULL,
    created_at    INTEGER,
    updated_at    INTEGER
) STRICT;

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    private    BLOB NOT NULL,
    public     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    active_at  INTEGER
) STRICT;
CREATE INDEX signing_keys_alg_created ON signing_keys (alg, created_at);
CREATE INDEX signing_keys_created ON signing_keys (created_at);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    auth_time  INTEGER,
    nonce      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX grants_client ON grants (client_id);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_expires ON grants (expires_at);
CREATE INDEX grants_revoked ON grants (revoked_at);

CREATE TABLE auth_codes (
    digest             TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id            TEXT REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri       TEXT NOT NULL,
    redirect_uri_given INTEGER NOT NULL CHECK (redirect_uri_given IN (0, 1)),
    code_challenge     TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    nonce              TEXT NOT NULL,
    auth_time          INTEGER,
    session_id         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    consumed_at        INTEGER,
    -- grant_id is not a foreign key: the code outlives nothing, and a
    -- replayed code must still name the grant to revoke (or find it gone).
    grant_id           TEXT
) STRICT;
CREATE INDEX auth_codes_client ON auth_codes (client_id);
CREATE INDEX auth_codes_user ON auth_codes (user_id);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    digest      TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER,
    next_digest TEXT,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    digest     TEXT PRIMARY KEY,
    jti        TEXT NOT NULL,
    grant_id   TEXT REFERENCES grants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    audience   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE revoked_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_jtis_expires ON revoked_jtis (expires_at);

CREATE TABLE sessions (
    digest     TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at INTEGER,
    PRIMARY KEY (user_id, client_id)
) STRICT;
CREATE INDEX consents_client ON consents (client_id);

CREATE TABLE throttles (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX throttles_expires ON throttles (expires_at);
