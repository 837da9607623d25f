CREATE TABLE files (
    id           TEXT    NOT NULL PRIMARY KEY,
    owner_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The name as the client gave it: metadata only, never a path.
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
--bun:split
-- Listing is newest first, ties broken by id: the index serves both the
-- order and the keyset cursor.
CREATE INDEX files_owner_created ON files (owner_id, created_at DESC, id DESC);
