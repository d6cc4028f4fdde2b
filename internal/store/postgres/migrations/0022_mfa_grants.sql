-- latchkey: expand
-- 0022: the amr and acr columns of 0019 on grants, alone in its file (see 0019).
ALTER TABLE grants ADD COLUMN amr text NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN acr text NOT NULL DEFAULT '';
