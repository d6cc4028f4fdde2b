-- latchkey: expand
-- latchkey: plain-index (shipped before CONCURRENTLY was required; these tables were small)
-- 0013: indexes for the admin API. Expand only: indexes, which an older
-- binary ignores. Plain CREATE INDEX: these tables are small enough to
-- lock briefly while it builds.
--   * grants_client_id: the page of a client's grants walks (client_id, id)
--     from the cursor.
--   * users_email: the users list's ?email= search, case-insensitive, on
--     the jsonb claims; the query repeats this expression exactly.
CREATE INDEX grants_client_id ON grants (client_id, id);
CREATE INDEX users_email ON users ((lower(claims->>'email')));
