-- latchkey: expand
-- 0003: how each client authenticates (RFC 7591 token_endpoint_auth_method);
-- '' keeps the default for its kind (client_secret_basic or
-- client_secret_post when confidential, none when public).
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
