DROP INDEX events_conv;
--bun:split
ALTER TABLE events DROP COLUMN kind;
--bun:split
ALTER TABLE events DROP COLUMN room_id;
--bun:split
ALTER TABLE events DROP COLUMN conv;
--bun:split
DROP TABLE room_members;
--bun:split
DROP TABLE rooms;
