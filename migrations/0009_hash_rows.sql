-- neardupd schema version 9. See README.md, "The database".

-- The hashes, one row per picture: hash_rows holds a picture's 50 hashes as columns (content0-7: the
-- content's pHash in its 8 forms; window0-35; rotation0-5; NULL where a picture is too small for its
-- variants), 1.5 KB -> 0.5 KB a picture, read at start-up 6x faster (one row, not 43). `hashes` stays,
-- as a view with the same columns and rows as the table it replaces: (file_id, kind, form, hash).
-- Every stored hash has a column to go to, or the upgrade stops here (and changes nothing).
CREATE TEMP TABLE hashes_without_a_column (count INTEGER CHECK (count = 0));
INSERT INTO hashes_without_a_column SELECT count(*) FROM hashes
WHERE NOT ((kind = 'content' AND form BETWEEN 0 AND 7) OR (kind = 'window' AND form BETWEEN 0 AND 35)
           OR (kind = 'rotation' AND form BETWEEN 0 AND 5));
DROP TABLE hashes_without_a_column;
CREATE TABLE hash_rows (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    content0   INTEGER,
    content1   INTEGER,
    content2   INTEGER,
    content3   INTEGER,
    content4   INTEGER,
    content5   INTEGER,
    content6   INTEGER,
    content7   INTEGER,
    window0    INTEGER,
    window1    INTEGER,
    window2    INTEGER,
    window3    INTEGER,
    window4    INTEGER,
    window5    INTEGER,
    window6    INTEGER,
    window7    INTEGER,
    window8    INTEGER,
    window9    INTEGER,
    window10   INTEGER,
    window11   INTEGER,
    window12   INTEGER,
    window13   INTEGER,
    window14   INTEGER,
    window15   INTEGER,
    window16   INTEGER,
    window17   INTEGER,
    window18   INTEGER,
    window19   INTEGER,
    window20   INTEGER,
    window21   INTEGER,
    window22   INTEGER,
    window23   INTEGER,
    window24   INTEGER,
    window25   INTEGER,
    window26   INTEGER,
    window27   INTEGER,
    window28   INTEGER,
    window29   INTEGER,
    window30   INTEGER,
    window31   INTEGER,
    window32   INTEGER,
    window33   INTEGER,
    window34   INTEGER,
    window35   INTEGER,
    rotation0  INTEGER,
    rotation1  INTEGER,
    rotation2  INTEGER,
    rotation3  INTEGER,
    rotation4  INTEGER,
    rotation5  INTEGER
) STRICT;
INSERT INTO hash_rows (file_id, content0, content1, content2, content3, content4, content5, content6, content7, window0, window1, window2, window3, window4, window5, window6, window7, window8, window9, window10, window11, window12, window13, window14, window15, window16, window17, window18, window19, window20, window21, window22, window23, window24, window25, window26, window27, window28, window29, window30, window31, window32, window33, window34, window35, rotation0, rotation1, rotation2, rotation3, rotation4, rotation5)
SELECT file_id,
       max(CASE WHEN kind = 'content' AND form = 0 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 1 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 2 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 3 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 4 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 5 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 6 THEN hash END),
       max(CASE WHEN kind = 'content' AND form = 7 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 0 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 1 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 2 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 3 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 4 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 5 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 6 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 7 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 8 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 9 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 10 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 11 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 12 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 13 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 14 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 15 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 16 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 17 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 18 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 19 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 20 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 21 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 22 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 23 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 24 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 25 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 26 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 27 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 28 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 29 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 30 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 31 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 32 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 33 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 34 THEN hash END),
       max(CASE WHEN kind = 'window' AND form = 35 THEN hash END),
       max(CASE WHEN kind = 'rotation' AND form = 0 THEN hash END),
       max(CASE WHEN kind = 'rotation' AND form = 1 THEN hash END),
       max(CASE WHEN kind = 'rotation' AND form = 2 THEN hash END),
       max(CASE WHEN kind = 'rotation' AND form = 3 THEN hash END),
       max(CASE WHEN kind = 'rotation' AND form = 4 THEN hash END),
       max(CASE WHEN kind = 'rotation' AND form = 5 THEN hash END)
FROM hashes GROUP BY file_id;
DROP TABLE hashes;
CREATE VIEW hashes AS
SELECT file_id, 'content' AS kind, 0 AS form, content0 AS hash FROM hash_rows WHERE content0 IS NOT NULL
UNION ALL SELECT file_id, 'content', 1, content1 FROM hash_rows WHERE content1 IS NOT NULL
UNION ALL SELECT file_id, 'content', 2, content2 FROM hash_rows WHERE content2 IS NOT NULL
UNION ALL SELECT file_id, 'content', 3, content3 FROM hash_rows WHERE content3 IS NOT NULL
UNION ALL SELECT file_id, 'content', 4, content4 FROM hash_rows WHERE content4 IS NOT NULL
UNION ALL SELECT file_id, 'content', 5, content5 FROM hash_rows WHERE content5 IS NOT NULL
UNION ALL SELECT file_id, 'content', 6, content6 FROM hash_rows WHERE content6 IS NOT NULL
UNION ALL SELECT file_id, 'content', 7, content7 FROM hash_rows WHERE content7 IS NOT NULL
UNION ALL SELECT file_id, 'window', 0, window0 FROM hash_rows WHERE window0 IS NOT NULL
UNION ALL SELECT file_id, 'window', 1, window1 FROM hash_rows WHERE window1 IS NOT NULL
UNION ALL SELECT file_id, 'window', 2, window2 FROM hash_rows WHERE window2 IS NOT NULL
UNION ALL SELECT file_id, 'window', 3, window3 FROM hash_rows WHERE window3 IS NOT NULL
UNION ALL SELECT file_id, 'window', 4, window4 FROM hash_rows WHERE window4 IS NOT NULL
UNION ALL SELECT file_id, 'window', 5, window5 FROM hash_rows WHERE window5 IS NOT NULL
UNION ALL SELECT file_id, 'window', 6, window6 FROM hash_rows WHERE window6 IS NOT NULL
UNION ALL SELECT file_id, 'window', 7, window7 FROM hash_rows WHERE window7 IS NOT NULL
UNION ALL SELECT file_id, 'window', 8, window8 FROM hash_rows WHERE window8 IS NOT NULL
UNION ALL SELECT file_id, 'window', 9, window9 FROM hash_rows WHERE window9 IS NOT NULL
UNION ALL SELECT file_id, 'window', 10, window10 FROM hash_rows WHERE window10 IS NOT NULL
UNION ALL SELECT file_id, 'window', 11, window11 FROM hash_rows WHERE window11 IS NOT NULL
UNION ALL SELECT file_id, 'window', 12, window12 FROM hash_rows WHERE window12 IS NOT NULL
UNION ALL SELECT file_id, 'window', 13, window13 FROM hash_rows WHERE window13 IS NOT NULL
UNION ALL SELECT file_id, 'window', 14, window14 FROM hash_rows WHERE window14 IS NOT NULL
UNION ALL SELECT file_id, 'window', 15, window15 FROM hash_rows WHERE window15 IS NOT NULL
UNION ALL SELECT file_id, 'window', 16, window16 FROM hash_rows WHERE window16 IS NOT NULL
UNION ALL SELECT file_id, 'window', 17, window17 FROM hash_rows WHERE window17 IS NOT NULL
UNION ALL SELECT file_id, 'window', 18, window18 FROM hash_rows WHERE window18 IS NOT NULL
UNION ALL SELECT file_id, 'window', 19, window19 FROM hash_rows WHERE window19 IS NOT NULL
UNION ALL SELECT file_id, 'window', 20, window20 FROM hash_rows WHERE window20 IS NOT NULL
UNION ALL SELECT file_id, 'window', 21, window21 FROM hash_rows WHERE window21 IS NOT NULL
UNION ALL SELECT file_id, 'window', 22, window22 FROM hash_rows WHERE window22 IS NOT NULL
UNION ALL SELECT file_id, 'window', 23, window23 FROM hash_rows WHERE window23 IS NOT NULL
UNION ALL SELECT file_id, 'window', 24, window24 FROM hash_rows WHERE window24 IS NOT NULL
UNION ALL SELECT file_id, 'window', 25, window25 FROM hash_rows WHERE window25 IS NOT NULL
UNION ALL SELECT file_id, 'window', 26, window26 FROM hash_rows WHERE window26 IS NOT NULL
UNION ALL SELECT file_id, 'window', 27, window27 FROM hash_rows WHERE window27 IS NOT NULL
UNION ALL SELECT file_id, 'window', 28, window28 FROM hash_rows WHERE window28 IS NOT NULL
UNION ALL SELECT file_id, 'window', 29, window29 FROM hash_rows WHERE window29 IS NOT NULL
UNION ALL SELECT file_id, 'window', 30, window30 FROM hash_rows WHERE window30 IS NOT NULL
UNION ALL SELECT file_id, 'window', 31, window31 FROM hash_rows WHERE window31 IS NOT NULL
UNION ALL SELECT file_id, 'window', 32, window32 FROM hash_rows WHERE window32 IS NOT NULL
UNION ALL SELECT file_id, 'window', 33, window33 FROM hash_rows WHERE window33 IS NOT NULL
UNION ALL SELECT file_id, 'window', 34, window34 FROM hash_rows WHERE window34 IS NOT NULL
UNION ALL SELECT file_id, 'window', 35, window35 FROM hash_rows WHERE window35 IS NOT NULL
UNION ALL SELECT file_id, 'rotation', 0, rotation0 FROM hash_rows WHERE rotation0 IS NOT NULL
UNION ALL SELECT file_id, 'rotation', 1, rotation1 FROM hash_rows WHERE rotation1 IS NOT NULL
UNION ALL SELECT file_id, 'rotation', 2, rotation2 FROM hash_rows WHERE rotation2 IS NOT NULL
UNION ALL SELECT file_id, 'rotation', 3, rotation3 FROM hash_rows WHERE rotation3 IS NOT NULL
UNION ALL SELECT file_id, 'rotation', 4, rotation4 FROM hash_rows WHERE rotation4 IS NOT NULL
UNION ALL SELECT file_id, 'rotation', 5, rotation5 FROM hash_rows WHERE rotation5 IS NOT NULL;

PRAGMA user_version = 9;
