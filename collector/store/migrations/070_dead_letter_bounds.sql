-- Dead letters are bounded (issue 14): each row's size is counted against a budget, raw bytes
-- are cut to a limit (their full size kept), bytes withheld under redaction say why, and what
-- the bounds dropped or truncated is counted in one row.
ALTER TABLE dead_letters ADD COLUMN raw_size INTEGER;
ALTER TABLE dead_letters ADD COLUMN raw_truncated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dead_letters ADD COLUMN raw_withheld TEXT;
ALTER TABLE dead_letters ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
UPDATE dead_letters SET raw_size = length(raw),
    size = 64 + length(detail) + length(reason) + length(headers) + COALESCE(length(raw), 0)
           + COALESCE(length(key), 0);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
CREATE TABLE dead_letter_usage (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    bytes           INTEGER NOT NULL,
    dropped_budget  INTEGER NOT NULL DEFAULT 0,
    dropped_age     INTEGER NOT NULL DEFAULT 0,
    truncated       INTEGER NOT NULL DEFAULT 0,
    last_id         INTEGER NOT NULL DEFAULT 0
);
INSERT INTO dead_letter_usage (id, bytes) SELECT 1, COALESCE(SUM(size), 0) FROM dead_letters;
