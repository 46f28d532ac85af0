//! The metadata store: buckets, object manifests, multipart uploads and the queue of blobs
//! waiting to be deleted. Owns transactions and the database schema; knows nothing of HTTP,
//! shard bytes or keys (a manifest carries the DEK only in wrapped form).
//!
//! Every mutation that makes shard files unreferenced (overwrite, delete, part re-upload,
//! abort, complete) records them in the orphan queue *in the same transaction*, so a crash
//! between commit and shard deletion leaves a queue entry for garbage collection, never a leak.

pub mod conformance;
pub mod model;
pub mod sqlite;

use async_trait::async_trait;
pub use model::*;

/// Errors of the metadata layer. Callers branch on the variant.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("bucket does not exist")]
    NoSuchBucket,
    #[error("bucket already exists")]
    BucketExists,
    #[error("bucket is not empty")]
    BucketNotEmpty,
    #[error("multipart upload does not exist")]
    NoSuchUpload,
    #[error("version does not exist")]
    NoSuchVersion,
    /// The version is protected by Object Lock (retention or legal hold); the message says how.
    #[error("object locked: {0}")]
    ObjectLocked(String),
    /// The request conflicts with the bucket's state (e.g. suspending versioning with Object
    /// Lock on).
    #[error("invalid bucket state: {0}")]
    InvalidBucketState(String),
    /// The version is a delete marker where an object version is required.
    #[error("the version is a delete marker")]
    IsDeleteMarker,
    /// A conditional write's [`WriteCondition`] did not hold.
    #[error("write condition failed")]
    PreconditionFailed,
    /// A conditional write required an existing object (`IfEtagMatches`) and there is none.
    #[error("object does not exist")]
    NoSuchKey,
    #[error("metadata store failure: {0}")]
    Internal(String),
}

pub type MetaResult<T> = Result<T, MetaError>;

/// A change to one version's Object Lock state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockChange {
    Retention {
        retention: Option<Retention>,
        bypass_governance: bool,
    },
    LegalHold(bool),
}
/// An edit of a bucket record, run inside [`MetaStore::update_bucket`]'s transaction.
pub type BucketChange = Box<dyn FnOnce(&mut Bucket) + Send>;

/// An edit of an object record, run inside [`MetaStore::update_object_version`]'s transaction.
pub type ObjectChange = Box<dyn FnOnce(&mut ObjectRecord) + Send>;

/// Orphaned blobs queued in the same transaction as the change that orphaned them, with the
/// queue ids to pass to [`MetaStore::forget_orphans`] once their shard files are deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Orphans {
    pub entries: Vec<(i64, OrphanBlob)>,
    /// Version id of the object version the change replaced or deleted, if any (its manifest
    /// copies are to be tombstoned).
    pub replaced_version: Option<String>,
}

#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Fails with `BucketExists` when the name is taken.
    async fn create_bucket(&self, bucket: &Bucket) -> MetaResult<()>;
    async fn get_bucket(&self, name: &str) -> MetaResult<Option<Bucket>>;
    /// Fails with `NoSuchBucket`, or `BucketNotEmpty` when objects or uploads remain.
    async fn delete_bucket(&self, name: &str) -> MetaResult<()>;
    /// All buckets, sorted by name.
    async fn list_buckets(&self) -> MetaResult<Vec<Bucket>>;
    /// Applies `change` to the stored record of bucket `name` in one transaction (a
    /// read-modify-write of its tags or CORS rules that can't lose a concurrent change to the
    /// other); name and creation time stay as stored. Returns the new record. Fails with
    /// `NoSuchBucket`.
    async fn update_bucket(&self, name: &str, change: BucketChange) -> MetaResult<Bucket>;

    async fn get_object(&self, bucket: &str, key: &str) -> MetaResult<Option<ObjectRecord>>;
    /// Inserts or replaces (bucket, key). The replaced version's blobs are queued as orphans.
    /// Fails with `NoSuchBucket`.
    async fn put_object(&self, record: &ObjectRecord) -> MetaResult<Orphans>;
    /// [`MetaStore::put_object`], committed only when `condition` holds for the current
    /// version of (bucket, key), checked inside the same transaction. Fails with
    /// `PreconditionFailed`, or `NoSuchKey` for `IfEtagMatches` on a missing key.
    async fn put_object_if(
        &self,
        record: &ObjectRecord,
        condition: &WriteCondition,
    ) -> MetaResult<Orphans>;
    /// Rewrites the manifest of (bucket, key) in place when the current version is still
    /// `record.version_id` (the healer clearing `missing_shards`); false when the key was
    /// overwritten or deleted meanwhile. Queues nothing: the blobs stay the same.
    async fn update_object_if_current(&self, record: &ObjectRecord) -> MetaResult<bool>;
    /// Applies `change` in one transaction to the record of object version `version_id`
    /// (internal id) of (bucket, key), current or noncurrent (a tag change, the healer clearing
    /// `missing_shards`): concurrent edits of different fields don't undo each other. Returns
    /// the new record, or `None` when that version is gone. Bucket, key and version id stay as stored;
    /// the change must not swap blobs (nothing is queued).
    async fn update_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        change: ObjectChange,
    ) -> MetaResult<Option<ObjectRecord>>;
    /// Removes (bucket, key) if present and queues its blobs. Missing key is not an error.
    async fn delete_object(&self, bucket: &str, key: &str) -> MetaResult<Orphans>;
    /// Objects with `key` starting with `query.prefix` and greater than `query.after`, in
    /// key (byte) order, at most `query.limit`.
    async fn list_objects(&self, bucket: &str, query: &ListQuery) -> MetaResult<Vec<ObjectRecord>>;

    /// Fails with `NoSuchBucket`.
    async fn create_upload(&self, upload: &MultipartUpload) -> MetaResult<()>;
    async fn get_upload(&self, upload_id: &str) -> MetaResult<Option<MultipartUpload>>;
    /// Records a part, replacing (and queueing) an earlier upload of the same part number.
    /// Fails with `NoSuchUpload` when the upload is gone (completed or aborted meanwhile): the
    /// caller then deletes the part's shards itself.
    async fn put_part(&self, part: &UploadedPart) -> MetaResult<Orphans>;
    /// Parts with number greater than `after_part`, ascending, at most `limit`.
    async fn list_parts(
        &self,
        upload_id: &str,
        after_part: u32,
        limit: usize,
    ) -> MetaResult<Vec<UploadedPart>>;
    /// In one transaction: insert the object (queueing a replaced version), delete the upload
    /// and its parts, and queue the uploaded parts that `record.parts` does not use (matched by
    /// blob id). Fails with `NoSuchUpload`.
    async fn complete_upload(&self, upload_id: &str, record: &ObjectRecord) -> MetaResult<Orphans>;
    /// [`MetaStore::complete_upload`] under `condition`, as [`MetaStore::put_object_if`].
    /// When the condition fails the upload and its parts stay as they were.
    async fn complete_upload_if(
        &self,
        upload_id: &str,
        record: &ObjectRecord,
        condition: &WriteCondition,
    ) -> MetaResult<Orphans>;
    /// Deletes the upload and queues all its parts. Fails with `NoSuchUpload`.
    async fn abort_upload(&self, upload_id: &str) -> MetaResult<Orphans>;
    /// Uploads of `bucket` ordered by (key, initiated, upload id) after `query.after`.
    async fn list_uploads(
        &self,
        bucket: &str,
        query: &UploadListQuery,
    ) -> MetaResult<Vec<MultipartUpload>>;

    /// Sets the versioning state (`Enabled` or `Suspended`). Fails with `NoSuchBucket`, or
    /// `InvalidBucketState` when suspending a bucket with Object Lock.
    async fn set_bucket_versioning(&self, bucket: &str, state: Versioning) -> MetaResult<()>;
    /// Turns Object Lock on (and versioning with it) or replaces its default retention.
    /// Fails with `NoSuchBucket`, or `InvalidBucketState` when versioning is suspended.
    async fn set_bucket_object_lock(
        &self,
        bucket: &str,
        config: &ObjectLockConfig,
    ) -> MetaResult<()>;
    /// Makes `marker` the latest version of its key: the current object version becomes
    /// noncurrent, unless the marker is a null marker replacing the null version (queued).
    async fn put_delete_marker(&self, marker: &DeleteMarker) -> MetaResult<Orphans>;
    /// One version of a key by S3 version id (`null` included).
    async fn get_version(
        &self,
        bucket: &str,
        key: &str,
        s3_version_id: &str,
    ) -> MetaResult<Option<VersionEntry>>;
    /// Permanently removes one version and queues its blobs; the newest remaining version
    /// becomes the latest. A missing version is not an error (`None`). An object version under
    /// Object Lock is refused with `ObjectLocked` (governance retention only unless
    /// `bypass_governance`).
    async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        s3_version_id: &str,
        bypass_governance: bool,
    ) -> MetaResult<(Option<VersionEntry>, Orphans)>;
    /// Versions (objects and delete markers) in key order, newest first within a key.
    async fn list_versions(
        &self,
        bucket: &str,
        query: &VersionListQuery,
    ) -> MetaResult<Vec<ListedVersion>>;
    /// Changes the retention or legal hold of one object version, enforcing Object Lock
    /// rules in the transaction: a compliance retention can only be extended, a governance
    /// one shortened or removed only with `bypass_governance`. Returns the updated record.
    async fn update_version_lock(
        &self,
        bucket: &str,
        key: &str,
        s3_version_id: &str,
        change: &LockChange,
    ) -> MetaResult<ObjectRecord>;

    /// Oldest queued orphans first.
    async fn pending_orphans(&self, limit: usize) -> MetaResult<Orphans>;
    /// Drops queue entries whose shard files have been deleted.
    async fn forget_orphans(&self, ids: &[i64]) -> MetaResult<()>;
}
