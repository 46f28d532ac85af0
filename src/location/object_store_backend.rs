//! `Location` over any `object_store` backend (local filesystem now; S3, Azure, GCS by URL).

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use super::{
    BlobInfo, BlobWriter, Location, LocationError, LocationResult, append_range, range_len,
    short_read,
};

/// Parts in flight per streamed blob before `write` waits.
const MAX_PARTS_IN_FLIGHT: usize = 2;
/// Part size of streamed writes to remote stores: S3 needs ≥ 5 MiB parts.
const REMOTE_PART_SIZE: usize = 5 * 1024 * 1024;
/// Part size of streamed writes to local disks: each part is one positioned write, so small
/// parts keep a shard stream's buffer small.
const LOCAL_PART_SIZE: usize = 1024 * 1024;

pub struct ObjectStoreLocation {
    name: String,
    store: Arc<dyn ObjectStore>,
    /// Prepended to every path (`[[locations]].prefix`), without trailing slash.
    prefix: String,
    /// Bytes buffered per streamed write before a part is sent.
    part_size: usize,
    /// The same store as `store` when it is a local directory: ranged reads into a caller's
    /// buffer go straight to the file (no zero-fill, no intermediate buffer).
    local: Option<Arc<LocalFileSystem>>,
}

/// By hand: a store's own `Debug` may print its credentials; its `Display` names only the kind
/// and the bucket.
impl std::fmt::Debug for ObjectStoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreLocation")
            .field("name", &self.name)
            .field("store", &format_args!("{}", self.store))
            .field("prefix", &self.prefix)
            .field("part_size", &self.part_size)
            .field("local", &self.local.is_some())
            .finish()
    }
}

impl ObjectStoreLocation {
    pub fn new(name: impl Into<String>, store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            name: name.into(),
            store,
            prefix: prefix.trim_matches('/').to_string(),
            part_size: REMOTE_PART_SIZE,
            local: None,
        }
    }

    /// A local directory (created if missing). With `fsync`, a finished blob and its directory
    /// entry are on stable storage before `finish` returns.
    pub fn local(
        name: impl Into<String>,
        dir: &std::path::Path,
        fsync: bool,
    ) -> LocationResult<Self> {
        let name = name.into();
        std::fs::create_dir_all(dir).map_err(|e| LocationError::Backend {
            location: name.clone(),
            message: format!("creating {}: {e}", dir.display()),
        })?;
        let fs = Arc::new(
            LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| backend_error(&name, e))?
                .with_fsync(fsync),
        );
        let mut location = Self::new(name, Arc::clone(&fs) as Arc<dyn ObjectStore>, "");
        location.part_size = LOCAL_PART_SIZE;
        location.local = Some(fs);
        Ok(location)
    }

    fn path(&self, path: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(path)
        } else {
            Path::from(format!("{}/{}", self.prefix, path))
        }
    }

    fn strip(&self, full: &Path) -> String {
        let s = full.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&self.prefix)
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(s)
                .to_string()
        }
    }

    fn map(&self, path: &str, e: object_store::Error) -> LocationError {
        match e {
            object_store::Error::NotFound { .. } => LocationError::NotFound(path.to_string()),
            other if is_range_error(&other) => LocationError::Invalid {
                location: self.name.clone(),
                message: format!("{path}: range outside the blob ({other})"),
            },
            other => backend_error(&self.name, other),
        }
    }
}

/// A range the blob does not cover: an answer about the blob, not a failure of the location.
/// object_store has no variant for it, so this goes by its messages (its own range checks, and
/// an HTTP 416 / `InvalidRange` from the server).
fn is_range_error(e: &object_store::Error) -> bool {
    let text = e.to_string();
    [
        "416 Range Not Satisfiable",
        "<Code>InvalidRange</Code>",
        "Range started at",
        "out of bounds",
        "Wanted range starting at",
        "Requested range was invalid",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

pub(crate) fn backend_error(name: &str, e: impl std::fmt::Display) -> LocationError {
    LocationError::Backend {
        location: name.to_string(),
        message: e.to_string(),
    }
}

/// Appends `want` bytes of `file_path` from `start` to `buf`. `read_to_end` reads into the
/// vector's spare capacity without initialising it first (soundly: std tracks what the kernel
/// filled), and `take` stops it at exactly `want` bytes.
fn read_file_range(
    location: &str,
    blob: &str,
    file_path: &std::path::Path,
    start: u64,
    want: usize,
    mut buf: Vec<u8>,
) -> LocationResult<Vec<u8>> {
    let io_error = |what: &str, e: std::io::Error| LocationError::Backend {
        location: location.to_string(),
        message: format!("{what} {}: {e}", file_path.display()),
    };
    let mut file = match std::fs::File::open(file_path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LocationError::NotFound(blob.to_string()));
        }
        Err(e) => return Err(io_error("opening", e)),
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| io_error("seeking in", e))?;
    buf.reserve_exact(want);
    let got = file
        .take(want as u64)
        .read_to_end(&mut buf)
        .map_err(|e| io_error("reading", e))?;
    if got != want {
        return Err(short_read(location, blob, want, got));
    }
    Ok(buf)
}

struct StreamWriter {
    location: String,
    upload: WriteMultipart,
}

#[async_trait]
impl BlobWriter for StreamWriter {
    async fn write(&mut self, data: Bytes) -> LocationResult<()> {
        self.upload
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(|e| backend_error(&self.location, e))?;
        self.upload.put(data);
        Ok(())
    }
    async fn finish(self: Box<Self>) -> LocationResult<()> {
        let location = self.location;
        self.upload
            .finish()
            .await
            .map(|_| ())
            .map_err(|e| backend_error(&location, e))
    }
    async fn abort(self: Box<Self>) -> LocationResult<()> {
        let location = self.location;
        match self.upload.abort().await {
            // Some servers (rclone) answer the abort of an upload they already dropped with
            // 404: the upload is gone, which is what abort asked for.
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend_error(&location, e)),
        }
    }
}

#[async_trait]
impl Location for ObjectStoreLocation {
    fn name(&self) -> &str {
        &self.name
    }

    async fn begin_write(&self, path: &str) -> LocationResult<Box<dyn BlobWriter>> {
        let upload = self
            .store
            .put_multipart(&self.path(path))
            .await
            .map_err(|e| self.map(path, e))?;
        Ok(Box::new(StreamWriter {
            location: self.name.clone(),
            upload: WriteMultipart::new_with_chunk_size(upload, self.part_size),
        }))
    }

    async fn put(&self, path: &str, data: Bytes) -> LocationResult<()> {
        self.store
            .put(&self.path(path), data.into())
            .await
            .map(|_| ())
            .map_err(|e| self.map(path, e))
    }

    async fn get(&self, path: &str) -> LocationResult<Bytes> {
        let got = self
            .store
            .get(&self.path(path))
            .await
            .map_err(|e| self.map(path, e))?;
        got.bytes().await.map_err(|e| self.map(path, e))
    }

    async fn get_range(&self, path: &str, range: Range<u64>) -> LocationResult<Bytes> {
        match self.store.get_range(&self.path(path), range.clone()).await {
            // Some S3 servers (rclone) answer a range that covers the whole blob with a plain
            // 200, which object_store refuses; the whole blob is then exactly what was asked.
            Err(e) if e.to_string().contains("non-partial response") => {
                let all = self.get(path).await?;
                let want = range_len(&self.name, &range)?;
                let start = range.start as usize;
                if all.len() < start + want {
                    return Err(short_read(
                        &self.name,
                        path,
                        want,
                        all.len().saturating_sub(start),
                    ));
                }
                Ok(all.slice(start..start + want))
            }
            other => other.map_err(|e| self.map(path, e)),
        }
    }

    async fn read_range_into(
        &self,
        path: &str,
        range: Range<u64>,
        buf: Vec<u8>,
    ) -> LocationResult<Vec<u8>> {
        let Some(fs) = &self.local else {
            return append_range(self, path, range, buf).await;
        };
        // The store's own mapping (root + prefix + path), so both read the same file.
        let file_path = fs
            .path_to_filesystem(&self.path(path))
            .map_err(|e| self.map(path, e))?;
        let want = range_len(&self.name, &range)?;
        let name = self.name.clone();
        let blob = path.to_string();
        tokio::task::spawn_blocking(move || {
            read_file_range(&name, &blob, &file_path, range.start, want, buf)
        })
        .await
        .map_err(|e| backend_error(&self.name, e))?
    }

    fn is_local(&self) -> bool {
        self.local.is_some()
    }

    async fn head(&self, path: &str) -> LocationResult<u64> {
        self.store
            .head(&self.path(path))
            .await
            .map(|m| m.size)
            .map_err(|e| self.map(path, e))
    }

    async fn delete(&self, path: &str) -> LocationResult<()> {
        match self.store.delete(&self.path(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.map(path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> LocationResult<Vec<BlobInfo>> {
        let full = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<_> = self
            .store
            .list(Some(&full))
            .try_collect()
            .await
            .map_err(|e| self.map(prefix, e))?;
        Ok(metas
            .into_iter()
            .map(|m| BlobInfo {
                path: self.strip(&m.location),
                size: m.size,
                last_modified: Some(m.last_modified.timestamp_millis()),
            })
            .collect())
    }

    async fn sweep_interrupted_writes(&self, prefix: &str, cutoff_ms: i64) -> LocationResult<u64> {
        let Some(fs) = &self.local else {
            return Ok(0);
        };
        let dir = fs
            .path_to_filesystem(&self.path(prefix.trim_end_matches('/')))
            .map_err(|e| self.map(prefix, e))?;
        let name = self.name.clone();
        let cutoff =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(cutoff_ms.max(0) as u64);
        tokio::task::spawn_blocking(move || sweep_staging(&dir, cutoff))
            .await
            .map_err(|e| backend_error(&name, e))?
            .map_err(|e| backend_error(&name, e))
    }
}

/// True for object_store's staging file names of local writes: `<name>#<digits>`.
fn is_staging_file_name(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .and_then(|n| n.rsplit_once('#'))
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes staging files modified before `cutoff` under `dir`, then directories below `dir`
/// that are empty and were modified before `cutoff` (a writer that is creating a file there
/// right now has touched the directory). Returns the number of files removed. A missing `dir`
/// is an empty one.
fn sweep_staging(dir: &std::path::Path, cutoff: std::time::SystemTime) -> std::io::Result<u64> {
    fn walk(
        dir: &std::path::Path,
        cutoff: std::time::SystemTime,
        removed: &mut u64,
    ) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let old = meta.modified().is_ok_and(|t| t < cutoff);
            if meta.is_dir() {
                walk(&path, cutoff, removed)?;
                // Fails (and is left alone) when not empty; re-read the time, the walk may
                // have just emptied it.
                let still_old = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < cutoff);
                if old && still_old {
                    let _ = std::fs::remove_dir(&path);
                }
            } else if old && is_staging_file_name(&entry.file_name()) {
                match std::fs::remove_file(&path) {
                    Ok(()) => *removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
    let mut removed = 0;
    walk(dir, cutoff, &mut removed)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn local() -> (tempfile::TempDir, ObjectStoreLocation) {
        let dir = tempfile::tempdir().unwrap();
        let location = ObjectStoreLocation::local("t", dir.path(), false).unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        location.put("d/blob", Bytes::from(data)).await.unwrap();
        (dir, location)
    }

    fn age(path: &std::path::Path, secs: u64) {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        if path.is_dir() {
            // a directory's time can only be set through a handle opened on it
            std::fs::File::open(path)
                .unwrap()
                .set_modified(when)
                .unwrap();
        } else {
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
    }

    #[tokio::test]
    async fn sweep_removes_only_old_staging_files_and_empty_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let location = ObjectStoreLocation::local("t", dir.path(), false).unwrap();
        location
            .put("shards/b1/1.0", Bytes::from_static(b"done"))
            .await
            .unwrap();
        let shards = dir.path().join("shards");
        let write = |rel: &str| {
            let p = shards.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"partial").unwrap();
            p
        };
        let old_staging = write("b1/1.1#1");
        let young_staging = write("b2/1.0#1");
        let not_staging = write("b1/1.2#x");
        let crashed_blob = write("b3/1.0#2");
        std::fs::create_dir_all(shards.join("empty-old")).unwrap();
        std::fs::create_dir_all(shards.join("empty-young")).unwrap();
        for p in [
            &old_staging,
            &not_staging,
            &crashed_blob,
            &shards.join("b1/1.0"),
        ] {
            age(p, 7200);
        }
        for d in ["b1", "b3", "empty-old"] {
            age(&shards.join(d), 7200);
        }
        let cutoff = crate::jobs::now_ms() - 3_600_000;

        let removed = location
            .sweep_interrupted_writes("shards/", cutoff)
            .await
            .unwrap();

        assert_eq!(removed, 2, "the two old staging files");
        assert!(!old_staging.exists() && !crashed_blob.exists());
        assert!(young_staging.exists(), "a write in progress is left alone");
        assert!(not_staging.exists(), "`#x` is not a staging suffix");
        assert!(!shards.join("empty-old").exists());
        assert!(shards.join("empty-young").exists());
        // b3 was emptied by this sweep (its time is now): removed by a later one
        assert!(shards.join("b3").exists());
        assert_eq!(location.get("shards/b1/1.0").await.unwrap(), &b"done"[..]);
        // a store without the prefix yet, and a remote-like store, have nothing to sweep
        assert_eq!(
            location
                .sweep_interrupted_writes("manifests/", cutoff)
                .await
                .unwrap(),
            0
        );
        let memory =
            ObjectStoreLocation::new("m", Arc::new(object_store::memory::InMemory::new()), "");
        assert_eq!(
            memory
                .sweep_interrupted_writes("shards/", cutoff)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn read_range_into_appends_exact_bytes() {
        let (_dir, location) = local().await;
        let expected = location.get_range("d/blob", 1000..9000).await.unwrap();
        let buf = location
            .read_range_into("d/blob", 1000..9000, b"head".to_vec())
            .await
            .unwrap();
        assert_eq!(&buf[..4], b"head");
        assert_eq!(&buf[4..], &expected[..]);
        // The same bytes through the generic path (get_range + copy).
        let generic = append_range(&location, "d/blob", 1000..9000, Vec::new())
            .await
            .unwrap();
        assert_eq!(generic, &buf[4..]);
        // Up to the very end, and an empty range.
        let tail = location
            .read_range_into("d/blob", 9990..10_000, Vec::new())
            .await
            .unwrap();
        assert_eq!(tail, (9990..10_000u32).map(|i| i as u8).collect::<Vec<_>>());
        let empty = location
            .read_range_into("d/blob", 5..5, Vec::new())
            .await
            .unwrap();
        assert!(empty.is_empty());
    }

    #[tokio::test]
    async fn read_range_into_missing_blob_is_not_found() {
        let (_dir, location) = local().await;
        let err = location
            .read_range_into("d/nope", 0..10, Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, LocationError::NotFound(p) if p == "d/nope"));
    }

    #[tokio::test]
    async fn read_range_into_past_the_end_is_an_error() {
        let (_dir, location) = local().await;
        for range in [9000..10_001, 10_000..10_032, 20_000..20_010] {
            let err = location
                .read_range_into("d/blob", range.clone(), Vec::new())
                .await
                .unwrap_err();
            assert!(
                matches!(err, LocationError::Invalid { .. }),
                "{range:?}: {err}"
            );
        }
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 10..5;
        assert!(
            location
                .read_range_into("d/blob", reversed, Vec::new())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn read_range_into_uses_the_store_paths() {
        // A blob written through object_store under a nested path is the one read directly.
        let dir = tempfile::tempdir().unwrap();
        let location = ObjectStoreLocation::local("t", dir.path(), false).unwrap();
        location
            .put("shards/ab/1.0", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        assert!(dir.path().join("shards/ab/1.0").is_file());
        let got = location
            .read_range_into("shards/ab/1.0", 2..6, Vec::new())
            .await
            .unwrap();
        assert_eq!(got, b"2345");
    }
}
