ALTER TABLE users DROP COLUMN banned_at;
--bun:split
DROP TABLE user_blocks;
--bun:split
DROP INDEX events_ref;
--bun:split
ALTER TABLE events DROP COLUMN ref_id;
