DROP TABLE event_retention;
--bun:split
DROP TABLE event_counter;
--bun:split
DROP TABLE events;
