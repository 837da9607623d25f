DROP INDEX users_deleting;
--bun:split
ALTER TABLE users DROP COLUMN ghost_id;
--bun:split
ALTER TABLE users DROP COLUMN avatar;
--bun:split
ALTER TABLE users DROP COLUMN attributes;
--bun:split
ALTER TABLE users DROP COLUMN bio;
