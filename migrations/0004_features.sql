-- neardupd schema version 4. See README.md, "The database".

-- Local features of each picture's content (one row per file), for geometric verification and
-- for the keypoint candidate search. `data` is one BLOB (neardupd/features.py, `pack`):
--   byte 0      format (1)
--   bytes 1-4   width / height of the content view, float32 little-endian
--   bytes 5-22  the 12 x 12 photo mask, row by row, one bit per cell (1 = natural-image texture)
--   then per keypoint, strongest first, 36 bytes: x, y as uint16 fractions of the content view
--   (little-endian, 0-65535) and the 32-byte ORB descriptor.
-- A file indexed before version 4 has no row here; `neardupd scan` (and the daemon's next walk)
-- decodes it once more to add one.
CREATE TABLE features (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    data    BLOB NOT NULL
) STRICT;

PRAGMA user_version = 4;
