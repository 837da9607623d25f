-- An upload in progress: recorded before its content is written, removed in
-- the transaction that inserts its file row (or when the upload fails). The
-- orphan sweep never deletes content whose key is here, so content whose
-- row is about to commit is safe however long the upload took.
CREATE TABLE upload_intents (
    id         TEXT   NOT NULL PRIMARY KEY, -- the future file id and object key
    owner_id   TEXT   NOT NULL,
    created_at BIGINT NOT NULL              -- Unix microseconds
);
--bun:split
CREATE INDEX upload_intents_created ON upload_intents (created_at);
