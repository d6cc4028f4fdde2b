-- latchkey: expand
-- 0018: the redirect URIs of every client, indexed, so that the CORS check
-- of /token and /revoke looks an Origin up (an index range) instead of
-- listing every client. Expand only: a new table kept by a trigger, so an
-- older binary's writes keep it true too. COLLATE "C" makes the prefix
-- ranges of the lookup byte ranges. The backfill reads the clients table
-- once, here (clients number thousands, not millions); plain CREATE INDEX,
-- as the runner applies each file in a transaction.
CREATE TABLE IF NOT EXISTS client_redirect_uris (
    uri       text COLLATE "C" NOT NULL,
    client_id text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    PRIMARY KEY (uri, client_id)
);
CREATE INDEX IF NOT EXISTS client_redirect_uris_client ON client_redirect_uris (client_id);

CREATE OR REPLACE FUNCTION latchkey_client_redirect_uris() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.redirect_uris IS NOT DISTINCT FROM OLD.redirect_uris THEN
            RETURN NULL;
        END IF;
        DELETE FROM client_redirect_uris WHERE client_id = NEW.id;
    END IF;
    INSERT INTO client_redirect_uris (uri, client_id)
    SELECT DISTINCT u, NEW.id FROM unnest(NEW.redirect_uris) AS u
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_redirect_uris AFTER INSERT OR UPDATE OF redirect_uris ON clients
    FOR EACH ROW EXECUTE FUNCTION latchkey_client_redirect_uris();

INSERT INTO client_redirect_uris (uri, client_id)
SELECT DISTINCT u, c.id FROM clients c, unnest(c.redirect_uris) AS u
ON CONFLICT DO NOTHING;
