DROP INDEX upload_intents_owner;
--bun:split
ALTER TABLE upload_intents DROP COLUMN reserved;
