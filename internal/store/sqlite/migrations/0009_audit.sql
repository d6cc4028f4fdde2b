-- latchkey: expand
-- 0009: the audit trail (internal/audit). Expand only: a new table that an
-- older binary never reads. Times are unix milliseconds like every other
-- table; details are a small JSON object of ids and names, never secrets.
CREATE TABLE audit_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    actor     TEXT    NOT NULL DEFAULT '',
    client_id TEXT    NOT NULL DEFAULT '',
    user_id   TEXT    NOT NULL DEFAULT '',
    ip        TEXT    NOT NULL DEFAULT '',
    reason    TEXT    NOT NULL DEFAULT '',
    details   TEXT    NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, id) WHERE user_id <> '';
CREATE INDEX audit_events_client ON audit_events (client_id, id) WHERE client_id <> '';
CREATE INDEX audit_events_type ON audit_events (type, id);
