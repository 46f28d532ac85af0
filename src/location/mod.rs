//! Locations: where shard files and manifest copies live (local disks, other S3 providers,
//! Azure, GCS). A narrow, backend-neutral trait over `object_store`.
//! Owns: blob names → bytes, streaming writes, ranged reads, listing.
//! Must not know: chunks, shards, keys, buckets or object names (callers pass opaque paths).

pub mod object_store_backend;

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

pub use object_store_backend::ObjectStoreLocation;

/// Errors of a location. `NotFound` is the only one callers treat as an answer rather than a
/// failure of the location.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("blob not found: {0}")]
    NotFound(String),
    #[error("location {location}: {message}")]
    Backend { location: String, message: String },
}

pub type LocationResult<T> = Result<T, LocationError>;

/// A blob being written as a stream; invisible under its name until `finish` succeeds.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes; may wait while earlier bytes are still being sent (back-pressure).
    async fn write(&mut self, data: Bytes) -> LocationResult<()>;
    /// Makes the blob visible.
    async fn finish(self: Box<Self>) -> LocationResult<()>;
    /// Discards what was written.
    async fn abort(self: Box<Self>) -> LocationResult<()>;
}

/// Listing entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub path: String,
    pub size: u64,
    /// Last modification time in Unix ms, when the backend reports one (garbage collection
    /// leaves blobs younger than its grace period alone).
    pub last_modified: Option<i64>,
}

#[async_trait]
pub trait Location: Send + Sync + Debug + 'static {
    /// The configured name (`[[locations]].name`).
    fn name(&self) -> &str;
    async fn begin_write(&self, path: &str) -> LocationResult<Box<dyn BlobWriter>>;
    /// Writes a small blob in one request.
    async fn put(&self, path: &str, data: Bytes) -> LocationResult<()>;
    async fn get(&self, path: &str) -> LocationResult<Bytes>;
    async fn get_range(&self, path: &str, range: Range<u64>) -> LocationResult<Bytes>;
    /// Size of the blob.
    async fn head(&self, path: &str) -> LocationResult<u64>;
    /// Deleting a missing blob succeeds.
    async fn delete(&self, path: &str) -> LocationResult<()>;
    /// Every blob whose path starts with `prefix` (a directory-like prefix ending in `/`).
    async fn list(&self, prefix: &str) -> LocationResult<Vec<BlobInfo>>;
}
