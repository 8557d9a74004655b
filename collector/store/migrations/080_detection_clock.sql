-- Issue 16: the detection clock the store last reached (the wall clock live; the event-time
-- watermark, the simulator's settle time or `flows settle --at` for a stored history), so the
-- amount a stuck flow is over its deadline or SLA is measured to it, not to today's wall clock.
CREATE TABLE detection_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  TEXT NOT NULL
);
