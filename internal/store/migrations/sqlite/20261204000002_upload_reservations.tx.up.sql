-- What an upload in progress has reserved of its owner's quota: counted
-- with the owner's files until the upload commits or fails, so that
-- several uploads at once cannot together store past the quota.
ALTER TABLE upload_intents ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;
--bun:split
CREATE INDEX upload_intents_owner ON upload_intents (owner_id);
