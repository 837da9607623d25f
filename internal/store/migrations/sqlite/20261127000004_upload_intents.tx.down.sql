DROP TABLE upload_intents;
