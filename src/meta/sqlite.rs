//! SQLite metadata store (the embedded default).
//!
//! # Concurrency
//!
//! One [`rusqlite::Connection`] behind a [`std::sync::Mutex`]; every query runs on tokio's
//! blocking pool (`spawn_blocking`) while holding that lock. SQLite allows a single writer
//! anyway, so one connection is simple and obviously correct: no `SQLITE_BUSY` between our own
//! writers, no lock upgrades, transactions never interleave. The cost is that reads queue behind
//! writes (and each other); if that ever shows in profiles, add a small pool of read-only
//! connections (WAL lets them read while the writer commits) and keep this one for writes.
//! A poisoned mutex is recovered: a panic inside a closure drops its open transaction, which
//! rolls back, so the connection is in a clean state.
//!
//! # Durability
//!
//! WAL journal with `synchronous = FULL`: a transaction is on disk (WAL fsynced) before
//! `commit` returns, so an acknowledged write survives a crash or power loss. Foreign keys are
//! on (a bucket that still holds objects or uploads cannot be deleted even by a buggy caller) and
//! a busy timeout covers other processes (e.g. a CLI subcommand) opening the same file.
//!
//! # Schema
//!
//! Numbered migrations in `src/meta/migrations/sqlite/NNNN_name.sql`, compiled in with
//! `include_str!`, applied in order, each in its own transaction that also bumps
//! `PRAGMA user_version`. A database with a newer version than this build knows is refused.
//! Records are stored whole as JSON next to the columns that key and index them.
//!
//! # Ordering
//!
//! Keys are TEXT with SQLite's BINARY collation (memcmp of UTF-8), which is exactly the byte
//! order S3 listings use. Prefix listings are an index range `key >= prefix AND key <
//! successor(prefix)`, where the successor is the smallest string greater than every string
//! starting with the prefix; no `LIKE`/`GLOB`, so `%`, `_` and `*` in keys are plain bytes.
//!
//! # Orphans
//!
//! Besides what [`MetaStore`] documents: a blob is never queued while the record written in the
//! same transaction still references it (matched by blob id). An overwrite that reuses blobs
//! (e.g. a metadata-only rewrite of an object onto itself) therefore never queues live data.
//!
//! `complete_upload` refuses (as `Internal`, a caller bug) a record whose bucket or key differs
//! from the upload's. `list_parts` of an unknown upload and `list_objects` of an unknown bucket
//! return nothing rather than an error; `delete_object` in an unknown bucket is a no-op.
//!
//! # Multipart listing markers
//!
//! `list_uploads` resumes after the marker upload's position in (key, initiated, upload id)
//! order. When the marker upload no longer exists (completed or aborted between pages), it
//! falls back to the S3 rule: uploads with a greater key, or the same key and a greater upload id.

use std::collections::HashSet;
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Bucket, BucketChange, DeleteMarker, ListQuery, ListedVersion, LockChange, MetaError,
    MetaResult, MetaStore, MultipartUpload, NULL_VERSION, ObjectChange, ObjectLockConfig,
    ObjectRecord, OrphanBlob, Orphans, RetentionMode, StoredPart, UploadListQuery, UploadedPart,
    VersionEntry, VersionListQuery, Versioning, WriteCondition,
};

/// Schema migrations, in order. Entry `i` takes `user_version` from `i` to `i + 1`.
/// Never edit a released migration; append a new one.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/sqlite/0001_init.sql")),
    (
        "0002_versions",
        include_str!("migrations/sqlite/0002_versions.sql"),
    ),
];

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The embedded metadata store. Cheap to share behind an `Arc`; see the module docs.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating file and parent directories when missing) the database at `path`,
    /// switches it to WAL with `synchronous = FULL` and applies pending migrations.
    pub fn open(path: &Path) -> MetaResult<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .ctx(format_args!("create directory {}", parent.display()))?;
        }
        let conn = Connection::open(path).ctx(format_args!("open {}", path.display()))?;
        Self::init(conn, true)
    }

    /// A private in-memory database, for tests. Nothing survives dropping the store.
    pub fn open_in_memory() -> MetaResult<Self> {
        let conn = Connection::open_in_memory().ctx("open in-memory database")?;
        Self::init(conn, false)
    }

    fn init(mut conn: Connection, file: bool) -> MetaResult<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).ctx("set busy_timeout")?;
        if file {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .ctx("set journal_mode = WAL")?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(internal(format!(
                    "set journal_mode = WAL: database stays in {mode} mode"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .ctx("set synchronous = FULL")?;
        conn.pragma_update(None, "foreign_keys", 1)
            .ctx("set foreign_keys = ON")?;
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |row| row.get(0))
            .ctx("read foreign_keys")?;
        if !fk {
            return Err(internal("foreign keys cannot be enabled"));
        }
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, op: &'static str, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> MetaResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| internal(format!("{op}: blocking task failed: {e}")))?
    }

    /// Runs `f` inside one write transaction, committed when `f` succeeds and rolled back
    /// otherwise.
    async fn write<T, F>(&self, op: &'static str, f: F) -> MetaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> MetaResult<T> + Send + 'static,
    {
        self.with_conn(op, move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(format_args!("{op}: begin"))?;
            let out = f(&tx)?;
            tx.commit().ctx(format_args!("{op}: commit"))?;
            Ok(out)
        })
        .await
    }

    /// `put_object`, with `condition` checked in the same transaction.
    async fn put_object_inner(
        &self,
        record: &ObjectRecord,
        condition: Option<WriteCondition>,
    ) -> MetaResult<Orphans> {
        let json = encode(record, "object record")?;
        let record = record.clone();
        self.write("put_object", move |tx| {
            if !bucket_exists(tx, &record.bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            if let Some(condition) = &condition {
                condition.check(load_object(tx, &record.bucket, &record.key)?.as_ref())?;
            }
            let mut orphans = Orphans::default();
            retire_current(
                tx,
                &record.bucket,
                &record.key,
                record.versioned,
                &blob_ids(&record),
                &mut orphans,
            )?;
            store_object(tx, &record, &json)?;
            Ok(orphans)
        })
        .await
    }

    /// `complete_upload`, with `condition` checked in the same transaction.
    async fn complete_upload_inner(
        &self,
        upload_id: &str,
        record: &ObjectRecord,
        condition: Option<WriteCondition>,
    ) -> MetaResult<Orphans> {
        let json = encode(record, "object record")?;
        let (upload_id, record) = (upload_id.to_owned(), record.clone());
        self.write("complete_upload", move |tx| {
            let Some(upload) = load_upload(tx, &upload_id)? else {
                return Err(MetaError::NoSuchUpload);
            };
            if upload.bucket != record.bucket || upload.key != record.key {
                return Err(internal(format!(
                    "complete_upload: upload {upload_id} is for {}/{}, record for {}/{}",
                    upload.bucket, upload.key, record.bucket, record.key
                )));
            }
            if let Some(condition) = &condition {
                condition.check(load_object(tx, &record.bucket, &record.key)?.as_ref())?;
            }
            let used = blob_ids(&record);
            let mut orphans = Orphans::default();
            retire_current(
                tx,
                &record.bucket,
                &record.key,
                record.versioned,
                &used,
                &mut orphans,
            )?;
            store_object(tx, &record, &json)?;
            let parts = drop_upload(tx, &upload_id)?;
            queue_orphans(tx, parts.iter().map(|p| &p.part), &used, &mut orphans)?;
            Ok(orphans)
        })
        .await
    }
}

/// Brings the schema to the newest version. Each step re-reads the version inside its own
/// immediate transaction, so two processes opening a fresh file at once cannot both apply it.
fn migrate(conn: &mut Connection) -> MetaResult<()> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("migrate: begin")?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .ctx("migrate: read user_version")?;
        let Ok(current) = usize::try_from(version) else {
            return Err(internal(format!(
                "migrate: invalid schema version {version}"
            )));
        };
        if current > MIGRATIONS.len() {
            return Err(internal(format!(
                "migrate: database schema version {current} is newer than this build knows ({})",
                MIGRATIONS.len()
            )));
        }
        let Some((name, sql)) = MIGRATIONS.get(current) else {
            return Ok(());
        };
        tx.execute_batch(sql)
            .ctx(format_args!("migrate: apply {name}"))?;
        tx.pragma_update(None, "user_version", version + 1)
            .ctx(format_args!("migrate: record {name}"))?;
        tx.commit().ctx(format_args!("migrate: commit {name}"))?;
    }
}

fn internal(msg: impl Into<String>) -> MetaError {
    MetaError::Internal(msg.into())
}

/// Attaches context to a foreign error and turns it into `MetaError::Internal`.
trait Ctx<T> {
    fn ctx(self, what: impl Display) -> MetaResult<T>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: impl Display) -> MetaResult<T> {
        self.map_err(|e| MetaError::Internal(format!("sqlite store: {what}: {e}")))
    }
}

fn encode<T: Serialize>(value: &T, what: &str) -> MetaResult<String> {
    serde_json::to_string(value).ctx(format_args!("encode {what}"))
}

fn decode<T: DeserializeOwned>(json: &str, what: &str) -> MetaResult<T> {
    serde_json::from_str(json).ctx(format_args!("decode {what}"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The smallest string greater than every string that starts with `prefix`, or `None` when
/// there is none (empty prefix, or only U+10FFFF). UTF-8 byte order equals code point order,
/// so bumping the last code point that can be bumped (skipping the surrogate gap) and dropping
/// what follows gives the exclusive upper bound of the prefix's key range.
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn bucket_exists(tx: &Transaction<'_>, bucket: &str) -> MetaResult<bool> {
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM buckets WHERE name = ?1)")
        .and_then(|mut st| st.query_row(params![bucket], |row| row.get(0)))
        .ctx("check bucket")
}

fn load_object(conn: &Connection, bucket: &str, key: &str) -> MetaResult<Option<ObjectRecord>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT record FROM objects WHERE bucket = ?1 AND key = ?2")
        .and_then(|mut st| {
            st.query_row(params![bucket, key], |row| row.get(0))
                .optional()
        })
        .ctx("read object")?;
    json.map(|j| decode(&j, "object record")).transpose()
}

fn store_object(tx: &Transaction<'_>, record: &ObjectRecord, json: &str) -> MetaResult<()> {
    tx.prepare_cached(
        "INSERT INTO objects (bucket, key, version_id, record) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (bucket, key) DO UPDATE
         SET version_id = excluded.version_id, record = excluded.record",
    )
    .and_then(|mut st| st.execute(params![record.bucket, record.key, record.version_id, json]))
    .ctx("write object")?;
    Ok(())
}

fn load_upload(conn: &Connection, upload_id: &str) -> MetaResult<Option<MultipartUpload>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT record FROM uploads WHERE upload_id = ?1")
        .and_then(|mut st| {
            st.query_row(params![upload_id], |row| row.get(0))
                .optional()
        })
        .ctx("read upload")?;
    json.map(|j| decode(&j, "upload record")).transpose()
}

fn load_parts(
    conn: &Connection,
    upload_id: &str,
    after_part: u32,
    limit: i64,
) -> MetaResult<Vec<UploadedPart>> {
    let rows: Vec<String> = conn
        .prepare_cached(
            "SELECT record FROM parts WHERE upload_id = ?1 AND part_number > ?2
             ORDER BY part_number LIMIT ?3",
        )
        .and_then(|mut st| {
            st.query_map(params![upload_id, after_part, limit], |row| row.get(0))?
                .collect()
        })
        .ctx("read parts")?;
    rows.iter().map(|j| decode(j, "part record")).collect()
}

/// Removes an upload and its parts, returning the parts.
fn drop_upload(tx: &Transaction<'_>, upload_id: &str) -> MetaResult<Vec<UploadedPart>> {
    let parts = load_parts(tx, upload_id, 0, i64::MAX)?;
    tx.prepare_cached("DELETE FROM parts WHERE upload_id = ?1")
        .and_then(|mut st| st.execute(params![upload_id]))
        .ctx("delete parts")?;
    tx.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")
        .and_then(|mut st| st.execute(params![upload_id]))
        .ctx("delete upload")?;
    Ok(parts)
}

/// Queues `parts` for deletion, skipping those whose blob id is in `keep`.
fn queue_orphans<'a>(
    tx: &Transaction<'_>,
    parts: impl IntoIterator<Item = &'a StoredPart>,
    keep: &HashSet<&str>,
    out: &mut Orphans,
) -> MetaResult<()> {
    let created = now_ms();
    for part in parts {
        if keep.contains(part.blob_id.as_str()) {
            continue;
        }
        let blob = OrphanBlob {
            blob_id: part.blob_id.clone(),
            part_number: part.part_number,
            shards: part.shards.clone(),
        };
        let json = encode(&blob, "orphan")?;
        tx.prepare_cached("INSERT INTO orphans (created_ms, record) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![created, json]))
            .ctx("queue orphan")?;
        out.entries.push((tx.last_insert_rowid(), blob));
    }
    Ok(())
}

fn blob_ids(record: &ObjectRecord) -> HashSet<&str> {
    record.parts.iter().map(|p| p.blob_id.as_str()).collect()
}

/// The object listing: an index range over (bucket, key) in key order. Parameters `:bucket`,
/// `:lower`, `:limit` and, when `bounded`, `:upper` (exclusive).
fn object_listing_sql(lower_op: &str, bounded: bool) -> String {
    let upper = if bounded { " AND key < :upper" } else { "" };
    format!(
        "SELECT record FROM objects WHERE bucket = :bucket AND key {lower_op} :lower{upper} \
         ORDER BY key LIMIT :limit"
    )
}

/// Runs a dynamically built `SELECT record ...` with named parameters and decodes the rows.
fn query_records<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: &[(&str, &dyn ToSql)],
    what: &str,
) -> MetaResult<Vec<T>> {
    let rows: Vec<String> = conn
        .prepare_cached(sql)
        .and_then(|mut st| st.query_map(args, |row| row.get(0))?.collect())
        .ctx(format_args!("list {what}"))?;
    rows.iter().map(|j| decode(j, what)).collect()
}

/// A row of `versions`: where it is and what it holds.
struct VersionRow {
    seq: i64,
    entry: VersionEntry,
}

fn decode_version(is_marker: bool, json: &str) -> MetaResult<VersionEntry> {
    Ok(if is_marker {
        VersionEntry::DeleteMarker(decode(json, "delete marker")?)
    } else {
        VersionEntry::Object(Box::new(decode(json, "object record")?))
    })
}

fn load_version_row(
    conn: &Connection,
    bucket: &str,
    key: &str,
    s3_version_id: &str,
) -> MetaResult<Option<VersionRow>> {
    let row: Option<(i64, bool, String)> = conn
        .prepare_cached(
            "SELECT seq, is_marker, record FROM versions
             WHERE bucket = ?1 AND key = ?2 AND s3_version_id = ?3",
        )
        .and_then(|mut st| {
            st.query_row(params![bucket, key, s3_version_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .ctx("read version")?;
    row.map(|(seq, is_marker, json)| {
        Ok(VersionRow {
            seq,
            entry: decode_version(is_marker, &json)?,
        })
    })
    .transpose()
}

/// Appends a version to `versions` (it becomes the newest of its key there).
fn insert_version(tx: &Transaction<'_>, entry: &VersionEntry) -> MetaResult<()> {
    let (bucket, key, version_id, is_marker, json) = match entry {
        VersionEntry::Object(o) => (
            &o.bucket,
            &o.key,
            &o.version_id,
            false,
            encode(o, "object record")?,
        ),
        VersionEntry::DeleteMarker(d) => (
            &d.bucket,
            &d.key,
            &d.version_id,
            true,
            encode(d, "delete marker")?,
        ),
    };
    tx.prepare_cached(
        "INSERT INTO versions (bucket, key, s3_version_id, version_id, is_marker, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            bucket,
            key,
            entry.s3_version_id(),
            version_id,
            is_marker,
            json
        ])
    })
    .ctx("insert version")?;
    Ok(())
}

fn delete_object_row(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<()> {
    tx.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")
        .and_then(|mut st| st.execute(params![bucket, key]))
        .ctx("delete object")?;
    Ok(())
}

fn delete_version_row(tx: &Transaction<'_>, seq: i64) -> MetaResult<()> {
    tx.prepare_cached("DELETE FROM versions WHERE seq = ?1")
        .and_then(|mut st| st.execute(params![seq]))
        .ctx("delete version")?;
    Ok(())
}

/// Makes room for a new latest version of (bucket, key). `versioned`: the new version has its
/// own S3 version id; otherwise it is the new null version. The current object version moves
/// to `versions` unless it is the null version being replaced (then it is queued, except blobs
/// in `keep`); a null version already in `versions` is removed (and queued) too. Leaves the
/// `objects` row in place for the caller to overwrite or delete.
fn retire_current(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
    versioned: bool,
    keep: &HashSet<&str>,
    orphans: &mut Orphans,
) -> MetaResult<()> {
    if let Some(old) = load_object(tx, bucket, key)? {
        if versioned || old.versioned {
            insert_version(tx, &VersionEntry::Object(Box::new(old)))?;
        } else {
            queue_orphans(tx, &old.parts, keep, orphans)?;
            orphans.replaced_version = Some(old.version_id);
        }
    }
    if !versioned && let Some(row) = load_version_row(tx, bucket, key, NULL_VERSION)? {
        delete_version_row(tx, row.seq)?;
        if let VersionEntry::Object(old) = row.entry {
            queue_orphans(tx, &old.parts, keep, orphans)?;
            orphans.replaced_version = Some(old.version_id);
        }
    }
    Ok(())
}

/// When (bucket, key) has no current object row, the newest version in `versions` becomes
/// current if it is an object (a delete marker stays where it is: it is the latest).
fn promote_newest(tx: &Transaction<'_>, bucket: &str, key: &str) -> MetaResult<()> {
    if load_object(tx, bucket, key)?.is_some() {
        return Ok(());
    }
    let newest: Option<(i64, bool, String)> = tx
        .prepare_cached(
            "SELECT seq, is_marker, record FROM versions WHERE bucket = ?1 AND key = ?2
             ORDER BY seq DESC LIMIT 1",
        )
        .and_then(|mut st| {
            st.query_row(params![bucket, key], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .ctx("read newest version")?;
    if let Some((seq, false, json)) = newest {
        let record: ObjectRecord = decode(&json, "object record")?;
        delete_version_row(tx, seq)?;
        store_object(tx, &record, &json)?;
    }
    Ok(())
}

fn load_bucket(conn: &Connection, name: &str) -> MetaResult<Option<Bucket>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT record FROM buckets WHERE name = ?1")
        .and_then(|mut st| st.query_row(params![name], |row| row.get(0)).optional())
        .ctx("read bucket")?;
    json.map(|j| decode(&j, "bucket record")).transpose()
}

fn store_bucket(tx: &Transaction<'_>, bucket: &Bucket) -> MetaResult<()> {
    let json = encode(bucket, "bucket")?;
    tx.prepare_cached("UPDATE buckets SET record = ?2 WHERE name = ?1")
        .and_then(|mut st| st.execute(params![bucket.name, json]))
        .ctx("update bucket")?;
    Ok(())
}

/// `update_object_version` for a noncurrent object version (by internal version id).
fn update_noncurrent(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
    version_id: &str,
    change: ObjectChange,
) -> MetaResult<Option<ObjectRecord>> {
    let row: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT seq, record FROM versions
             WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 AND is_marker = 0",
        )
        .and_then(|mut st| {
            st.query_row(params![bucket, key, version_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })
        .ctx("read version")?;
    let Some((seq, json)) = row else {
        return Ok(None);
    };
    let stored: ObjectRecord = decode(&json, "object record")?;
    let mut record = stored.clone();
    change(&mut record);
    record.bucket = stored.bucket;
    record.key = stored.key;
    record.version_id = stored.version_id;
    record.versioned = stored.versioned;
    let json = encode(&record, "object record")?;
    tx.prepare_cached("UPDATE versions SET record = ?2 WHERE seq = ?1")
        .and_then(|mut st| st.execute(params![seq, json]))
        .ctx("update version")?;
    Ok(Some(record))
}

/// Applies `change` to `record` under the Object Lock rules (see `update_version_lock`).
fn apply_lock_change(record: &mut ObjectRecord, change: &LockChange, now: i64) -> MetaResult<()> {
    match change {
        LockChange::LegalHold(on) => record.legal_hold = *on,
        LockChange::Retention {
            retention,
            bypass_governance,
        } => {
            if let Some(old) = record
                .retention
                .as_ref()
                .filter(|r| r.retain_until_ms > now)
            {
                let weakens = match retention {
                    None => true,
                    Some(new) => {
                        new.retain_until_ms < old.retain_until_ms
                            || (old.mode == RetentionMode::Compliance
                                && new.mode != RetentionMode::Compliance)
                    }
                };
                if weakens {
                    match old.mode {
                        RetentionMode::Compliance => {
                            return Err(MetaError::ObjectLocked(
                                "a COMPLIANCE retention can only be extended".into(),
                            ));
                        }
                        RetentionMode::Governance if !bypass_governance => {
                            return Err(MetaError::ObjectLocked(
                                "shortening or removing a GOVERNANCE retention needs \
                                 x-amz-bypass-governance-retention"
                                    .into(),
                            ));
                        }
                        RetentionMode::Governance => {}
                    }
                }
            }
            record.retention = retention.clone();
        }
    }
    Ok(())
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn create_bucket(&self, bucket: &Bucket) -> MetaResult<()> {
        let json = encode(bucket, "bucket")?;
        let (name, created) = (bucket.name.clone(), bucket.created_ms);
        self.write("create_bucket", move |tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO buckets (name, created_ms, record) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO NOTHING",
                    params![name, created, json],
                )
                .ctx("insert bucket")?;
            if inserted == 0 {
                return Err(MetaError::BucketExists);
            }
            Ok(())
        })
        .await
    }

    async fn get_bucket(&self, name: &str) -> MetaResult<Option<Bucket>> {
        let name = name.to_owned();
        self.with_conn("get_bucket", move |conn| load_bucket(conn, &name))
            .await
    }

    async fn delete_bucket(&self, name: &str) -> MetaResult<()> {
        let name = name.to_owned();
        self.write("delete_bucket", move |tx| {
            if !bucket_exists(tx, &name)? {
                return Err(MetaError::NoSuchBucket);
            }
            let in_use: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1)
                         OR EXISTS (SELECT 1 FROM versions WHERE bucket = ?1)
                         OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1)",
                    params![name],
                    |row| row.get(0),
                )
                .ctx("check bucket contents")?;
            if in_use {
                return Err(MetaError::BucketNotEmpty);
            }
            tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])
                .ctx("delete bucket")?;
            Ok(())
        })
        .await
    }

    async fn list_buckets(&self) -> MetaResult<Vec<Bucket>> {
        self.with_conn("list_buckets", |conn| {
            query_records(
                conn,
                "SELECT record FROM buckets ORDER BY name",
                &[],
                "bucket record",
            )
        })
        .await
    }

    async fn update_bucket(&self, name: &str, change: BucketChange) -> MetaResult<Bucket> {
        let name = name.to_owned();
        self.write("update_bucket", move |tx| {
            let json: Option<String> = tx
                .query_row(
                    "SELECT record FROM buckets WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .optional()
                .ctx("read bucket")?;
            let Some(json) = json else {
                return Err(MetaError::NoSuchBucket);
            };
            let stored: Bucket = decode(&json, "bucket record")?;
            let mut record = stored.clone();
            change(&mut record);
            record.name = stored.name;
            record.created_ms = stored.created_ms;
            tx.execute(
                "UPDATE buckets SET record = ?2 WHERE name = ?1",
                params![name, encode(&record, "bucket")?],
            )
            .ctx("update bucket")?;
            Ok(record)
        })
        .await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectRecord>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.with_conn("get_object", move |conn| load_object(conn, &bucket, &key))
            .await
    }

    async fn put_object(&self, record: &ObjectRecord) -> MetaResult<Orphans> {
        self.put_object_inner(record, None).await
    }

    async fn put_object_if(
        &self,
        record: &ObjectRecord,
        condition: &WriteCondition,
    ) -> MetaResult<Orphans> {
        self.put_object_inner(record, Some(condition.clone())).await
    }

    async fn update_object_if_current(&self, record: &ObjectRecord) -> MetaResult<bool> {
        let json = encode(record, "object record")?;
        let record = record.clone();
        self.write("update_object_if_current", move |tx| {
            let changed = tx
                .execute(
                    "UPDATE objects SET record = ?4
                     WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
                    params![record.bucket, record.key, record.version_id, json],
                )
                .ctx("update object")?;
            // a noncurrent version is healed in place too
            let changed_noncurrent = tx
                .execute(
                    "UPDATE versions SET record = ?4
                     WHERE bucket = ?1 AND key = ?2 AND version_id = ?3 AND is_marker = 0",
                    params![record.bucket, record.key, record.version_id, json],
                )
                .ctx("update version")?;
            Ok(changed + changed_noncurrent == 1)
        })
        .await
    }

    async fn update_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        change: ObjectChange,
    ) -> MetaResult<Option<ObjectRecord>> {
        let (bucket, key, version_id) = (bucket.to_owned(), key.to_owned(), version_id.to_owned());
        self.write("update_object_version", move |tx| {
            let current = load_object(tx, &bucket, &key)?.filter(|o| o.version_id == version_id);
            let Some(stored) = current else {
                return update_noncurrent(tx, &bucket, &key, &version_id, change);
            };
            let mut record = stored.clone();
            change(&mut record);
            record.bucket = stored.bucket;
            record.key = stored.key;
            record.version_id = stored.version_id;
            tx.execute(
                "UPDATE objects SET record = ?4
                 WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
                params![
                    record.bucket,
                    record.key,
                    record.version_id,
                    encode(&record, "object record")?
                ],
            )
            .ctx("update object")?;
            Ok(Some(record))
        })
        .await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> MetaResult<Orphans> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write("delete_object", move |tx| {
            let mut orphans = Orphans::default();
            if let Some(old) = load_object(tx, &bucket, &key)? {
                tx.execute(
                    "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                    params![bucket, key],
                )
                .ctx("delete object")?;
                queue_orphans(tx, &old.parts, &HashSet::new(), &mut orphans)?;
                orphans.replaced_version = Some(old.version_id);
            }
            Ok(orphans)
        })
        .await
    }

    async fn list_objects(&self, bucket: &str, query: &ListQuery) -> MetaResult<Vec<ObjectRecord>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let bucket = bucket.to_owned();
        let upper = prefix_successor(&query.prefix);
        // Lower bound: the prefix itself (inclusive) or `after` (exclusive), whichever is
        // greater; any key above an `after` >= prefix is also above the prefix.
        let (lower, lower_op) = match &query.after {
            Some(after) if *after >= query.prefix => (after.clone(), ">"),
            _ => (query.prefix.clone(), ">="),
        };
        let limit = sql_limit(query.limit);
        self.with_conn("list_objects", move |conn| {
            let sql = object_listing_sql(lower_op, upper.is_some());
            let mut args: Vec<(&str, &dyn ToSql)> =
                vec![(":bucket", &bucket), (":lower", &lower), (":limit", &limit)];
            if let Some(upper) = &upper {
                args.push((":upper", upper));
            }
            query_records(conn, &sql, &args, "object record")
        })
        .await
    }

    async fn set_bucket_versioning(&self, bucket: &str, state: Versioning) -> MetaResult<()> {
        let name = bucket.to_owned();
        self.write("set_bucket_versioning", move |tx| {
            let Some(mut bucket) = load_bucket(tx, &name)? else {
                return Err(MetaError::NoSuchBucket);
            };
            if state != Versioning::Enabled && bucket.object_lock.is_some() {
                return Err(MetaError::InvalidBucketState(
                    "An Object Lock configuration is present on this bucket, so the \
                     versioning state cannot be changed."
                        .into(),
                ));
            }
            if state == Versioning::Unversioned && bucket.versioning != Versioning::Unversioned {
                return Err(internal("versioning cannot be turned off once on"));
            }
            bucket.versioning = state;
            store_bucket(tx, &bucket)
        })
        .await
    }

    async fn set_bucket_object_lock(
        &self,
        bucket: &str,
        config: &ObjectLockConfig,
    ) -> MetaResult<()> {
        let (name, config) = (bucket.to_owned(), config.clone());
        self.write("set_bucket_object_lock", move |tx| {
            let Some(mut bucket) = load_bucket(tx, &name)? else {
                return Err(MetaError::NoSuchBucket);
            };
            if bucket.object_lock.is_none() && bucket.versioning == Versioning::Suspended {
                return Err(MetaError::InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock \
                     configuration"
                        .into(),
                ));
            }
            bucket.versioning = Versioning::Enabled;
            bucket.object_lock = Some(config);
            store_bucket(tx, &bucket)
        })
        .await
    }

    async fn put_delete_marker(&self, marker: &DeleteMarker) -> MetaResult<Orphans> {
        let marker = marker.clone();
        self.write("put_delete_marker", move |tx| {
            if !bucket_exists(tx, &marker.bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            let mut orphans = Orphans::default();
            retire_current(
                tx,
                &marker.bucket,
                &marker.key,
                marker.versioned,
                &HashSet::new(),
                &mut orphans,
            )?;
            delete_object_row(tx, &marker.bucket, &marker.key)?;
            insert_version(tx, &VersionEntry::DeleteMarker(marker))?;
            Ok(orphans)
        })
        .await
    }

    async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        s3_version_id: &str,
    ) -> MetaResult<Option<VersionEntry>> {
        let (bucket, key, vid) = (bucket.to_owned(), key.to_owned(), s3_version_id.to_owned());
        self.with_conn("get_version", move |conn| {
            if let Some(current) = load_object(conn, &bucket, &key)?
                && current.s3_version_id() == vid
            {
                return Ok(Some(VersionEntry::Object(Box::new(current))));
            }
            Ok(load_version_row(conn, &bucket, &key, &vid)?.map(|row| row.entry))
        })
        .await
    }

    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        s3_version_id: &str,
        bypass_governance: bool,
    ) -> MetaResult<(Option<VersionEntry>, Orphans)> {
        let (bucket, key, vid) = (bucket.to_owned(), key.to_owned(), s3_version_id.to_owned());
        self.write("delete_version", move |tx| {
            let now = now_ms();
            let locked = |o: &ObjectRecord| -> MetaResult<()> {
                if o.is_locked(now, bypass_governance) {
                    let why = if o.legal_hold {
                        "the version is under a legal hold"
                    } else {
                        "the version is under retention"
                    };
                    return Err(MetaError::ObjectLocked(why.into()));
                }
                Ok(())
            };
            let mut orphans = Orphans::default();
            let deleted = match load_object(tx, &bucket, &key)? {
                Some(current) if current.s3_version_id() == vid => {
                    locked(&current)?;
                    delete_object_row(tx, &bucket, &key)?;
                    queue_orphans(tx, &current.parts, &HashSet::new(), &mut orphans)?;
                    orphans.replaced_version = Some(current.version_id.clone());
                    Some(VersionEntry::Object(Box::new(current)))
                }
                _ => match load_version_row(tx, &bucket, &key, &vid)? {
                    None => None,
                    Some(row) => {
                        if let VersionEntry::Object(o) = &row.entry {
                            locked(o)?;
                            queue_orphans(tx, &o.parts, &HashSet::new(), &mut orphans)?;
                            orphans.replaced_version = Some(o.version_id.clone());
                        }
                        delete_version_row(tx, row.seq)?;
                        Some(row.entry)
                    }
                },
            };
            if deleted.is_some() {
                promote_newest(tx, &bucket, &key)?;
            }
            Ok((deleted, orphans))
        })
        .await
    }

    async fn list_versions(
        &self,
        bucket: &str,
        query: &VersionListQuery,
    ) -> MetaResult<Vec<ListedVersion>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let bucket = bucket.to_owned();
        let prefix = query.prefix.clone();
        let upper = prefix_successor(&query.prefix);
        let after_key = query.after_key.clone();
        let after_version = query.after_version.clone();
        let limit = sql_limit(query.limit);
        self.with_conn("list_versions", move |conn| {
            // The position of the version marker: the current row sorts first (i64::MAX).
            let after_seq: Option<i64> = match (&after_key, &after_version) {
                (Some(k), Some(v)) => match load_object(conn, &bucket, k)? {
                    Some(cur) if cur.s3_version_id() == v => Some(i64::MAX),
                    _ => load_version_row(conn, &bucket, k, v)?.map(|row| row.seq),
                },
                _ => None,
            };
            let mut sql = String::from(
                "SELECT key, seq, is_marker, record, is_latest FROM (
                   SELECT key, 9223372036854775807 AS seq, 0 AS is_marker, record, 1 AS is_latest
                   FROM objects WHERE bucket = :bucket
                   UNION ALL
                   SELECT v.key, v.seq, v.is_marker, v.record,
                     (NOT EXISTS (SELECT 1 FROM objects o WHERE o.bucket = v.bucket AND o.key = v.key)
                      AND v.seq = (SELECT max(w.seq) FROM versions w
                                   WHERE w.bucket = v.bucket AND w.key = v.key)) AS is_latest
                   FROM versions v WHERE v.bucket = :bucket
                 ) WHERE key >= :prefix",
            );
            let mut args: Vec<(&str, &dyn ToSql)> = vec![
                (":bucket", &bucket),
                (":prefix", &prefix),
                (":limit", &limit),
            ];
            if let Some(upper) = &upper {
                sql.push_str(" AND key < :upper");
                args.push((":upper", upper));
            }
            if let Some(k) = &after_key {
                args.push((":akey", k));
                match &after_seq {
                    Some(seq) => {
                        sql.push_str(" AND (key > :akey OR (key = :akey AND seq < :aseq))");
                        args.push((":aseq", seq));
                    }
                    None => sql.push_str(" AND key > :akey"),
                }
            }
            sql.push_str(" ORDER BY key, seq DESC LIMIT :limit");
            let rows: Vec<(bool, String, bool)> = conn
                .prepare(&sql)
                .and_then(|mut st| {
                    st.query_map(args.as_slice(), |row| {
                        Ok((row.get(2)?, row.get(3)?, row.get(4)?))
                    })?
                    .collect()
                })
                .ctx("list versions")?;
            rows.into_iter()
                .map(|(is_marker, json, is_latest)| {
                    Ok(ListedVersion {
                        entry: decode_version(is_marker, &json)?,
                        is_latest,
                    })
                })
                .collect()
        })
        .await
    }

    async fn update_version_lock(
        &self,
        bucket: &str,
        key: &str,
        s3_version_id: &str,
        change: &LockChange,
    ) -> MetaResult<ObjectRecord> {
        let (bucket, key, vid) = (bucket.to_owned(), key.to_owned(), s3_version_id.to_owned());
        let change = change.clone();
        self.write("update_version_lock", move |tx| {
            let now = now_ms();
            if let Some(mut current) = load_object(tx, &bucket, &key)?
                && current.s3_version_id() == vid
            {
                apply_lock_change(&mut current, &change, now)?;
                let json = encode(&current, "object record")?;
                store_object(tx, &current, &json)?;
                return Ok(current);
            }
            let Some(row) = load_version_row(tx, &bucket, &key, &vid)? else {
                return Err(MetaError::NoSuchVersion);
            };
            let VersionEntry::Object(record) = row.entry else {
                return Err(MetaError::IsDeleteMarker);
            };
            let mut record = *record;
            apply_lock_change(&mut record, &change, now)?;
            let json = encode(&record, "object record")?;
            tx.prepare_cached("UPDATE versions SET record = ?2 WHERE seq = ?1")
                .and_then(|mut st| st.execute(params![row.seq, json]))
                .ctx("update version")?;
            Ok(record)
        })
        .await
    }

    async fn create_upload(&self, upload: &MultipartUpload) -> MetaResult<()> {
        let json = encode(upload, "upload record")?;
        let upload = upload.clone();
        self.write("create_upload", move |tx| {
            if !bucket_exists(tx, &upload.bucket)? {
                return Err(MetaError::NoSuchBucket);
            }
            tx.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, record)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    upload.upload_id,
                    upload.bucket,
                    upload.key,
                    upload.initiated_ms,
                    json
                ],
            )
            .ctx(format_args!("insert upload {}", upload.upload_id))?;
            Ok(())
        })
        .await
    }

    async fn get_upload(&self, upload_id: &str) -> MetaResult<Option<MultipartUpload>> {
        let upload_id = upload_id.to_owned();
        self.with_conn("get_upload", move |conn| load_upload(conn, &upload_id))
            .await
    }

    async fn put_part(&self, part: &UploadedPart) -> MetaResult<Orphans> {
        let json = encode(part, "part record")?;
        let part = part.clone();
        self.write("put_part", move |tx| {
            let upload_exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM uploads WHERE upload_id = ?1)",
                    params![part.upload_id],
                    |row| row.get(0),
                )
                .ctx("check upload")?;
            if !upload_exists {
                return Err(MetaError::NoSuchUpload);
            }
            let number = part.part.part_number;
            let old: Option<String> = tx
                .query_row(
                    "SELECT record FROM parts WHERE upload_id = ?1 AND part_number = ?2",
                    params![part.upload_id, number],
                    |row| row.get(0),
                )
                .optional()
                .ctx("read part")?;
            tx.execute(
                "INSERT INTO parts (upload_id, part_number, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (upload_id, part_number) DO UPDATE SET record = excluded.record",
                params![part.upload_id, number, json],
            )
            .ctx("write part")?;
            let mut orphans = Orphans::default();
            if let Some(old) = old {
                let old: UploadedPart = decode(&old, "part record")?;
                let keep = HashSet::from([part.part.blob_id.as_str()]);
                queue_orphans(tx, [&old.part], &keep, &mut orphans)?;
            }
            Ok(orphans)
        })
        .await
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after_part: u32,
        limit: usize,
    ) -> MetaResult<Vec<UploadedPart>> {
        let upload_id = upload_id.to_owned();
        let limit = sql_limit(limit);
        self.with_conn("list_parts", move |conn| {
            load_parts(conn, &upload_id, after_part, limit)
        })
        .await
    }

    async fn complete_upload(&self, upload_id: &str, record: &ObjectRecord) -> MetaResult<Orphans> {
        self.complete_upload_inner(upload_id, record, None).await
    }

    async fn complete_upload_if(
        &self,
        upload_id: &str,
        record: &ObjectRecord,
        condition: &WriteCondition,
    ) -> MetaResult<Orphans> {
        self.complete_upload_inner(upload_id, record, Some(condition.clone()))
            .await
    }

    async fn abort_upload(&self, upload_id: &str) -> MetaResult<Orphans> {
        let upload_id = upload_id.to_owned();
        self.write("abort_upload", move |tx| {
            if load_upload(tx, &upload_id)?.is_none() {
                return Err(MetaError::NoSuchUpload);
            }
            let parts = drop_upload(tx, &upload_id)?;
            let mut orphans = Orphans::default();
            queue_orphans(
                tx,
                parts.iter().map(|p| &p.part),
                &HashSet::new(),
                &mut orphans,
            )?;
            Ok(orphans)
        })
        .await
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        query: &UploadListQuery,
    ) -> MetaResult<Vec<MultipartUpload>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let bucket = bucket.to_owned();
        let prefix = query.prefix.clone();
        let upper = prefix_successor(&query.prefix);
        let after = query.after.clone();
        let limit = sql_limit(query.limit);
        self.with_conn("list_uploads", move |conn| {
            let marker_initiated: Option<i64>;
            let mut sql = String::from(
                "SELECT record FROM uploads WHERE bucket = :bucket AND key >= :prefix",
            );
            let mut args: Vec<(&str, &dyn ToSql)> = vec![
                (":bucket", &bucket),
                (":prefix", &prefix),
                (":limit", &limit),
            ];
            if let Some(upper) = &upper {
                sql.push_str(" AND key < :upper");
                args.push((":upper", upper));
            }
            if let Some((marker_key, marker_id)) = &after {
                args.push((":mkey", marker_key));
                if marker_id.is_empty() {
                    sql.push_str(" AND key > :mkey");
                } else {
                    marker_initiated = conn
                        .prepare_cached(
                            "SELECT initiated_ms FROM uploads
                             WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3",
                        )
                        .and_then(|mut st| {
                            st.query_row(params![marker_id, bucket, marker_key], |row| row.get(0))
                                .optional()
                        })
                        .ctx("read upload marker")?;
                    args.push((":mid", marker_id));
                    match &marker_initiated {
                        Some(initiated) => {
                            sql.push_str(
                                " AND (key, initiated_ms, upload_id) > (:mkey, :minit, :mid)",
                            );
                            args.push((":minit", initiated));
                        }
                        None => {
                            sql.push_str(" AND (key > :mkey OR (key = :mkey AND upload_id > :mid))")
                        }
                    }
                }
            }
            sql.push_str(" ORDER BY key, initiated_ms, upload_id LIMIT :limit");
            query_records(conn, &sql, &args, "upload record")
        })
        .await
    }

    async fn pending_orphans(&self, limit: usize) -> MetaResult<Orphans> {
        let limit = sql_limit(limit);
        self.with_conn("pending_orphans", move |conn| {
            let rows: Vec<(i64, String)> = conn
                .prepare_cached("SELECT id, record FROM orphans ORDER BY id LIMIT ?1")
                .and_then(|mut st| {
                    st.query_map(params![limit], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect()
                })
                .ctx("read orphans")?;
            let entries = rows
                .into_iter()
                .map(|(id, json)| Ok((id, decode(&json, "orphan record")?)))
                .collect::<MetaResult<_>>()?;
            Ok(Orphans {
                entries,
                replaced_version: None,
            })
        })
        .await
    }

    async fn forget_orphans(&self, ids: &[i64]) -> MetaResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write("forget_orphans", move |tx| {
            let mut st = tx
                .prepare_cached("DELETE FROM orphans WHERE id = ?1")
                .ctx("prepare delete orphan")?;
            for id in ids {
                st.execute(params![id]).ctx("delete orphan")?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_bounds_the_prefix_range() {
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("a").as_deref(), Some("b"));
        assert_eq!(prefix_successor("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_successor("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_successor("\u{7f}").as_deref(), Some("\u{80}"));
        assert_eq!(prefix_successor("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
        assert_eq!(prefix_successor("x\u{10FFFF}").as_deref(), Some("y"));
        assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_successor("日本").as_deref(), Some("日札"));
        // Every string starting with the prefix sorts (bytewise) below the successor.
        for (prefix, key) in [
            ("a", "a\u{10FFFF}\u{10FFFF}"),
            ("\u{7f}", "\u{7f}\u{10FFFF}"),
            ("x\u{D7FF}", "x\u{D7FF}\u{FFFF}"),
        ] {
            let upper = prefix_successor(prefix).expect("bounded");
            assert!(key.as_bytes() < upper.as_bytes(), "{key:?} < {upper:?}");
        }
    }

    #[test]
    fn prefix_listing_is_an_index_range() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.conn.lock().expect("lock");
        for (op, bounded) in [(">=", true), (">", true), (">=", false), (">", false)] {
            let sql = format!("EXPLAIN QUERY PLAN {}", object_listing_sql(op, bounded));
            let mut args: Vec<(&str, &dyn ToSql)> =
                vec![(":bucket", &"b"), (":lower", &"a/"), (":limit", &10i64)];
            if bounded {
                args.push((":upper", &"a0"));
            }
            let plan: Vec<String> = conn
                .prepare(&sql)
                .and_then(|mut st| st.query_map(&args[..], |row| row.get(3))?.collect())
                .expect("plan");
            let plan = plan.join("\n");
            // EXPLAIN shows `>=` as `>` too.
            let range = if bounded {
                "(bucket=? AND key>? AND key<?)"
            } else {
                "(bucket=? AND key>?)"
            };
            assert!(
                plan.contains("SEARCH objects USING INDEX") && plan.contains(range),
                "{sql}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "no sort step: {plan}");
        }
    }

    #[test]
    fn migrations_set_user_version() {
        let store = SqliteStore::open_in_memory().expect("open");
        let conn = store.conn.lock().expect("lock");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len() as i64);
    }
}
