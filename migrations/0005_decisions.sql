-- neardupd schema version 5. See README.md, "The database".

-- A person's decisions about copies, kept across rescans, moves and renames: keyed on the files'
-- content (file_digest, SHA-256 of the bytes), never on paths. A file decision ('keep', 'discard')
-- has `other` empty; a pair decision ('not_duplicate') names both files' digests, the smaller first.
-- One decision per file or pair: deciding again replaces it.
CREATE TABLE decisions (
    id         INTEGER PRIMARY KEY,
    decision   TEXT NOT NULL CHECK (decision IN ('keep', 'discard', 'not_duplicate')),
    digest     BLOB NOT NULL,
    other      BLOB NOT NULL DEFAULT x'',
    decided_at TEXT NOT NULL,              -- UTC, ISO 8601
    CHECK ((decision = 'not_duplicate') = (length(other) > 0)),
    CHECK (length(other) = 0 OR digest < other),
    UNIQUE (digest, other)
) STRICT;

-- A pair a person said is not a duplicate is not reported again. Same columns; duplicate_groups
-- reads this view by name, so it follows without being made again.
DROP VIEW duplicate_pairs;
CREATE VIEW duplicate_pairs AS
SELECT fa.path AS path_a, fb.path AS path_b, m.score, m.kind, m.transform, m.details,
       m.a AS file_a, m.b AS file_b
FROM matches AS m
JOIN files AS fa ON fa.id = m.a
JOIN files AS fb ON fb.id = m.b
WHERE m.score >= (SELECT CAST(value AS REAL) FROM meta WHERE key = 'match_threshold')
  AND m.kind != 'similar'
  AND fa.missing_since IS NULL AND fb.missing_since IS NULL
  AND NOT EXISTS (SELECT 1 FROM decisions AS d WHERE d.decision = 'not_duplicate'
                  AND d.digest = min(fa.file_digest, fb.file_digest)
                  AND d.other = max(fa.file_digest, fb.file_digest));

PRAGMA user_version = 5;
