-- Chunk Works metadata schema, version 1.
--
-- Every record is kept whole as JSON (serde_json of the `meta::model` type) in `record`; the
-- other columns exist only to be keyed, indexed and constrained. Key columns are TEXT with the
-- BINARY collation: SQLite compares them with memcmp over UTF-8, which is the byte order S3
-- listings need. Do not give them another collation.

CREATE TABLE buckets (
    name        TEXT    NOT NULL COLLATE BINARY PRIMARY KEY,
    created_ms  INTEGER NOT NULL,
    record      TEXT    NOT NULL
) STRICT;

-- One row per (bucket, key): the current object version's manifest. The primary key's index
-- serves point look-ups and prefix listings (range scans on (bucket, key)). The foreign key
-- makes deleting a bucket that still holds objects fail instead of orphaning them.
CREATE TABLE objects (
    bucket      TEXT    NOT NULL COLLATE BINARY REFERENCES buckets (name),
    key         TEXT    NOT NULL COLLATE BINARY,
    version_id  TEXT    NOT NULL,
    record      TEXT    NOT NULL,
    PRIMARY KEY (bucket, key)
) STRICT;

CREATE TABLE uploads (
    upload_id     TEXT    NOT NULL COLLATE BINARY PRIMARY KEY,
    bucket        TEXT    NOT NULL COLLATE BINARY REFERENCES buckets (name),
    key           TEXT    NOT NULL COLLATE BINARY,
    initiated_ms  INTEGER NOT NULL,
    record        TEXT    NOT NULL
) STRICT;

-- ListMultipartUploads order: (key, initiated, upload id) within a bucket.
CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated_ms, upload_id);

CREATE TABLE parts (
    upload_id    TEXT    NOT NULL COLLATE BINARY REFERENCES uploads (upload_id),
    part_number  INTEGER NOT NULL,
    record       TEXT    NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) STRICT;

-- Blobs whose shard files are no longer referenced, queued in the transaction that
-- unreferenced them. AUTOINCREMENT: ids only grow and are never reused, so "oldest first" is
-- "ascending id" and a forgotten id can never come back naming another blob.
CREATE TABLE orphans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms  INTEGER NOT NULL,
    record      TEXT    NOT NULL
) STRICT;
