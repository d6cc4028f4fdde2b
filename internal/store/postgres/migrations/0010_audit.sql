-- latchkey: expand
-- 0010: the audit trail (internal/audit). Expand only: a new table that an
-- older binary never reads. Details are a small JSON object of ids and
-- names, never secrets.
CREATE TABLE audit_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    type      text COLLATE "C" NOT NULL,
    actor     text NOT NULL DEFAULT '',
    client_id text COLLATE "C" NOT NULL DEFAULT '',
    user_id   text COLLATE "C" NOT NULL DEFAULT '',
    ip        text NOT NULL DEFAULT '',
    reason    text NOT NULL DEFAULT '',
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, id) WHERE user_id <> '';
CREATE INDEX audit_events_client ON audit_events (client_id, id) WHERE client_id <> '';
CREATE INDEX audit_events_type ON audit_events (type, id);
