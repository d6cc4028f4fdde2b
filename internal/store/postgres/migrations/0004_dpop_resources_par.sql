-- latchkey: expand
-- 0004: resource indicators (RFC 8707), DPoP key bindings (RFC 9449),
-- client keys (RFC 7523), single-use identifiers and pushed authorization
-- requests (RFC 9126). Every new column has a default, so rows written
-- before read as they did.

ALTER TABLE clients
    ADD COLUMN jwks                     text NOT NULL DEFAULT '',
    ADD COLUMN jwks_uri                 text NOT NULL DEFAULT '',
    ADD COLUMN resources                text[] NOT NULL DEFAULT '{}',
    ADD COLUMN dpop_bound_access_tokens boolean NOT NULL DEFAULT false,
    ADD COLUMN require_dpop_nonce       boolean NOT NULL DEFAULT false,
    ADD COLUMN require_par              boolean NOT NULL DEFAULT false,
    ADD COLUMN profile                  text NOT NULL DEFAULT '',
    ADD COLUMN refresh_rotation         text NOT NULL DEFAULT '';

ALTER TABLE auth_codes
    ADD COLUMN resources text[] NOT NULL DEFAULT '{}',
    ADD COLUMN dpop_jkt  text NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN resources text[] NOT NULL DEFAULT '{}';
ALTER TABLE refresh_tokens
    ADD COLUMN resources text[] NOT NULL DEFAULT '{}',
    ADD COLUMN jkt       text NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN jkt text NOT NULL DEFAULT '';

-- replays holds the jtis of DPoP proofs and client assertions until they
-- expire (store.ReplayStore); an expired row may be claimed again.
CREATE TABLE replays (
    key        text COLLATE "C" PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX replays_expires ON replays (expires_at);

-- pushed_requests are keyed by the digest of their request_uri; params is
-- the request, form-encoded.
CREATE TABLE pushed_requests (
    digest     text COLLATE "C" PRIMARY KEY,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params     text NOT NULL,
    dpop_jkt   text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX pushed_requests_client ON pushed_requests (client_id);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
