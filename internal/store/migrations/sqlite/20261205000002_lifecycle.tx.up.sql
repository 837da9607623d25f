-- The event a message edit or deletion is about (kind 4): a deletion
-- removes the edits of the message it erases, whose bodies hold its text.
ALTER TABLE events ADD COLUMN ref_id INTEGER;
--bun:split
CREATE INDEX events_ref ON events (ref_id) WHERE ref_id IS NOT NULL;
--bun:split
-- Users a user blocks: none of their messages or typing reach the blocker.
CREATE TABLE user_blocks (
    blocker_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) STRICT;
--bun:split
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id);
--bun:split
-- When an operator banned the user (Unix microseconds); NULL: not banned.
-- A banned user's tokens are refused and no new one is issued.
ALTER TABLE users ADD COLUMN banned_at INTEGER;
