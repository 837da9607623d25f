DROP INDEX users_unused;
--bun:split
ALTER TABLE users DROP COLUMN used_at;
