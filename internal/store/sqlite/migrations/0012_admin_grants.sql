-- 0012: the admin API's page of a client's grants walks (client_id, id)
-- from the cursor. Expand only: an index, which an older binary ignores.
CREATE INDEX grants_client_id ON grants (client_id, id);
