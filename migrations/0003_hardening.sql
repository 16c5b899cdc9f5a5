-- neardupd schema version 3. See README.md, "The database".

-- Two more reasons a path is not indexed, found without opening it: 'not_regular' (a FIFO, a device,
-- a socket: never opened, reading one can block for ever) and 'outside_roots' (a symlink whose
-- target is outside the watched folders: not followed). SQLite cannot change a CHECK in place, so
-- the table is rebuilt with the same columns and rows.
CREATE TABLE errors_v3 (
    id         INTEGER PRIMARY KEY,
    path       TEXT NOT NULL,
    path_bytes BLOB NOT NULL UNIQUE,
    size       INTEGER NOT NULL,           -- of the path itself (a symlink's own size, never its target's)
    mtime_ns   INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('unsupported', 'corrupt', 'truncated', 'too_large', 'unreadable',
                                             'empty', 'not_regular', 'outside_roots')),
    message    TEXT NOT NULL,
    seen_at    TEXT NOT NULL
) STRICT;
INSERT INTO errors_v3 SELECT id, path, path_bytes, size, mtime_ns, kind, message, seen_at FROM errors;
DROP TABLE errors;
ALTER TABLE errors_v3 RENAME TO errors;

-- A file held as missing (files.missing_since set: gone from disk, its removal held by the deletion
-- guard) is not a copy anyone can look at or delete: the reported pairs leave it out. Same columns;
-- duplicate_groups reads this view by name, so it follows without being made again.
DROP VIEW duplicate_pairs;
CREATE VIEW duplicate_pairs AS
SELECT fa.path AS path_a, fb.path AS path_b, m.score, m.kind, m.transform, m.details,
       m.a AS file_a, m.b AS file_b
FROM matches AS m
JOIN files AS fa ON fa.id = m.a
JOIN files AS fb ON fb.id = m.b
WHERE m.score >= (SELECT CAST(value AS REAL) FROM meta WHERE key = 'match_threshold')
  AND fa.missing_since IS NULL AND fb.missing_since IS NULL;

PRAGMA user_version = 3;
