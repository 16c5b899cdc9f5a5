-- neardupd schema version 7. See README.md, "The database".

-- What each file's header says that the keep-best rules and the explanations read, taken when it is
-- indexed (so a clean-up is planned without opening the photos): the number of EXIF tags, the capture
-- time (DateTimeOriginal: the camera's local time read as UTC, in Unix seconds; NULL if it has none),
-- and the JPEG quality of its luminance table on libjpeg's 1-100 scale (NULL: not a JPEG).
-- All NULL for files indexed before version 7 (a plan then reads the EXIF facts from the file).
ALTER TABLE files ADD COLUMN exif_tags INTEGER;
ALTER TABLE files ADD COLUMN captured REAL;
ALTER TABLE files ADD COLUMN jpeg_quality INTEGER;

PRAGMA user_version = 7;
