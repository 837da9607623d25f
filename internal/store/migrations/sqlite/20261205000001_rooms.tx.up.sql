-- Rooms: conversations with members and a history of their own.
CREATE TABLE rooms (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- The name in lower case, for the directory's search and order.
    name_folded  TEXT    NOT NULL,
    topic        TEXT    NOT NULL DEFAULT '',
    -- foxhole.v1.RoomVisibility: 1 private, 2 public.
    visibility   INTEGER NOT NULL,
    -- Rows of room_members with state 1, kept by every change.
    member_count INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
--bun:split
CREATE INDEX rooms_directory ON rooms (visibility, name_folded, id);
--bun:split
-- A user's standing in a room: a member, invited, or banned.
CREATE TABLE room_members (
    room_id      TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 1 member, 2 invited, 3 banned.
    state        INTEGER NOT NULL,
    -- foxhole.v1.RoomRole of a member: 1 owner, 2 admin, 3 member; else 0.
    role         INTEGER NOT NULL DEFAULT 0,
    -- When the state last changed (Unix microseconds): members are listed,
    -- and succeed an owner who leaves, in this order.
    joined_at    INTEGER NOT NULL,
    -- The newest event id the user has read in the room.
    read_through INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
) STRICT;
--bun:split
CREATE INDEX room_members_user ON room_members (user_id, state, room_id);
--bun:split
CREATE INDEX room_members_order ON room_members (room_id, state, joined_at, user_id);
--bun:split
-- Every stored event belongs to one conversation: 'lobby', 'd:A:B' (a
-- direct conversation, the two user ids in order), 'r:ROOM', or 'f:USER'
-- (a user's file events). History is a range of (conv, id), at any depth.
ALTER TABLE events ADD COLUMN conv TEXT NOT NULL DEFAULT '';
--bun:split
-- The room of a room event or message; NULL otherwise.
ALTER TABLE events ADD COLUMN room_id TEXT;
--bun:split
-- 1 chat message, 2 file event, 3 room event.
ALTER TABLE events ADD COLUMN kind INTEGER NOT NULL DEFAULT 1;
--bun:split
-- Events stored before conversations: a broadcast is the lobby's, one a
-- user addressed to itself a file event, and the rest direct messages.
UPDATE events SET
    conv = CASE
        WHEN recipient_id IS NULL THEN 'lobby'
        WHEN recipient_id = sender_id THEN 'f:' || sender_id
        WHEN sender_id < recipient_id THEN 'd:' || sender_id || ':' || recipient_id
        ELSE 'd:' || recipient_id || ':' || sender_id
    END,
    kind = CASE WHEN recipient_id = sender_id THEN 2 ELSE 1 END;
--bun:split
CREATE INDEX events_conv ON events (conv, id);
