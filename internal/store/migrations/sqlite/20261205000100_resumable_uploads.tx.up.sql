-- A resumable (tus) upload: its offset and the hash of the bytes before it
-- survive dropped connections and restarts. Its quota share is held by the
-- upload intent of the same id until it finishes or expires.
CREATE TABLE resumable_uploads (
    id           TEXT    NOT NULL PRIMARY KEY, -- the upload's id, its intent's, and the future file id
    owner_id     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    claimed_type TEXT    NOT NULL,
    length       INTEGER NOT NULL,
    received     INTEGER NOT NULL,
    hash_state   BLOB    NOT NULL,             -- SHA-256 of the bytes received, marshalled
    head         BLOB    NOT NULL,             -- the first bytes, for type detection
    file_id      TEXT    NOT NULL DEFAULT '',  -- once finished
    expires_at   INTEGER NOT NULL,             -- Unix microseconds
    lease_token  TEXT    NOT NULL DEFAULT '',
    lease_until  INTEGER NOT NULL DEFAULT 0,   -- Unix microseconds
    steal        INTEGER NOT NULL DEFAULT 0    -- another request waits for the lease
) STRICT;
--bun:split
CREATE INDEX resumable_uploads_owner ON resumable_uploads (owner_id);
--bun:split
CREATE INDEX resumable_uploads_expires ON resumable_uploads (expires_at);
