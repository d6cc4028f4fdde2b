-- latchkey: expand
-- 0021: the amr and acr columns of 0019 on auth_codes, alone in its file (see 0019).
ALTER TABLE auth_codes ADD COLUMN amr text NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN acr text NOT NULL DEFAULT '';
