-- neardupd schema version 2: what the always-on daemon (`neardupd run`) keeps. See README.md, "The database".

-- NULL while the file is on disk. Otherwise (UTC, ISO 8601) when it was found gone: the row and its
-- matches are held, not deleted, while its root is unhealthy (vanished, emptied, another device) or
-- while a removal would take more than the allowed share of a root, until a grace period passes.
ALTER TABLE files ADD COLUMN missing_since TEXT;
CREATE INDEX files_missing ON files (missing_since) WHERE missing_since IS NOT NULL;

-- Files waiting to be indexed: durable work. A file leaves this table in the same transaction that
-- writes its signatures (or its error), so a crash or restart resumes where it stopped.
CREATE TABLE pending (
    path_bytes BLOB PRIMARY KEY,
    path       TEXT NOT NULL,
    size       INTEGER NOT NULL,           -- as last seen: a change restarts the quiet period
    mtime_ns   INTEGER NOT NULL,
    due        REAL NOT NULL,              -- Unix time after which it may be decoded
    attempts   INTEGER NOT NULL DEFAULT 0, -- decodes that found the file still incomplete (truncated)
    queued_at  TEXT NOT NULL
) STRICT;
CREATE INDEX pending_due ON pending (due);

-- Files whose decoder crashed or hung: skipped until their size or mtime changes.
CREATE TABLE quarantine (
    path_bytes BLOB PRIMARY KEY,
    path       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('crash', 'timeout')),
    message    TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;

-- The folders the daemon watches, and what it last saw of them.
CREATE TABLE roots (
    path_bytes    BLOB PRIMARY KEY,
    path          TEXT NOT NULL,
    device        INTEGER,                 -- st_dev when last healthy: another device means an unmounted share
    state         TEXT NOT NULL,           -- healthy | vanished | empty | other_device
    healthy_since TEXT,
    checked_at    TEXT NOT NULL
) STRICT;

PRAGMA user_version = 2;
