-- latchkey: expand
-- 0011: the admin API. Expand only: a nullable column, so an older binary
-- still reads and writes users.
--   * users.disabled_at is when an administrator disabled the user (NULL:
--     enabled); a disabled user cannot sign in, use the password grant,
--     redeem a code or refresh.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
