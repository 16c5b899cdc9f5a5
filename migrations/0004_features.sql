-- neardupd schema version 4. See README.md, "The database".

-- Local features of each picture's content (one row per file), for geometric verification and
-- for the keypoint candidate search. `data` is one BLOB (neardupd/features.py, `pack`):
--   byte 0      format (1)
--   bytes 1-4   width / height of the content view, float32 little-endian
--   bytes 5-22  the 12 x 12 photo mask, row by row, one bit per cell (1 = natural-image texture)
--   then per keypoint, 36 bytes (ordered strongest first within each ORB pyramid level, the levels taken in turn): x, y as uint16 fractions of the content view
--   (little-endian, 0-65535) and the 32-byte ORB descriptor.
-- A file indexed before version 4 has no row here; `neardupd scan` (and the daemon's next walk)
-- decodes it once more to add one.
CREATE TABLE features (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    data    BLOB NOT NULL
) STRICT;

-- A new kind of pair, 'similar': another shot of the same scene (never a copy, scored below the
-- reporting threshold). SQLite cannot change a CHECK in place, so matches is rebuilt with the same
-- columns and rows; the views that read it are dropped first and made again, and duplicate_pairs
-- leaves 'similar' pairs out whatever the threshold.
DROP VIEW duplicate_groups;
DROP VIEW duplicate_pairs;
CREATE TABLE matches_v4 (
    a         INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    b         INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    score     REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    kind      TEXT NOT NULL CHECK (kind IN ('exact', 'pixel', 'near', 'modified', 'similar')),
    transform TEXT NOT NULL,
    details   TEXT NOT NULL DEFAULT '{}',
    found_at  TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) STRICT;
INSERT INTO matches_v4 SELECT a, b, score, kind, transform, details, found_at FROM matches;
DROP TABLE matches;
ALTER TABLE matches_v4 RENAME TO matches;
CREATE INDEX matches_b ON matches (b);

CREATE VIEW duplicate_pairs AS
SELECT fa.path AS path_a, fb.path AS path_b, m.score, m.kind, m.transform, m.details,
       m.a AS file_a, m.b AS file_b
FROM matches AS m
JOIN files AS fa ON fa.id = m.a
JOIN files AS fb ON fb.id = m.b
WHERE m.score >= (SELECT CAST(value AS REAL) FROM meta WHERE key = 'match_threshold')
  AND m.kind != 'similar'
  AND fa.missing_since IS NULL AND fb.missing_since IS NULL;

CREATE VIEW duplicate_groups AS
WITH RECURSIVE
edges (x, y) AS (
    SELECT file_a, file_b FROM duplicate_pairs
    UNION SELECT file_b, file_a FROM duplicate_pairs
),
reach (start, node) AS (
    SELECT x, x FROM edges
    UNION SELECT reach.start, edges.y FROM reach JOIN edges ON edges.x = reach.node
)
SELECT MIN(reach.start) AS group_id, reach.node AS file_id, files.path AS path
FROM reach JOIN files ON files.id = reach.node
GROUP BY reach.node;

PRAGMA user_version = 4;
