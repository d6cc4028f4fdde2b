-- latchkey: expand
-- 0017: the redirect URIs of every client, indexed, so that the CORS check
-- of /token and /revoke looks an Origin up (an index range) instead of
-- listing every client. Expand only: a new table kept by triggers, so an
-- older binary's writes keep it true too. The backfill reads the clients
-- table once, here (clients number thousands, not millions).
CREATE TABLE client_redirect_uris (
    uri       TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    PRIMARY KEY (uri, client_id)
) STRICT;
CREATE INDEX client_redirect_uris_client ON client_redirect_uris (client_id);

CREATE TRIGGER clients_redirect_uris_insert AFTER INSERT ON clients BEGIN
    INSERT OR IGNORE INTO client_redirect_uris (uri, client_id)
    SELECT value, NEW.id FROM json_each(NEW.settings, '$.redirect_uris');
END;
CREATE TRIGGER clients_redirect_uris_update AFTER UPDATE OF settings ON clients BEGIN
    DELETE FROM client_redirect_uris WHERE client_id = NEW.id;
    INSERT OR IGNORE INTO client_redirect_uris (uri, client_id)
    SELECT value, NEW.id FROM json_each(NEW.settings, '$.redirect_uris');
END;

INSERT OR IGNORE INTO client_redirect_uris (uri, client_id)
SELECT j.value, c.id FROM clients c, json_each(c.settings, '$.redirect_uris') j;
