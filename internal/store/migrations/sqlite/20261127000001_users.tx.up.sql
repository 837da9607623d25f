CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    -- SHA-256 of the user secret; the secret itself is never stored.
    secret_hash   BLOB    NOT NULL UNIQUE,
    screen_name   TEXT    NOT NULL,
    -- Bumped by RotateSecret; access tokens carrying an older version are revoked.
    token_version INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
