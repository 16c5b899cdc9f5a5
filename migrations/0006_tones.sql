-- neardupd schema version 6. See README.md, "The database".

-- Two figures of each picture for the explanations and the likely original: how colourful it is
-- (Hasler and Suesstrunk's colourfulness: 0 for black and white, about 40 for a photo) and how sharp
-- (mean absolute Laplacian over the grey spread, at the work size). NULL for pictures indexed before
-- version 6 (their pairs then say nothing of saturation or blur).
ALTER TABLE signatures ADD COLUMN colourfulness REAL;
ALTER TABLE signatures ADD COLUMN sharpness REAL;

PRAGMA user_version = 6;
