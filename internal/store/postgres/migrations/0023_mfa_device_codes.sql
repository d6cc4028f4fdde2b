-- latchkey: expand
-- 0023: the amr and acr columns of 0019 on device_codes, alone in its file (see 0019).
ALTER TABLE device_codes ADD COLUMN amr text NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN acr text NOT NULL DEFAULT '';
