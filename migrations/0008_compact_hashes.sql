-- neardupd schema version 8. See README.md, "The database".

-- The hashes, stored once: the same table (name, columns, key and rows), kept WITHOUT ROWID in the order
-- of its key (file_id, kind, form), so one picture's hashes lie together and the table is read at start-up
-- in one pass, and without the index by hash value, which no lookup used. 3.9 KB a picture -> about 1.3 KB.
-- (A program that looked hashes up by value scans them now, or makes its own index in its own database.)
CREATE TABLE hashes_v8 (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    form    INTEGER NOT NULL,
    hash    INTEGER NOT NULL,              -- 64 bits as a signed integer
    PRIMARY KEY (file_id, kind, form)
) STRICT, WITHOUT ROWID;
INSERT INTO hashes_v8 (file_id, kind, form, hash) SELECT file_id, kind, form, hash FROM hashes ORDER BY file_id, kind, form;
DROP TABLE hashes;
ALTER TABLE hashes_v8 RENAME TO hashes;

PRAGMA user_version = 8;
