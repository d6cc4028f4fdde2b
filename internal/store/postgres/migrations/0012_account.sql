-- latchkey: expand
-- latchkey: plain-index (shipped before CONCURRENTLY was required; these tables were small)
-- 0012: account pages and OpenID Connect Back-Channel Logout 1.0. Expand
-- only: new defaulted or nullable columns and an index, so an older binary
-- still reads and writes.
--   * sessions.sid is the session's public identifier (the sid claim),
--     random and unrelated to the cookie; user_agent, ip and last_seen
--     describe the browser on the account page (last_seen is written at
--     most every few minutes).
--   * grants.session_id is the sid of the session a grant was approved in,
--     so ending that session notifies the client.
--   * clients.backchannel_logout_uri and _session_required are the
--     client's registration (Back-Channel Logout 1.0 §2.2).
ALTER TABLE sessions ADD COLUMN sid text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen timestamptz;
ALTER TABLE grants ADD COLUMN session_id text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX grants_user_client ON grants (user_id, client_id);
ALTER TABLE clients ADD COLUMN backchannel_logout_uri text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required boolean NOT NULL DEFAULT false;
