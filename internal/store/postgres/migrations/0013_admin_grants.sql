-- 0013: the admin API's page of a client's grants walks (client_id, id)
-- from the cursor. Expand only: an index, which an older binary ignores.
-- A plain CREATE INDEX: the grants table is small enough to lock briefly.
CREATE INDEX grants_client_id ON grants (client_id, id);
