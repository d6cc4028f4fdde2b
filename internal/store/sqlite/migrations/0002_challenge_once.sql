-- latchkey: expand
-- 0002: a client may use a PKCE code_challenge for one code only (S068):
-- a constant challenge would defeat PKCE, so a second code with it is
-- refused while the first code's row exists.
CREATE UNIQUE INDEX auth_codes_client_challenge ON auth_codes (client_id, code_challenge) WHERE code_challenge <> '';
