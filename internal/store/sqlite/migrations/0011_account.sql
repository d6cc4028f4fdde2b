-- latchkey: expand
-- 0011: account pages and OpenID Connect Back-Channel Logout 1.0. Expand
-- only: new defaulted or nullable columns and an index, so an older binary
-- still reads and writes. (The client's back-channel registration lives in
-- the settings JSON.)
--   * sessions.sid is the session's public identifier (the sid claim),
--     random and unrelated to the cookie; user_agent, ip and last_seen
--     describe the browser on the account page (last_seen is written at
--     most every few minutes).
--   * grants.session_id is the sid of the session a grant was approved in,
--     so ending that session notifies the client.
ALTER TABLE sessions ADD COLUMN sid TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen INTEGER;
ALTER TABLE grants ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
CREATE INDEX grants_user_client ON grants (user_id, client_id);
