-- latchkey: expand
-- 0012: indexes for the admin API. Expand only: indexes, which an older
-- binary ignores.
--   * grants_client_id: the page of a client's grants walks (client_id, id)
--     from the cursor.
--   * users_email: the users list's ?email= search, case-insensitive;
--     claims is JSON text, and the query repeats this expression exactly.
CREATE INDEX grants_client_id ON grants (client_id, id);
CREATE INDEX users_email ON users (lower(json_extract(claims, '$.email')));
