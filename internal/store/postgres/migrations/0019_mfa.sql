-- latchkey: expand
-- 0019: strong sign-in (second factors). Expand only: new tables and
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
--     tokens and introspection report.
--   * clients.require_mfa and clients.password_grant_mfa are the client's
--     policy: every sign-in for it uses a second factor; the password
--     grant stays open to users with a second factor.
-- PostgreSQL: one existing table per migration file. A file that altered
-- several took their locks one after the other while the previous release
-- served, and deadlocked with its requests (TestRollingUpgrade): holding
-- one table, it waited for the next, which a request held while it waited
-- for the first. So 0019 touches users only, and 0020-0024 one table each.
-- The ALTER of users comes first: it takes the strongest lock at once, so
-- the foreign keys' locks on users that follow are held already (taking a
-- weaker one first and then upgrading could deadlock as well).
-- Plain CREATE INDEX: on a table this file creates.
ALTER TABLE users ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;
CREATE TABLE user_factors (
    id           text COLLATE "C" PRIMARY KEY,
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    label        text NOT NULL DEFAULT '',
    data         bytea NOT NULL,
    counter      bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX user_factors_user ON user_factors (user_id);
CREATE TABLE recovery_codes (
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, digest)
);
