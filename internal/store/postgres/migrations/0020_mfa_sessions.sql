-- latchkey: expand
-- 0020: the amr and acr columns of 0019 on sessions, alone in its file (see 0019).
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acr text NOT NULL DEFAULT '';
