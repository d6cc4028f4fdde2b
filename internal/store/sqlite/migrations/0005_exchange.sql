-- latchkey: expand
-- 0005: token exchange (RFC 8693). Expand only: new nullable or defaulted
-- columns and an index, so an older binary still reads and writes.
--   * grants.parent_id names the grant of the subject token an exchanged
--     grant descends from; RevokeGrant walks it down. Deleting a parent
--     (collected once revoked or expired) deletes its descendants.
--   * grants.subject is the sub of a grant issued for neither its user
--     nor its client (an exchanged client or external subject), else ''.
--   * grants.act and access_tokens.act hold the act claim as JSON, or ''.
ALTER TABLE grants ADD COLUMN parent_id TEXT REFERENCES grants (id) ON DELETE CASCADE;
ALTER TABLE grants ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN act TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN act TEXT NOT NULL DEFAULT '';
CREATE INDEX grants_parent ON grants (parent_id);
