-- latchkey: expand
-- 0018: strong sign-in (second factors). Expand only: new tables and
-- defaulted columns, so an older binary still reads and writes (its
-- sessions and codes simply carry no methods, read as a password).
--   * user_factors are a user's second factors, one row each. kind is
--     "totp" today ("webauthn" later); data is the factor's secret sealed
--     with the system secret (AES-GCM, the row id as associated data) for
--     TOTP, or a credential's public key; counter is the last TOTP step
--     accepted (so each code works once) or a signature counter.
--     confirmed_at is NULL until the user proved the factor with a first
--     code; an unconfirmed factor never signs anyone in.
--   * recovery_codes are single-use codes, stored by a keyed digest.
--   * users.mfa_required makes sign-in ask for a second factor (and
--     enrolment when the user has none).
--   * sessions, auth_codes, device_codes and grants carry the methods used (amr, space
--     separated) and the authentication context class (acr), which ID
--     tokens and introspection report. The client flags live in the
--     settings JSON.
CREATE TABLE user_factors (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    label        TEXT NOT NULL DEFAULT '',
    data         BLOB NOT NULL,
    counter      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX user_factors_user ON user_factors (user_id);
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, digest)
) STRICT;
ALTER TABLE users ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE device_codes ADD COLUMN acr TEXT NOT NULL DEFAULT '';
