-- latchkey: expand
-- latchkey: plain-index (shipped before CONCURRENTLY was required; these tables were small)
-- 0008: dynamic client registration (RFC 7591, RFC 7592). Expand only:
-- defaulted columns, an index and a new table, so an older binary still
-- reads and writes clients.
--   * client_uri, logo_uri and metadata (the rest of the self-asserted
--     metadata as a JSON object, or '') of a registered client.
--   * registration_token_hash is the digest of the client's registration
--     access token, or '' (clients not registered over HTTP).
--   * clients_source lets the cap on registered clients count them by
--     index, never by a scan.
--   * initial_access_tokens are the tokens minted by the CLI that allow a
--     registration; uses_left < 0 means no limit.
ALTER TABLE clients ADD COLUMN client_uri text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN logo_uri text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN metadata text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN registration_token_hash text NOT NULL DEFAULT '';
CREATE INDEX clients_source ON clients (source);
CREATE TABLE initial_access_tokens (
    id         text PRIMARY KEY,
    digest     text NOT NULL UNIQUE,
    uses_left  integer NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX initial_access_tokens_expires ON initial_access_tokens (expires_at);
