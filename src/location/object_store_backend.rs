//! `Location` over any `object_store` backend (local filesystem now; S3, Azure, GCS by URL).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use super::{BlobInfo, BlobWriter, Location, LocationError, LocationResult};

/// Parts in flight per streamed blob before `write` waits.
const MAX_PARTS_IN_FLIGHT: usize = 2;
/// Part size of streamed writes to remote stores: S3 needs ≥ 5 MiB parts.
const REMOTE_PART_SIZE: usize = 5 * 1024 * 1024;
/// Part size of streamed writes to local disks: each part is one positioned write, so small
/// parts keep a shard stream's buffer small.
const LOCAL_PART_SIZE: usize = 1024 * 1024;

#[derive(Debug)]
pub struct ObjectStoreLocation {
    name: String,
    store: Arc<dyn ObjectStore>,
    /// Prepended to every path (`[[locations]].prefix`), without trailing slash.
    prefix: String,
    /// Bytes buffered per streamed write before a part is sent.
    part_size: usize,
}

impl ObjectStoreLocation {
    pub fn new(name: impl Into<String>, store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            name: name.into(),
            store,
            prefix: prefix.trim_matches('/').to_string(),
            part_size: REMOTE_PART_SIZE,
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
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| backend_error(&name, e))?
            .with_fsync(fsync);
        let mut location = Self::new(name, Arc::new(fs), "");
        location.part_size = LOCAL_PART_SIZE;
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
            other => backend_error(&self.name, other),
        }
    }
}

fn backend_error(name: &str, e: impl std::fmt::Display) -> LocationError {
    LocationError::Backend {
        location: name.to_string(),
        message: e.to_string(),
    }
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
        self.upload
            .abort()
            .await
            .map_err(|e| backend_error(&location, e))
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
        self.store
            .get_range(&self.path(path), range)
            .await
            .map_err(|e| self.map(path, e))
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
}
