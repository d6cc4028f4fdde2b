-- latchkey: expand
-- latchkey: plain-index (shipped before CONCURRENTLY was required; these tables were small)
-- 0006: token exchange (RFC 8693). Expand only: new columns with defaults
-- (or nullable) and an index, so an older binary still reads and writes.
--   * clients.exchange_*: the client's token exchange policy;
--   * grants.parent_id names the grant of the subject token an exchanged
--     grant descends from; RevokeGrant walks it down. Deleting a parent
--     (collected once revoked or expired) deletes its descendants;
--   * grants.subject is the sub of a grant issued for neither its user
--     nor its client (an exchanged client or external subject), else '';
--   * grants.act and access_tokens.act hold the act claim as JSON, or ''.

ALTER TABLE clients
    ADD COLUMN exchange_subject_clients  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN exchange_impersonation    boolean NOT NULL DEFAULT false,
    ADD COLUMN exchange_refresh_tokens   boolean NOT NULL DEFAULT false,
    ADD COLUMN exchange_beyond_lifetime  boolean NOT NULL DEFAULT false;

ALTER TABLE grants
    ADD COLUMN parent_id text COLLATE "C" REFERENCES grants (id) ON DELETE CASCADE,
    ADD COLUMN subject   text NOT NULL DEFAULT '',
    ADD COLUMN act       text NOT NULL DEFAULT '';
CREATE INDEX grants_parent ON grants (parent_id) WHERE parent_id IS NOT NULL;

ALTER TABLE access_tokens ADD COLUMN act text NOT NULL DEFAULT '';
