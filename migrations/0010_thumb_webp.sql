-- neardupd schema version 10. See README.md, "The database".

-- signatures.thumb holds the grey thumb as a lossy WebP file (quality 90; any image library reads it)
-- where it held thumb_size x thumb_size raw bytes: 4.6 KB a picture in the table -> 2.0 KB, with the
-- same accuracy (neardupd/thumb_file.py). neardupd_thumb_webp is the store's own function, given to
-- the connection that upgrades. A thumb of another length stops the upgrade here (and it changes nothing).
CREATE TEMP TABLE thumbs_of_another_length (count INTEGER CHECK (count = 0));
INSERT INTO thumbs_of_another_length SELECT count(*) FROM signatures WHERE length(thumb) != thumb_size * thumb_size;
DROP TABLE thumbs_of_another_length;
UPDATE signatures SET thumb = neardupd_thumb_webp(thumb, thumb_size);

PRAGMA user_version = 10;
