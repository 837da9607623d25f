DROP TABLE event_retention;
--bun:split
DROP TABLE events;
