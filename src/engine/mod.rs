//! The object pipeline (DESIGN.md "Data flow"): chunk → encrypt → erasure-code → shard files
//! on locations, and back. Owns: formats, keys, placement, the streaming writer and reader,
//! manifest copies. Must not know: HTTP, S3 error codes, the metadata store's transactions
//! (it reads and returns the plain records of `meta::model`).

pub mod codec;
pub mod crypto;
pub mod keys;
pub mod placement;
pub mod reader;
pub mod repair;
pub mod shard_file;
pub mod writer;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::location::{Location, LocationError};
use crate::meta::{Bucket, ObjectRecord, OrphanBlob};
use crypto::{DataKey, MasterKey};

/// Errors of the engine. `Input` carries the body stream's own error untouched so the S3 layer
/// can recover the exact S3 error it wraps.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("reading the input failed: {0}")]
    Input(std::io::Error),
    #[error("object exceeds the maximum size of {max} bytes")]
    TooLarge { max: u64 },
    #[error("not enough healthy shards to read chunk {chunk} of blob {blob_id}: {detail}")]
    Unreadable {
        blob_id: String,
        chunk: u64,
        detail: String,
    },
    #[error("writing shards failed: {0}")]
    Write(String),
    #[error("key error: {0}")]
    Key(#[from] crypto::CryptoError),
    #[error("location: {0}")]
    Location(#[from] LocationError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type EngineResult<T> = Result<T, EngineError>;

/// Erasure-coding policy applied to new writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
}

/// The engine: locations in placement order, the write policy and the master key.
#[derive(Debug)]
pub struct Engine {
    locations: Vec<Arc<dyn Location>>,
    policy: Policy,
    master: MasterKey,
    /// A read waits this long for a data shard before it also reads parity.
    hedge_delay: std::time::Duration,
}

/// Default hedge delay for reads (config `[health] hedge_delay_ms`).
pub const DEFAULT_HEDGE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// A new object version's identity and key material.
pub struct NewVersion {
    pub version_id: String,
    pub dek: DataKey,
    pub wrapped_dek: String,
    pub key_id: String,
}

/// A manifest copy as stored (sealed) in every location.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestCopy {
    /// Commit time in Unix ms; a rebuild keeps the newest state of each key.
    pub committed_ms: i64,
    /// `None` marks a tombstone: the version was deleted.
    pub record: Option<ObjectRecord>,
}

/// A bucket's settings as sealed at every location (`buckets/<name id>`), so `recover-index`
/// can restore versioning, Object Lock, tags and CORS with the objects.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketCopy {
    pub committed_ms: i64,
    pub bucket: Bucket,
}

/// Backend prefix of the sealed bucket copies (`buckets/<name id>`).
pub const BUCKETS_PREFIX: &str = "buckets/";

/// Backend prefix of the shard files (`shards/<blob-id>/<part>.<shard>`).
pub const SHARDS_PREFIX: &str = "shards/";
/// Backend prefix of the sealed manifest copies (`manifests/<version-id>`).
pub const MANIFESTS_PREFIX: &str = "manifests/";

/// Random 16 bytes as 32 hex chars: version ids, blob ids, upload ids.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Backend path of one shard file.
pub fn shard_path(blob_id: &str, part_number: u32, shard_index: u8) -> String {
    format!("shards/{blob_id}/{part_number}.{shard_index}")
}

/// Backend path of the manifest copy of one object version.
pub fn manifest_path(version_id: &str) -> String {
    format!("manifests/{version_id}")
}

impl Engine {
    pub fn new(locations: Vec<Arc<dyn Location>>, policy: Policy, master: MasterKey) -> Self {
        Self {
            locations,
            policy,
            master,
            hedge_delay: DEFAULT_HEDGE_DELAY,
        }
    }

    /// Sets how long a read waits for a slow data shard before reading parity as well.
    pub fn with_hedge_delay(mut self, delay: std::time::Duration) -> Self {
        self.hedge_delay = delay;
        self
    }

    pub fn hedge_delay(&self) -> std::time::Duration {
        self.hedge_delay
    }

    /// Shards a write must land before it is acknowledged: k, or k+1 when k == m (as MinIO),
    /// and never more than the shards there are.
    pub fn write_quorum(&self) -> usize {
        let (k, m) = (self.policy.k as usize, self.policy.m as usize);
        (if k == m { k + 1 } else { k }).min(k + m)
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn locations(&self) -> &[Arc<dyn Location>] {
        &self.locations
    }

    pub(crate) fn location(&self, name: &str) -> Option<&Arc<dyn Location>> {
        self.locations.iter().find(|l| l.name() == name)
    }

    /// Fresh version id and DEK, wrapped under the master key.
    pub fn new_version(&self) -> NewVersion {
        let version_id = random_id();
        let dek = DataKey::generate();
        let wrapped_dek = self.master.wrap_dek(&dek, &version_id);
        NewVersion {
            version_id,
            dek,
            wrapped_dek,
            key_id: self.master.id().to_string(),
        }
    }

    /// Unwraps the DEK of a stored version.
    pub fn data_key(
        &self,
        version_id: &str,
        wrapped_dek: &str,
        key_id: &str,
    ) -> EngineResult<DataKey> {
        if key_id != self.master.id() {
            return Err(EngineError::Internal(format!(
                "object is wrapped under master key {key_id}, the gateway has {}",
                self.master.id()
            )));
        }
        Ok(self.master.unwrap_dek(wrapped_dek, version_id)?)
    }

    /// Writes the sealed manifest copy of `record` to every location (in parallel).
    /// Writes the manifest copy of `record` to every location that lacks one (it was down at
    /// commit time). Returns how many copies were added.
    pub async fn ensure_manifest_copies(&self, record: &ObjectRecord) -> EngineResult<usize> {
        let path = manifest_path(&record.version_id);
        let mut sealed = None;
        let mut added = 0;
        for location in &self.locations {
            match location.head(&path).await {
                Ok(_) => continue,
                Err(LocationError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let sealed = match &sealed {
                Some(s) => Bytes::clone(s),
                None => {
                    let copy = ManifestCopy {
                        committed_ms: record.last_modified_ms,
                        record: Some(record.clone()),
                    };
                    let plain = serde_json::to_vec(&copy)
                        .map_err(|e| EngineError::Internal(e.to_string()))?;
                    sealed
                        .insert(Bytes::from(self.master.seal_manifest(&path, &plain)))
                        .clone()
                }
            };
            location.put(&path, sealed).await?;
            added += 1;
        }
        Ok(added)
    }

    pub async fn write_manifest_copies(
        &self,
        record: &ObjectRecord,
        committed_ms: i64,
    ) -> EngineResult<()> {
        self.put_manifest(
            &record.version_id,
            ManifestCopy {
                committed_ms,
                record: Some(record.clone()),
            },
        )
        .await
    }

    /// Replaces the manifest copies of `version_id` with sealed tombstones (best effort per
    /// location: a location that is down is logged and left to garbage collection).
    pub async fn write_tombstones(&self, version_id: &str, deleted_ms: i64) {
        if let Err(e) = self
            .put_manifest(
                version_id,
                ManifestCopy {
                    committed_ms: deleted_ms,
                    record: None,
                },
            )
            .await
        {
            tracing::warn!(version_id, error = %e, "writing tombstone failed");
        }
    }

    fn bucket_copy_path(&self, name: &str) -> String {
        format!("{BUCKETS_PREFIX}{}", self.master.name_id(name))
    }

    /// Seals `bucket` (its settings) to every location that answers; best effort: the
    /// metadata store stays the truth, and heal writes them again.
    pub async fn write_bucket_copies(&self, bucket: &Bucket, committed_ms: i64) {
        let path = self.bucket_copy_path(&bucket.name);
        let copy = BucketCopy {
            committed_ms,
            bucket: bucket.clone(),
        };
        let plain = match serde_json::to_vec(&copy) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "encoding a bucket copy failed");
                return;
            }
        };
        let sealed = Bytes::from(self.master.seal_manifest(&path, &plain));
        let results = join_all(self.locations.iter().map(|l| l.put(&path, sealed.clone()))).await;
        for (location, result) in self.locations.iter().zip(results) {
            if let Err(e) = result {
                tracing::warn!(location = %location.name(), error = %e, "bucket copy not written");
            }
        }
    }

    /// Writes the sealed copy of `bucket` to every location that lacks one (it was down when
    /// the settings changed). Returns how many were added.
    pub async fn ensure_bucket_copies(&self, bucket: &Bucket) -> EngineResult<usize> {
        let path = self.bucket_copy_path(&bucket.name);
        let mut missing = Vec::new();
        for location in &self.locations {
            match location.head(&path).await {
                Ok(_) => {}
                Err(LocationError::NotFound(_)) => missing.push(location),
                Err(e) => return Err(e.into()),
            }
        }
        if missing.is_empty() {
            return Ok(0);
        }
        let copy = BucketCopy {
            committed_ms: bucket.created_ms,
            bucket: bucket.clone(),
        };
        let plain = serde_json::to_vec(&copy).map_err(|e| EngineError::Internal(e.to_string()))?;
        let sealed = Bytes::from(self.master.seal_manifest(&path, &plain));
        for location in &missing {
            location.put(&path, sealed.clone()).await?;
        }
        Ok(missing.len())
    }

    /// Removes a deleted bucket's sealed copies (best effort; a leftover only brings back an
    /// empty bucket on `recover-index`).
    pub async fn delete_bucket_copies(&self, name: &str) {
        let path = self.bucket_copy_path(name);
        for location in &self.locations {
            if let Err(e) = location.delete(&path).await {
                tracing::warn!(location = %location.name(), error = %e, "bucket copy not deleted");
            }
        }
    }

    /// Opens a sealed bucket copy read from `path`.
    pub fn open_bucket_copy(&self, path: &str, sealed: &[u8]) -> EngineResult<BucketCopy> {
        let plain = self.master.open_manifest(path, sealed)?;
        serde_json::from_slice(&plain)
            .map_err(|e| EngineError::Internal(format!("bucket copy {path}: {e}")))
    }

    /// Opens a sealed manifest copy read from `path` (its backend path is the AAD).
    pub fn open_manifest_copy(&self, path: &str, sealed: &[u8]) -> EngineResult<ManifestCopy> {
        let plain = self.master.open_manifest(path, sealed)?;
        serde_json::from_slice(&plain)
            .map_err(|e| EngineError::Internal(format!("manifest copy {path}: {e}")))
    }

    async fn put_manifest(&self, version_id: &str, copy: ManifestCopy) -> EngineResult<()> {
        let path = manifest_path(version_id);
        let plain = serde_json::to_vec(&copy).map_err(|e| EngineError::Internal(e.to_string()))?;
        let sealed = Bytes::from(self.master.seal_manifest(&path, &plain));
        let results = join_all(self.locations.iter().map(|l| l.put(&path, sealed.clone()))).await;
        // Every location should hold a copy (recovery from any one of them); a location that
        // is down gets its copy from the healer later. With none written the commit must fail.
        let mut written = 0;
        let mut last_error = None;
        for (location, result) in self.locations.iter().zip(results) {
            match result {
                Ok(()) => written += 1,
                Err(e) => {
                    tracing::warn!(location = %location.name(), version_id, error = %e, "manifest copy not written");
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if written == 0 => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Deletes the shard files of unreferenced blobs. Returns whether every delete succeeded
    /// (the caller then drops the orphan queue entries).
    pub async fn delete_blobs(&self, blobs: &[OrphanBlob]) -> bool {
        let mut deletes = Vec::new();
        for blob in blobs {
            for shard in &blob.shards {
                let Some(location) = self.location(&shard.location) else {
                    tracing::warn!(location = %shard.location, "orphan on unknown location");
                    continue;
                };
                let path = shard_path(&blob.blob_id, blob.part_number, shard.index);
                deletes.push(async move { location.delete(&path).await });
            }
        }
        let mut all_ok = true;
        for result in join_all(deletes).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "deleting an orphaned shard failed; left for gc");
                all_ok = false;
            }
        }
        all_ok
    }
}
