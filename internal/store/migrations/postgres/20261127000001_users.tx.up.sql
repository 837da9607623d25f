CREATE TABLE users (
    id            TEXT   NOT NULL PRIMARY KEY,
    -- SHA-256 of the user secret; the secret itself is never stored.
    secret_hash   BYTEA  NOT NULL UNIQUE,
    screen_name   TEXT   NOT NULL,
    -- Bumped by RotateSecret; access tokens carrying an older version are revoked.
    token_version BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
