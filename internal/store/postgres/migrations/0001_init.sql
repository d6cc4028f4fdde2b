-- latchkey: expand
-- 0001_init: the first Latchkey schema, the PostgreSQL twin of SQLite's.
--
-- Conventions:
--   * times are timestamptz; NULL is the zero time;
--   * durations are interval; lists are text[] ('{}' when empty); user
--     claims are a jsonb object; "" ids of optional references are NULL;
--   * tokens and codes are keyed by the SHA-256 digest of their value;
--   * ids, digests and names that key rows are COLLATE "C": byte order, as
--     in SQLite and Go, and the cheapest comparisons;
--   * every child row references its client and user ON DELETE CASCADE,
--     and every foreign key column has an index (cascades would scan);
--   * every table with an expiry has an index on expires_at for DeleteExpired.
--
-- Tables are created in the first schema of the search path.

CREATE TABLE clients (
    id                        text COLLATE "C" PRIMARY KEY,
    name                      text NOT NULL,
    secret_hash               text NOT NULL,
    public                    boolean NOT NULL,
    redirect_uris             text[] NOT NULL DEFAULT '{}',
    post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    grant_types               text[] NOT NULL DEFAULT '{}',
    scopes                    text[] NOT NULL DEFAULT '{}',
    default_scopes            text[] NOT NULL DEFAULT '{}',
    audience                  text[] NOT NULL DEFAULT '{}',
    access_token_format       text NOT NULL,
    access_token_ttl          interval NOT NULL,
    refresh_token_ttl         interval NOT NULL,
    refresh_grace             interval NOT NULL,
    id_token_alg              text NOT NULL,
    introspection             boolean NOT NULL,
    skip_consent              boolean NOT NULL,
    source                    text NOT NULL,
    created_at                timestamptz,
    updated_at                timestamptz
);

CREATE TABLE users (
    id            text COLLATE "C" PRIMARY KEY,
    username      text COLLATE "C" NOT NULL UNIQUE,
    password_hash text NOT NULL,
    claims        jsonb NOT NULL DEFAULT '{}',
    source        text NOT NULL,
    created_at    timestamptz,
    updated_at    timestamptz
);

CREATE TABLE signing_keys (
    kid        text COLLATE "C" PRIMARY KEY,
    alg        text NOT NULL,
    private    bytea NOT NULL,
    public     bytea NOT NULL,
    created_at timestamptz NOT NULL,
    active_at  timestamptz
);
CREATE INDEX signing_keys_alg_created ON signing_keys (alg, created_at);
CREATE INDEX signing_keys_created ON signing_keys (created_at);

CREATE TABLE grants (
    id         text COLLATE "C" PRIMARY KEY,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}',
    auth_time  timestamptz,
    nonce      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX grants_client ON grants (client_id);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_expires ON grants (expires_at);
CREATE INDEX grants_revoked ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE auth_codes (
    digest             text COLLATE "C" PRIMARY KEY,
    client_id          text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id            text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri       text NOT NULL,
    redirect_uri_given boolean NOT NULL,
    code_challenge     text NOT NULL,
    scopes             text[] NOT NULL DEFAULT '{}',
    nonce              text NOT NULL,
    auth_time          timestamptz,
    session_id         text NOT NULL,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    consumed_at        timestamptz,
    -- grant_id is not a foreign key: a replayed code must still name the
    -- grant to revoke, even once that grant is gone.
    grant_id           text COLLATE "C"
);
CREATE INDEX auth_codes_client ON auth_codes (client_id);
CREATE INDEX auth_codes_user ON auth_codes (user_id);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    digest      text COLLATE "C" PRIMARY KEY,
    grant_id    text COLLATE "C" NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id   text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id     text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    next_digest text COLLATE "C",
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    digest     text COLLATE "C" PRIMARY KEY,
    jti        text COLLATE "C" NOT NULL,
    grant_id   text COLLATE "C" REFERENCES grants (id) ON DELETE CASCADE,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject    text NOT NULL,
    user_id    text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}',
    audience   text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE revoked_jtis (
    jti        text COLLATE "C" PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_jtis_expires ON revoked_jtis (expires_at);

CREATE TABLE sessions (
    digest     text COLLATE "C" PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  timestamptz,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE consents (
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}',
    granted_at timestamptz,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);

CREATE TABLE throttles (
    key          text COLLATE "C" PRIMARY KEY,
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX throttles_expires ON throttles (expires_at);
