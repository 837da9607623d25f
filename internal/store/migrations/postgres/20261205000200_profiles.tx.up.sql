-- Profile fields beside the screen name: a bio, and attributes (a JSON
-- object the application defines). Both public.
ALTER TABLE users ADD COLUMN bio TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '';
--bun:split
-- The object key of the user's avatar ('' when none): a new key for every
-- avatar, so the key is also its ETag. Thumbnails are at key || 's' || size.
ALTER TABLE users ADD COLUMN avatar TEXT NOT NULL DEFAULT '';
--bun:split
-- Set when DeleteAccount begins: the id that replaces the user's in what
-- others keep. A user with one is being deleted; any process finishes it.
ALTER TABLE users ADD COLUMN ghost_id TEXT;
--bun:split
CREATE INDEX users_deleting ON users (ghost_id) WHERE ghost_id IS NOT NULL;
