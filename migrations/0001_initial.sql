-- neardupd schema version 1. The schema is a public interface: see README.md, "The database".
-- Columns are only ever added in later migrations, never renamed or removed within a major version.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- One row per indexed image file.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL,            -- for display: the path as UTF-8 (invalid bytes shown as U+FFFD)
    path_bytes   BLOB NOT NULL UNIQUE,     -- the exact path as the OS gives it (open files with this)
    size         INTEGER NOT NULL,         -- bytes
    mtime_ns     INTEGER NOT NULL,
    file_digest  BLOB NOT NULL,            -- SHA-256 of the file's bytes: equal means exact copy
    pixel_digest BLOB NOT NULL,            -- SHA-256 (16 bytes) of the decoded upright RGB pixels: equal means same picture
    format       TEXT NOT NULL,            -- Pillow's format name: JPEG, PNG, WEBP, HEIF, ...
    width        INTEGER NOT NULL,         -- pixels, after EXIF orientation
    height       INTEGER NOT NULL,
    indexed_at   TEXT NOT NULL             -- UTC, ISO 8601
) STRICT;
CREATE INDEX files_file_digest ON files (file_digest);
CREATE INDEX files_pixel_digest ON files (pixel_digest);
CREATE INDEX files_size ON files (size);

-- The perceptual signatures of each file (one row per file).
CREATE TABLE signatures (
    file_id      INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    phash        INTEGER NOT NULL,         -- imagehash.phash of the whole picture, 64 bits as a signed integer
    content_left REAL NOT NULL,            -- the content box inside uniform borders, fractions of width/height
    content_top  REAL NOT NULL,
    content_right  REAL NOT NULL,
    content_bottom REAL NOT NULL,
    contrast     REAL NOT NULL,            -- std. dev. of the grey thumb; near 0 means flat (never near-matched)
    mean_r       REAL NOT NULL,            -- mean colour, 0..255
    mean_g       REAL NOT NULL,
    mean_b       REAL NOT NULL,
    thumb_size   INTEGER NOT NULL,         -- the thumb is thumb_size x thumb_size
    thumb        BLOB NOT NULL             -- grey uint8 thumb of the content box, row-major
) STRICT;

-- Hashes used for neighbour search. kind 'content': pHash of the content box, form 0..7 = the
-- picture rotated by form//2 quarter turns counter-clockwise, then mirrored left-right if form is odd.
CREATE TABLE hashes (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    form    INTEGER NOT NULL,
    hash    INTEGER NOT NULL,              -- 64 bits as a signed integer
    PRIMARY KEY (file_id, kind, form)
) STRICT;
CREATE INDEX hashes_hash ON hashes (kind, hash);

-- Files that could not be indexed, and why. Retried when their size or mtime changes.
CREATE TABLE errors (
    id         INTEGER PRIMARY KEY,
    path       TEXT NOT NULL,
    path_bytes BLOB NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('unsupported', 'corrupt', 'truncated', 'too_large', 'unreadable', 'empty')),
    message    TEXT NOT NULL,
    seen_at    TEXT NOT NULL
) STRICT;

-- Scored pairs of files. a < b. Pairs below meta 'match_threshold' are weak candidates, kept for
-- `dupes --min-score`; the views show only pairs at or above it.
CREATE TABLE matches (
    a         INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    b         INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    score     REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    kind      TEXT NOT NULL CHECK (kind IN ('exact', 'pixel', 'near', 'modified')),
    transform TEXT NOT NULL,               -- how b is rotated/mirrored to look like a: none, mirror, rot90, ...
    details   TEXT NOT NULL DEFAULT '{}',  -- JSON object: what changed (see README)
    found_at  TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) STRICT;
CREATE INDEX matches_b ON matches (b);

INSERT INTO meta (key, value) VALUES ('match_threshold', '0.65');

CREATE VIEW duplicate_pairs AS
SELECT fa.path AS path_a, fb.path AS path_b, m.score, m.kind, m.transform, m.details,
       m.a AS file_a, m.b AS file_b
FROM matches AS m
JOIN files AS fa ON fa.id = m.a
JOIN files AS fb ON fb.id = m.b
WHERE m.score >= (SELECT CAST(value AS REAL) FROM meta WHERE key = 'match_threshold');

-- Connected components of duplicate_pairs: group_id is the smallest file id in the group.
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

PRAGMA user_version = 1;
