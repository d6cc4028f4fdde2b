-- latchkey: expand
-- 0024: the client policy columns of 0019 on clients, alone in its file (see 0019).
ALTER TABLE clients ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN password_grant_mfa boolean NOT NULL DEFAULT false;
