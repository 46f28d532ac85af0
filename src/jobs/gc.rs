//! Garbage collection, in this order:
//! 1. abort multipart uploads older than `jobs.multipart_expiry_secs` (their parts are queued);
//! 2. process the orphan queue (delete the queued blobs' shard files, then drop the entries);
//! 3. delete blob directories (`shards/<blob-id>/`) at every location that no object part and
//!    no multipart-upload part references and whose files are all older than the grace period
//!    (shards of failed or interrupted writes), and, on local disks, staging files of writes
//!    that never finished (the gateway was killed mid-write) older than the grace period;
//! 4. delete manifest copies (`manifests/<version-id>`) that are tombstones older than the
//!    grace period (only when the orphan queue is empty, so a tombstone outlives its shards),
//!    or that belong to no live object version and are older than the grace period.
//!
//! The set of referenced blobs is read before any location is listed, uploads before objects
//! (a completing upload moves its parts from one to the other), so a blob committed meanwhile
//! is either seen or younger than the grace period.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{JobEnv, JobResult, ObjectWalk, now_ms, rfc3339};
use crate::config::JobsConfig;
use crate::engine::{MANIFESTS_PREFIX, SHARDS_PREFIX};
use crate::meta::{MetaError, UploadListQuery};

/// Orphan queue entries fetched at a time.
const ORPHAN_BATCH: usize = 500;
/// Errors kept in detail in one run record.
const MAX_ERRORS: usize = 200;

pub struct GcOptions {
    pub grace: Duration,
    pub multipart_expiry: Duration,
    pub stop: CancellationToken,
}

impl GcOptions {
    pub fn from_config(config: &JobsConfig, stop: CancellationToken) -> Self {
        Self {
            grace: Duration::from_secs(config.gc_grace_secs),
            multipart_expiry: Duration::from_secs(config.multipart_expiry_secs),
            stop,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct GcSummary {
    pub job: String,
    pub started: String,
    pub finished: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub grace_secs: u64,
    pub multipart_expiry_secs: u64,
    pub uploads_aborted: u64,
    pub orphan_entries_processed: u64,
    pub orphan_blobs_deleted: u64,
    pub orphan_entries_left: u64,
    pub referenced_blobs: u64,
    pub blobs_scanned: u64,
    pub unreferenced_blobs_deleted: u64,
    pub unreferenced_blobs_kept_young: u64,
    pub shard_files_deleted: u64,
    /// Staging files of writes that never finished (a local disk's `<name>#<n>`).
    pub interrupted_write_files_deleted: u64,
    pub manifest_copies_scanned: u64,
    pub manifest_copies_deleted: u64,
    pub tombstones_deleted: u64,
    pub manifest_copies_kept_young: u64,
    pub errors: Vec<String>,
    /// Stopped before the end (shutdown).
    pub interrupted: bool,
}

impl GcSummary {
    pub fn exit_code(&self) -> i32 {
        if self.errors.is_empty() && self.orphan_entries_left == 0 && !self.interrupted {
            super::EXIT_OK
        } else {
            super::EXIT_PROBLEMS
        }
    }
    pub fn text(&self) -> String {
        let mut s = format!(
            "gc: uploads aborted {}, orphan queue entries processed {} (blobs deleted {}, left {})\n  \
             referenced blobs {}, blob dirs scanned {}, unreferenced deleted {} ({} shard files), kept (younger than grace) {}\n  \
             files of interrupted writes deleted {}\n  \
             manifest copies scanned {}, deleted {} (tombstones {}), kept (younger than grace) {}\n  errors {}",
            self.uploads_aborted,
            self.orphan_entries_processed,
            self.orphan_blobs_deleted,
            self.orphan_entries_left,
            self.referenced_blobs,
            self.blobs_scanned,
            self.unreferenced_blobs_deleted,
            self.shard_files_deleted,
            self.unreferenced_blobs_kept_young,
            self.interrupted_write_files_deleted,
            self.manifest_copies_scanned,
            self.manifest_copies_deleted,
            self.tombstones_deleted,
            self.manifest_copies_kept_young,
            self.errors.len(),
        );
        for e in self.errors.iter().take(20) {
            s.push_str(&format!("\n  ERROR {e}"));
        }
        s
    }
    fn error(&mut self, e: String) {
        tracing::warn!(error = %e, "gc");
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        }
    }
}

/// Runs one garbage collection, writes its run record and returns the summary.
pub async fn run(env: &JobEnv, options: &GcOptions) -> JobResult<GcSummary> {
    let started_ms = now_ms();
    let mut s = GcSummary {
        job: "gc".into(),
        started: rfc3339(started_ms),
        started_ms,
        grace_secs: options.grace.as_secs(),
        multipart_expiry_secs: options.multipart_expiry.as_secs(),
        ..Default::default()
    };
    let grace_cutoff = started_ms - options.grace.as_millis() as i64;
    let expiry_cutoff = started_ms - options.multipart_expiry.as_millis() as i64;

    // 1. Expired multipart uploads; 3 (first half). Referenced blobs of uploads.
    let mut referenced: HashSet<String> = HashSet::new();
    let buckets = env.meta.list_buckets().await?;
    for bucket in &buckets {
        let mut after: Option<(String, String)> = None;
        loop {
            let page = env
                .meta
                .list_uploads(
                    &bucket.name,
                    &UploadListQuery {
                        prefix: String::new(),
                        after: after.clone(),
                        limit: 500,
                    },
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.key.clone(), last.upload_id.clone()));
            for upload in page {
                if upload.initiated_ms < expiry_cutoff {
                    match env.meta.abort_upload(&upload.upload_id).await {
                        Ok(_) | Err(MetaError::NoSuchUpload) => {
                            s.uploads_aborted += 1;
                            tracing::info!(bucket = %upload.bucket, key = %upload.key,
                                upload_id = %upload.upload_id, "expired multipart upload aborted");
                        }
                        Err(e) => s.error(format!("aborting upload {}: {e}", upload.upload_id)),
                    }
                    continue;
                }
                let mut after_part = 0;
                loop {
                    let parts = env
                        .meta
                        .list_parts(&upload.upload_id, after_part, 1000)
                        .await;
                    let parts = match parts {
                        Ok(p) => p,
                        Err(MetaError::NoSuchUpload) => break,
                        Err(e) => return Err(e.into()),
                    };
                    let Some(last) = parts.last() else { break };
                    after_part = last.part.part_number;
                    referenced.extend(parts.into_iter().map(|p| p.part.blob_id));
                }
            }
        }
    }

    // 2. The orphan queue (now including the parts of expired uploads).
    let mut failed: HashSet<i64> = HashSet::new();
    loop {
        let batch = env.meta.pending_orphans(ORPHAN_BATCH).await?;
        let fresh: Vec<_> = batch
            .entries
            .into_iter()
            .filter(|(id, _)| !failed.contains(id))
            .collect();
        if fresh.is_empty() {
            break;
        }
        let mut done = Vec::new();
        for (id, blob) in fresh {
            s.orphan_entries_processed += 1;
            if env.engine.delete_blobs(std::slice::from_ref(&blob)).await {
                s.orphan_blobs_deleted += 1;
                done.push(id);
            } else {
                failed.insert(id);
                s.error(format!("deleting orphaned blob {} failed", blob.blob_id));
            }
        }
        env.meta.forget_orphans(&done).await?;
        if failed.len() >= ORPHAN_BATCH {
            // The head of the queue is all failures: the rest waits for the next run.
            break;
        }
    }
    s.orphan_entries_left = env.meta.pending_orphans(1).await?.entries.len() as u64;
    if options.stop.is_cancelled() {
        s.interrupted = true;
        return finish(env, s);
    }

    // 3. Referenced blobs and live versions of objects (after the uploads, see module docs).
    let mut live_versions: HashSet<String> = HashSet::new();
    let mut walk = ObjectWalk::new(env.meta.as_ref(), None).await?;
    loop {
        let page = walk.next_page(env.meta.as_ref()).await?;
        if page.is_empty() {
            break;
        }
        for record in page {
            referenced.extend(record.parts.iter().map(|p| p.blob_id.clone()));
            live_versions.insert(record.version_id);
        }
    }
    s.referenced_blobs = referenced.len() as u64;

    for location in env.engine.locations() {
        if options.stop.is_cancelled() {
            s.interrupted = true;
            return finish(env, s);
        }
        sweep_interrupted_writes(location.as_ref(), SHARDS_PREFIX, grace_cutoff, &mut s).await;
        let listed = match location.list(SHARDS_PREFIX).await {
            Ok(l) => l,
            Err(e) => {
                s.error(format!("listing shards at {}: {e}", location.name()));
                continue;
            }
        };
        // blob id → (paths, newest modification time; None if any is unknown)
        let mut blobs: BTreeMap<String, (Vec<String>, Option<i64>)> = BTreeMap::new();
        for info in listed {
            let Some(rest) = info.path.strip_prefix(SHARDS_PREFIX) else {
                continue;
            };
            let Some((blob, _file)) = rest.split_once('/') else {
                continue;
            };
            let entry = blobs
                .entry(blob.to_string())
                .or_insert((Vec::new(), Some(i64::MIN)));
            entry.0.push(info.path.clone());
            entry.1 = match (entry.1, info.last_modified) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        for (blob, (paths, newest)) in blobs {
            s.blobs_scanned += 1;
            if referenced.contains(&blob) {
                continue;
            }
            if newest.is_none_or(|t| t >= grace_cutoff) {
                s.unreferenced_blobs_kept_young += 1;
                continue;
            }
            let mut ok = true;
            for path in &paths {
                match location.delete(path).await {
                    Ok(()) => s.shard_files_deleted += 1,
                    Err(e) => {
                        ok = false;
                        s.error(format!("deleting {path} at {}: {e}", location.name()));
                    }
                }
            }
            if ok {
                s.unreferenced_blobs_deleted += 1;
                tracing::info!(location = location.name(), blob = %blob, files = paths.len(),
                    "unreferenced blob deleted");
            }
        }
    }

    // 4. Manifest copies.
    let queue_empty = s.orphan_entries_left == 0;
    for location in env.engine.locations() {
        if options.stop.is_cancelled() {
            s.interrupted = true;
            return finish(env, s);
        }
        sweep_interrupted_writes(location.as_ref(), MANIFESTS_PREFIX, grace_cutoff, &mut s).await;
        let listed = match location.list(MANIFESTS_PREFIX).await {
            Ok(l) => l,
            Err(e) => {
                s.error(format!("listing manifests at {}: {e}", location.name()));
                continue;
            }
        };
        for info in listed {
            s.manifest_copies_scanned += 1;
            let Some(version) = info.path.strip_prefix(MANIFESTS_PREFIX) else {
                continue;
            };
            if live_versions.contains(version) {
                continue;
            }
            let copy = match location.get(&info.path).await {
                Ok(sealed) => env.engine.open_manifest_copy(&info.path, &sealed),
                Err(crate::location::LocationError::NotFound(_)) => continue,
                Err(e) => {
                    s.error(format!("reading {} at {}: {e}", info.path, location.name()));
                    continue;
                }
            };
            let copy = match copy {
                Ok(c) => c,
                Err(e) => {
                    // Not ours to judge: another master key, or damage. Keep it.
                    s.error(format!(
                        "manifest copy {} at {} does not open: {e}",
                        info.path,
                        location.name()
                    ));
                    continue;
                }
            };
            if copy.committed_ms >= grace_cutoff {
                s.manifest_copies_kept_young += 1;
                continue;
            }
            let tombstone = copy.record.is_none();
            if tombstone && !queue_empty {
                continue;
            }
            match location.delete(&info.path).await {
                Ok(()) => {
                    s.manifest_copies_deleted += 1;
                    if tombstone {
                        s.tombstones_deleted += 1;
                    }
                }
                Err(e) => s.error(format!(
                    "deleting {} at {}: {e}",
                    info.path,
                    location.name()
                )),
            }
        }
    }
    finish(env, s)
}

async fn sweep_interrupted_writes(
    location: &dyn crate::location::Location,
    prefix: &str,
    cutoff_ms: i64,
    s: &mut GcSummary,
) {
    match location.sweep_interrupted_writes(prefix, cutoff_ms).await {
        Ok(0) => {}
        Ok(n) => {
            s.interrupted_write_files_deleted += n;
            tracing::info!(
                location = location.name(),
                prefix,
                files = n,
                "files of interrupted writes deleted"
            );
        }
        Err(e) => s.error(format!(
            "sweeping interrupted writes under {prefix} at {}: {e}",
            location.name()
        )),
    }
}

fn finish(env: &JobEnv, mut s: GcSummary) -> JobResult<GcSummary> {
    s.finished_ms = now_ms();
    s.finished = rfc3339(s.finished_ms);
    let path = super::write_run_record(&env.data_dir, "gc", &s)?;
    tracing::info!(record = %path.display(), "gc run record written");
    Ok(s)
}
