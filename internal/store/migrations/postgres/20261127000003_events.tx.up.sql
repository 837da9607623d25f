-- Stored realtime events: chat messages and file events. Ids come from
-- event_counter, not a sequence: a sequence hands out values before commit,
-- so two writers could commit out of order and a reader resuming after the
-- higher id would miss the lower for good. The counter row is updated in
-- the transaction that inserts the event, so the next writer waits for that
-- commit: ids are given in commit order, never skip, and never go back
-- after pruning.
CREATE TABLE events (
    id           BIGINT NOT NULL PRIMARY KEY,
    sender_id    TEXT   NOT NULL,
    -- NULL: visible to everyone; else visible to the recipient and the sender.
    recipient_id TEXT,
    -- The foxhole.v1.Event, binary protobuf, without its id.
    body         BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL
);
--bun:split
CREATE INDEX events_created ON events (created_at);
--bun:split
CREATE TABLE event_counter (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last BIGINT  NOT NULL
);
--bun:split
INSERT INTO event_counter (id, last) VALUES (1, 0);
--bun:split
-- The highest id pruning has removed: cursors below it cannot be resumed.
-- A row of its own, so that pruning never holds up the counter.
CREATE TABLE event_retention (
    id              INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    pruned_through  BIGINT  NOT NULL
);
--bun:split
INSERT INTO event_retention (id, pruned_through) VALUES (1, 0);
