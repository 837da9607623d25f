CREATE TABLE files (
    -- COLLATE "C": ids compare bytewise, as in SQLite, whatever the
    -- database's locale, so that paging ties break the same way.
    id           TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    owner_id     TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The name as the client gave it: metadata only, never a path.
    name         TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT   NOT NULL,
    sha256       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
--bun:split
-- Listing is newest first, ties broken by id: the index serves both the
-- order and the keyset cursor.
CREATE INDEX files_owner_created ON files (owner_id, created_at DESC, id DESC);
