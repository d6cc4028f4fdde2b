-- latchkey: expand
-- 0007: dynamic client registration (RFC 7591, RFC 7592). Expand only: a
-- defaulted column, an index and a new table, so an older binary still
-- reads and writes clients. The self-asserted metadata of a registered
-- client (client_uri, logo_uri, policy_uri …) lives in the settings JSON.
--   * clients.registration_token_hash is the digest of the client's
--     registration access token, or '' (clients not registered over HTTP).
--   * clients_source lets the cap on registered clients count them by
--     index, never by a scan.
--   * initial_access_tokens are the tokens minted by the CLI that allow a
--     registration; uses_left < 0 means no limit.
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX clients_source ON clients (source);
CREATE TABLE initial_access_tokens (
    id         TEXT PRIMARY KEY,
    digest     TEXT NOT NULL UNIQUE,
    uses_left  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX initial_access_tokens_expires ON initial_access_tokens (expires_at);
