-- Version 2: object versions.
--
-- `objects` keeps exactly the current version of each key when that version is an object (so
-- plain listings and GETs stay one index look-up). Every other version lives here: noncurrent
-- object versions and all delete markers. Invariant: a key's `objects` row, when present, is
-- newer than all of its `versions` rows, and `seq` grows with a version's age order among the
-- key's rows here (a version moves here when a newer one replaces it, so a later move means a
-- newer version). ListObjectVersions order: key, then the `objects` row, then `seq` descending.
CREATE TABLE versions (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket         TEXT    NOT NULL COLLATE BINARY REFERENCES buckets (name),
    key            TEXT    NOT NULL COLLATE BINARY,
    -- 'null' for versions written while versioning was off or suspended
    s3_version_id  TEXT    NOT NULL COLLATE BINARY,
    -- the internal (manifest) version id
    version_id     TEXT    NOT NULL,
    is_marker      INTEGER NOT NULL,
    record         TEXT    NOT NULL
) STRICT;

CREATE INDEX versions_by_key ON versions (bucket, key, seq);
CREATE UNIQUE INDEX versions_by_version ON versions (bucket, key, s3_version_id);
CREATE INDEX versions_by_internal_id ON versions (version_id);
