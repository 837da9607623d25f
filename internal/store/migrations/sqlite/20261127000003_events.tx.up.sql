-- Stored realtime events: chat messages and file events. AUTOINCREMENT keeps
-- ids monotonic even after pruning, so an id is a safe resume cursor.
CREATE TABLE events (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    sender_id    TEXT    NOT NULL,
    -- NULL: visible to everyone; else visible to the recipient and the sender.
    recipient_id TEXT,
    -- The foxhole.v1.Event, binary protobuf, without its id.
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
--bun:split
CREATE INDEX events_created ON events (created_at);
--bun:split
-- The highest id pruning has removed: cursors below it cannot be resumed.
CREATE TABLE event_retention (
    id              INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    pruned_through  INTEGER NOT NULL
) STRICT;
--bun:split
INSERT INTO event_retention (id, pruned_through) VALUES (1, 0);
