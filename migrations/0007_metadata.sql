-- neardupd schema version 7. See README.md, "The database".

-- What each file's EXIF header says that the keep-best rules read, taken when it is indexed (so a
-- clean-up is planned without opening the photos): the number of EXIF tags, and the capture time
-- (DateTimeOriginal: the camera's local time read as UTC, in Unix seconds; NULL if it has none).
-- Both NULL for files indexed before version 7 (a plan then reads them from the file).
ALTER TABLE files ADD COLUMN exif_tags INTEGER;
ALTER TABLE files ADD COLUMN captured REAL;

PRAGMA user_version = 7;
