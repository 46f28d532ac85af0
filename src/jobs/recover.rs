//! `recover-index`: rebuild the metadata store (buckets and objects) from the sealed manifest
//! copies in one location, after the SQLite file was lost.
//!
//! Every `manifests/<version-id>` is opened with the master key (AAD = its path). A tombstone
//! means that version was deleted or replaced; of the live copies, the newest
//! (`committed_ms`) per (bucket, key) wins. Buckets are created with the earliest object time
//! as creation time (empty buckets leave no trace and are not recovered), then every winning
//! record is stored as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{JobEnv, JobError, JobResult, now_ms, rfc3339};
use crate::engine::{BUCKETS_PREFIX, MANIFESTS_PREFIX};
use crate::meta::{Bucket, MetaError, ObjectRecord};

#[derive(Clone, Debug, Default, Serialize)]
pub struct RecoverSummary {
    pub job: String,
    pub started: String,
    pub finished: String,
    pub location: String,
    pub manifest_copies: u64,
    pub tombstones: u64,
    pub unreadable: u64,
    /// Live copies replaced by a newer copy of the same key.
    pub superseded: u64,
    pub buckets: u64,
    /// Sealed bucket settings read.
    pub bucket_copies: u64,
    pub objects: u64,
    pub errors: Vec<String>,
}

impl RecoverSummary {
    pub fn exit_code(&self) -> i32 {
        if self.unreadable == 0 && self.errors.is_empty() {
            super::EXIT_OK
        } else {
            super::EXIT_PROBLEMS
        }
    }
    pub fn text(&self) -> String {
        let mut s = format!(
            "recover-index from location {}: manifest copies {}, tombstones {}, unreadable {}, superseded {}\n  \
             bucket settings read {}, buckets created {}, objects restored {}, errors {}",
            self.location,
            self.manifest_copies,
            self.tombstones,
            self.unreadable,
            self.superseded,
            self.bucket_copies,
            self.buckets,
            self.objects,
            self.errors.len()
        );
        for e in self.errors.iter().take(20) {
            s.push_str(&format!("\n  ERROR {e}"));
        }
        s
    }
}

/// Before the metadata store is opened: refuses when `DATA_DIR/meta.sqlite` exists, unless
/// `force`, which moves it (and its -wal/-shm files) aside. Returns the new name if moved.
pub fn prepare_data_dir(data_dir: &Path, force: bool) -> JobResult<Option<PathBuf>> {
    let db = data_dir.join(crate::app::META_FILE);
    if !db.exists() {
        return Ok(None);
    }
    if !force {
        return Err(JobError::Refused(format!(
            "{} exists; recover-index rebuilds a lost index only (use --force to move it aside)",
            db.display()
        )));
    }
    let stamp = now_ms();
    let aside = data_dir.join(format!("{}.{stamp}.bak", crate::app::META_FILE));
    std::fs::rename(&db, &aside)
        .map_err(|e| JobError::Io(format!("moving {}: {e}", db.display())))?;
    for ext in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{}{ext}", crate::app::META_FILE));
        if side.exists() {
            let to = data_dir.join(format!("{}.{stamp}.bak{ext}", crate::app::META_FILE));
            std::fs::rename(&side, &to)
                .map_err(|e| JobError::Io(format!("moving {}: {e}", side.display())))?;
        }
    }
    Ok(Some(aside))
}

/// Rebuilds buckets and objects into `env.meta` (expected empty) from the manifest copies at
/// location `from` (default: the first location that lists at least one manifest copy).
pub async fn run(env: &JobEnv, from: Option<&str>) -> JobResult<RecoverSummary> {
    let started_ms = now_ms();
    let mut s = RecoverSummary {
        job: "recover-index".into(),
        started: rfc3339(started_ms),
        ..Default::default()
    };
    let (location, listed) = match from {
        Some(name) => {
            let l = env
                .engine
                .locations()
                .iter()
                .find(|l| l.name() == name)
                .ok_or_else(|| JobError::Refused(format!("no location named {name}")))?;
            (l.clone(), l.list(MANIFESTS_PREFIX).await?)
        }
        None => {
            let mut chosen = None;
            let mut fallback = None;
            for l in env.engine.locations() {
                match l.list(MANIFESTS_PREFIX).await {
                    Ok(listed) if !listed.is_empty() => {
                        chosen = Some((l.clone(), listed));
                        break;
                    }
                    Ok(listed) => {
                        fallback.get_or_insert((l.clone(), listed));
                    }
                    Err(e) => {
                        tracing::warn!(location = l.name(), error = %e, "location does not answer")
                    }
                }
            }
            chosen.or(fallback).ok_or_else(|| {
                JobError::Refused("no location answers a listing of manifests/".into())
            })?
        }
    };
    s.location = location.name().to_string();
    tracing::info!(location = %s.location, copies = listed.len(), "recovering the index");

    // Sealed bucket settings first (versioning, Object Lock, tags, CORS).
    let mut sealed_buckets: BTreeMap<String, Bucket> = BTreeMap::new();
    match location.list(BUCKETS_PREFIX).await {
        Ok(copies) => {
            for info in copies {
                let copy = match location.get(&info.path).await {
                    Ok(sealed) => env.engine.open_bucket_copy(&info.path, &sealed),
                    Err(e) => Err(e.into()),
                };
                match copy {
                    Ok(c) => {
                        s.bucket_copies += 1;
                        sealed_buckets.insert(c.bucket.name.clone(), c.bucket);
                    }
                    Err(e) => {
                        s.unreadable += 1;
                        tracing::warn!(path = %info.path, error = %e, "bucket copy unreadable");
                    }
                }
            }
        }
        Err(e) => s.errors.push(format!(
            "listing {BUCKETS_PREFIX} at {}: {e}",
            location.name()
        )),
    }

    // (bucket, key) → every live version's (committed_ms, record)
    let mut versions: BTreeMap<(String, String), Vec<(i64, ObjectRecord)>> = BTreeMap::new();
    for info in listed {
        s.manifest_copies += 1;
        let copy = match location.get(&info.path).await {
            Ok(sealed) => env.engine.open_manifest_copy(&info.path, &sealed),
            Err(e) => Err(e.into()),
        };
        let copy = match copy {
            Ok(c) => c,
            Err(e) => {
                s.unreadable += 1;
                tracing::warn!(path = %info.path, error = %e, "manifest copy unreadable");
                continue;
            }
        };
        let Some(record) = copy.record else {
            s.tombstones += 1;
            continue;
        };
        if info.path.strip_prefix(MANIFESTS_PREFIX) != Some(record.version_id.as_str()) {
            s.unreadable += 1;
            tracing::warn!(path = %info.path, "manifest copy names another version");
            continue;
        }
        versions
            .entry((record.bucket.clone(), record.key.clone()))
            .or_default()
            .push((copy.committed_ms, record));
    }
    // Oldest first, so replaying them through `put_object` rebuilds what the writes built:
    // a versioned record keeps the one before it as a noncurrent version, a null-version
    // record replaces the previous null version (a stale copy whose tombstone was never
    // written; its blobs go to the orphan queue). The newest becomes current.
    for list in versions.values_mut() {
        list.sort_by_key(|(t, r)| (*t, r.last_modified_ms));
        let kept = list.iter().filter(|(_, r)| r.versioned).count()
            + usize::from(list.iter().any(|(_, r)| !r.versioned));
        s.superseded += (list.len() - kept) as u64;
    }

    let mut buckets: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for ((bucket, _), list) in &versions {
        let entry = buckets.entry(bucket.clone()).or_insert((i64::MAX, false));
        for (t, r) in list {
            entry.0 = entry.0.min(r.last_modified_ms.min(*t));
            entry.1 |= r.versioned;
        }
    }
    for (name, (created_ms, versioned)) in &buckets {
        sealed_buckets.entry(name.clone()).or_insert_with(|| {
            // No sealed settings (written before they existed, or lost): a bucket that held
            // versioned objects had versioning on.
            let mut bucket = Bucket::new(name.clone(), *created_ms);
            if *versioned {
                bucket.versioning = crate::meta::Versioning::Enabled;
            }
            bucket
        });
    }
    for bucket in sealed_buckets.values() {
        match env.meta.create_bucket(bucket).await {
            Ok(()) => s.buckets += 1,
            Err(MetaError::BucketExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for list in versions.values() {
        for (_, record) in list {
            match env.meta.put_object(record).await {
                Ok(_) => {}
                Err(e) => s
                    .errors
                    .push(format!("{}/{}: {e}", record.bucket, record.key)),
            }
        }
        s.objects += 1;
    }
    s.finished = rfc3339(now_ms());
    let path = super::write_run_record(&env.data_dir, "recover-index", &s)?;
    tracing::info!(record = %path.display(), "recover-index run record written");
    Ok(s)
}
