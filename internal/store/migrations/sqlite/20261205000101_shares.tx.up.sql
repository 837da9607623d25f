-- A public link to a file. Whoever holds the id downloads the file, until
-- expires_at (0: until the row is deleted, which revokes it).
CREATE TABLE shares (
    id         TEXT    NOT NULL PRIMARY KEY,
    file_id    TEXT    NOT NULL,
    owner_id   TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- Unix microseconds
    expires_at INTEGER NOT NULL  -- Unix microseconds; 0: never
) STRICT;
--bun:split
CREATE INDEX shares_owner ON shares (owner_id, created_at);
--bun:split
CREATE INDEX shares_file ON shares (file_id);
