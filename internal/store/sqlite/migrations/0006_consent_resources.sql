-- latchkey: expand
-- 0006: a remembered consent names the resources (RFC 8707) the user
-- allowed, not only the scopes, so a later request for another API asks
-- again. Expand only: an older binary ignores the column. Consents saved
-- before it have none, so any request naming a resource asks once more.
ALTER TABLE consents ADD COLUMN resources TEXT NOT NULL DEFAULT '';
