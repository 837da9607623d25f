-- When the user's first access token was created (Unix microseconds); NULL
-- while none ever was. Accounts left NULL past FOXHOLE_UNUSED_ACCOUNT_TTL
-- are removed. Accounts made before this column count as used.
ALTER TABLE users ADD COLUMN used_at INTEGER;
--bun:split
UPDATE users SET used_at = created_at;
--bun:split
CREATE INDEX users_unused ON users (created_at) WHERE used_at IS NULL;
