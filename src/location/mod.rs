//! Locations: where shard files and manifest copies live (local disks, other S3 providers,
//! Azure, GCS). A narrow, backend-neutral trait over `object_store`.
//! Owns: blob names → bytes, streaming writes, ranged reads, listing.
//! Must not know: chunks, shards, keys, buckets or object names (callers pass opaque paths).

/// Test-only, but always compiled (small) so integration tests in `tests/` can run it.
pub mod conformance;
pub mod health;
pub mod object_store_backend;
pub mod remote;

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

pub use health::{HealthLocation, HealthSettings};
pub use object_store_backend::ObjectStoreLocation;

/// Errors of a location. `NotFound` and `Invalid` are answers of a working location (the blob
/// is missing, or is not what was asked for); `Backend` and `Unavailable` are failures of the
/// location itself, which the health decorator ([`HealthLocation`]) counts.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("blob not found: {0}")]
    NotFound(String),
    /// The location answered, but the request or the blob was wrong: a reversed range, a blob
    /// shorter than the range asked for.
    #[error("location {location}: {message}")]
    Invalid { location: String, message: String },
    /// The backend failed or did not answer in time.
    #[error("location {location}: {message}")]
    Backend { location: String, message: String },
    /// The location is marked down after earlier failures; the call was not attempted.
    #[error("location {location} unavailable: {message}")]
    Unavailable { location: String, message: String },
}

impl LocationError {
    /// True for errors that say something about the location rather than about one blob.
    pub fn is_location_failure(&self) -> bool {
        match self {
            LocationError::NotFound(_) | LocationError::Invalid { .. } => false,
            LocationError::Backend { .. } | LocationError::Unavailable { .. } => true,
        }
    }
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
    /// False while the location is marked down (see [`HealthLocation`]): callers may skip it
    /// instead of waiting for a fast failure. Plain backends are always available.
    fn is_available(&self) -> bool {
        true
    }
    async fn begin_write(&self, path: &str) -> LocationResult<Box<dyn BlobWriter>>;
    /// Writes a small blob in one request.
    async fn put(&self, path: &str, data: Bytes) -> LocationResult<()>;
    async fn get(&self, path: &str) -> LocationResult<Bytes>;
    async fn get_range(&self, path: &str, range: Range<u64>) -> LocationResult<Bytes>;
    /// Appends exactly `range.end - range.start` bytes of the blob to `buf` and hands the
    /// buffer back, so a caller can gather several ranges into one allocation it owns. A blob
    /// shorter than `range.end` is an error (`Invalid`), never a short read; a missing blob is
    /// `NotFound`. On an error the buffer is dropped.
    ///
    /// A `Vec` rather than `BytesMut`: on stable Rust the only sound way to read a file into
    /// uninitialised spare capacity (no zero-fill) is `Read::read_to_end` into a `Vec`.
    async fn read_range_into(
        &self,
        path: &str,
        range: Range<u64>,
        buf: Vec<u8>,
    ) -> LocationResult<Vec<u8>> {
        append_range(self, path, range, buf).await
    }
    /// Size of the blob.
    async fn head(&self, path: &str) -> LocationResult<u64>;
    /// Deleting a missing blob succeeds.
    async fn delete(&self, path: &str) -> LocationResult<()>;
    /// Every blob whose path starts with `prefix` (a directory-like prefix ending in `/`).
    async fn list(&self, prefix: &str) -> LocationResult<Vec<BlobInfo>>;
    /// A disk of this machine: reads are cheap and sequential block reads beat concurrency.
    fn is_local(&self) -> bool {
        false
    }
    /// Removes what interrupted writes left under `prefix` and [`list`](Self::list) cannot
    /// see: a local disk's staging files (`<name>#<n>`) of writes that never finished (the
    /// gateway was killed) and directories left empty, when last modified before `cutoff_ms`
    /// (Unix ms). Returns the number of files removed. Remote stores keep an unfinished
    /// multipart upload out of sight until their own lifecycle rule
    /// (AbortIncompleteMultipartUpload) removes it, so for them this does nothing.
    async fn sweep_interrupted_writes(&self, prefix: &str, cutoff_ms: i64) -> LocationResult<u64> {
        let _ = (prefix, cutoff_ms);
        Ok(0)
    }
}

/// Length of `range` as a buffer size, or an `Invalid` error for a reversed or huge range.
pub(crate) fn range_len(location: &str, range: &Range<u64>) -> LocationResult<usize> {
    range
        .end
        .checked_sub(range.start)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| LocationError::Invalid {
            location: location.to_string(),
            message: format!("invalid range {range:?}"),
        })
}

/// The error for a blob that ended before the requested range did.
pub(crate) fn short_read(location: &str, path: &str, want: usize, got: usize) -> LocationError {
    LocationError::Invalid {
        location: location.to_string(),
        message: format!("{path}: short read ({got} of {want} bytes; blob truncated?)"),
    }
}

/// `read_range_into` over `get_range`: fetch, check the length, append (one copy).
pub(crate) async fn append_range<L: Location + ?Sized>(
    location: &L,
    path: &str,
    range: Range<u64>,
    mut buf: Vec<u8>,
) -> LocationResult<Vec<u8>> {
    let want = range_len(location.name(), &range)?;
    if want == 0 {
        // Remote stores refuse empty ranges; the blob must still exist.
        location.head(path).await?;
        return Ok(buf);
    }
    let got = location.get_range(path, range).await?;
    if got.len() != want {
        return Err(short_read(location.name(), path, want, got.len()));
    }
    buf.extend_from_slice(&got);
    Ok(buf)
}
