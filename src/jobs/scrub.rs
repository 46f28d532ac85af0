//! Scrub and heal: walk every object version, every part and every shard; verify each shard
//! file (header against the manifest, every block's keyed checksum) and rebuild the shards
//! that are missing or corrupt. `heal` is the same walk with repair and no rate limit.
//!
//! Progress (the last (bucket, key) done) is saved in `DATA_DIR/jobs/<job>.json`, so an
//! interrupted pass continues where it stopped; a completed pass resets it.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{JobEnv, JobResult, ObjectWalk, Progress, now_ms, rfc3339, write_json_atomic};
use crate::engine::repair::{ShardCheck, ShardState, Throttle};
use crate::meta::ObjectRecord;

/// Objects checked concurrently (their shards are checked in parallel too).
const OBJECTS_IN_FLIGHT: usize = 4;
/// Problems kept in detail in one run record.
const MAX_DETAILS: usize = 1000;
/// Progress is saved at least this often.
const SAVE_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScrubJob {
    Scrub,
    Heal,
}

impl ScrubJob {
    pub fn name(self) -> &'static str {
        match self {
            ScrubJob::Scrub => "scrub",
            ScrubJob::Heal => "heal",
        }
    }
}

pub struct ScrubOptions {
    pub job: ScrubJob,
    /// Rebuild missing and corrupt shards.
    pub repair: bool,
    /// Read rate limit; `None` is unlimited.
    pub rate_bytes_per_sec: Option<f64>,
    /// Stop (saving progress) after this many objects; the next run continues.
    pub max_objects: Option<u64>,
    /// Show a progress bar when stderr is a terminal.
    pub interactive: bool,
    pub stop: CancellationToken,
}

impl ScrubOptions {
    pub fn new(job: ScrubJob) -> Self {
        Self {
            job,
            repair: true,
            rate_bytes_per_sec: None,
            max_objects: None,
            interactive: false,
            stop: CancellationToken::new(),
        }
    }
}

/// Saved progress of a pass (`DATA_DIR/jobs/<job>.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubProgress {
    /// Start of the pass in progress (Unix ms), if one is.
    pub pass_started_ms: Option<i64>,
    /// The last (bucket, key) checked in the pass in progress.
    pub after: Option<(String, String)>,
    /// When the last complete pass finished (Unix ms).
    pub last_complete_ms: Option<i64>,
}

pub fn progress_path(data_dir: &Path, job: &str) -> std::path::PathBuf {
    data_dir.join(super::JOBS_DIR).join(format!("{job}.json"))
}

pub fn load_progress(data_dir: &Path, job: &str) -> ScrubProgress {
    let path = progress_path(data_dir, job);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "unreadable progress file; starting over");
            ScrubProgress::default()
        }),
        Err(_) => ScrubProgress::default(),
    }
}

/// How long until the next background pass is due (zero: now, or one is unfinished).
pub fn next_pass_due_in(data_dir: &Path, job: &str, interval: Duration) -> Duration {
    let p = load_progress(data_dir, job);
    if p.after.is_some() {
        return Duration::ZERO;
    }
    match p.last_complete_ms {
        None => Duration::ZERO,
        Some(last) => {
            let due = last.saturating_add(interval.as_millis() as i64);
            Duration::from_millis(due.saturating_sub(now_ms()).max(0) as u64)
        }
    }
}

/// A shard that was not healthy.
#[derive(Clone, Debug, Serialize)]
pub struct ShardProblem {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub blob_id: String,
    pub part_number: u32,
    pub shard: u8,
    pub location: String,
    pub state: ShardState,
    /// Rebuilt and verified healthy afterwards.
    pub repaired: bool,
}

/// An object left with fewer than k+m healthy shards in some part, or unreadable.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectProblem {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    /// Fewest healthy shards of any part after repair, and that part's k+m.
    pub healthy_shards: usize,
    pub total_shards: usize,
    /// Fewer than k healthy shards in a part, a failed rebuild, or an unusable key.
    pub unreadable: bool,
    pub detail: String,
}

/// Result of one run (also its run record).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScrubSummary {
    pub job: String,
    pub started: String,
    pub finished: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub repair: bool,
    pub rate_bytes_per_sec: Option<f64>,
    /// The run continued a pass interrupted after this (bucket, key).
    pub resumed_after: Option<(String, String)>,
    /// The pass reached the last object (progress reset).
    pub pass_complete: bool,
    pub objects: u64,
    pub parts: u64,
    pub shards_checked: u64,
    pub bytes_read: u64,
    pub healthy: u64,
    pub missing: u64,
    pub corrupt: u64,
    pub repaired: u64,
    pub unrepairable: u64,
    /// Objects with fewer than k+m healthy shards after repair (includes unreadable ones).
    pub objects_at_risk: u64,
    pub objects_unreadable: u64,
    pub shard_problems: Vec<ShardProblem>,
    pub objects_with_problems: Vec<ObjectProblem>,
}

impl ScrubSummary {
    pub fn exit_code(&self) -> i32 {
        if self.objects_at_risk > 0 {
            super::EXIT_PROBLEMS
        } else {
            super::EXIT_OK
        }
    }
    /// Human-readable summary lines.
    pub fn text(&self) -> String {
        let mut s = format!(
            "{job}: {state}\n  objects {objects}, parts {parts}, shards checked {shards}, bytes read {bytes}\n  \
             healthy {healthy}, missing {missing}, corrupt {corrupt}, repaired {repaired}, unrepairable {unrep}\n  \
             objects at risk {risk}, unreadable {unreadable}",
            job = self.job,
            state = if self.pass_complete {
                "pass complete"
            } else {
                "pass incomplete (continues on the next run)"
            },
            objects = self.objects,
            parts = self.parts,
            shards = self.shards_checked,
            bytes = self.bytes_read,
            healthy = self.healthy,
            missing = self.missing,
            corrupt = self.corrupt,
            repaired = self.repaired,
            unrep = self.unrepairable,
            risk = self.objects_at_risk,
            unreadable = self.objects_unreadable,
        );
        for p in self.objects_with_problems.iter().take(20) {
            s.push_str(&format!(
                "\n  AT RISK {}/{}: {}/{} healthy shards{} ({})",
                p.bucket,
                p.key,
                p.healthy_shards,
                p.total_shards,
                if p.unreadable { ", UNREADABLE" } else { "" },
                p.detail
            ));
        }
        s
    }
}

/// What checking one object found.
struct ObjectOutcome {
    bucket: String,
    key: String,
    parts: u64,
    checks: Vec<(ShardProblem, bool)>,
    healthy: u64,
    shards: u64,
    bytes_read: u64,
    problem: Option<ObjectProblem>,
}

async fn check_object(
    env: &JobEnv,
    record: ObjectRecord,
    repair: bool,
    throttle: &Throttle,
) -> ObjectOutcome {
    let mut out = ObjectOutcome {
        bucket: record.bucket.clone(),
        key: record.key.clone(),
        parts: record.parts.len() as u64,
        checks: Vec::new(),
        healthy: 0,
        shards: 0,
        bytes_read: 0,
        problem: None,
    };
    let problem = |healthy: usize, total: usize, unreadable: bool, detail: String| ObjectProblem {
        bucket: record.bucket.clone(),
        key: record.key.clone(),
        version_id: record.version_id.clone(),
        healthy_shards: healthy,
        total_shards: total,
        unreadable,
        detail,
    };
    let dek = match env
        .engine
        .data_key(&record.version_id, &record.wrapped_dek, &record.key_id)
    {
        Ok(d) => d,
        Err(e) => {
            let total = record.parts.first().map(|p| p.shards.len()).unwrap_or(0);
            out.problem = Some(problem(0, total, true, format!("data key: {e}")));
            return out;
        }
    };
    let block_key = dek.block_key();
    let mut worst: Option<ObjectProblem> = None;
    for part in &record.parts {
        let checks: Vec<ShardCheck> = join_all(
            part.shards
                .iter()
                .map(|s| env.engine.verify_shard(&block_key, part, s.index, throttle)),
        )
        .await;
        let (k, n) = (
            usize::from(part.k),
            part.shards
                .len()
                .max(usize::from(part.k) + usize::from(part.m)),
        );
        out.shards += checks.len() as u64;
        out.bytes_read += checks.iter().map(|c| c.bytes_read).sum::<u64>();
        let bad: Vec<&ShardCheck> = checks.iter().filter(|c| !c.state.is_healthy()).collect();
        let mut healthy = checks.len() - bad.len();
        out.healthy += healthy as u64;
        let mut detail = String::new();
        let mut rebuild_failed = false;
        let mut repaired_now = std::collections::HashSet::new();
        if repair && !bad.is_empty() {
            let targets: Vec<u8> = bad.iter().map(|c| c.index).collect();
            let unusable: Vec<u8> = bad
                .iter()
                .filter(|c| c.state.is_missing())
                .map(|c| c.index)
                .collect();
            match env
                .engine
                .rebuild_shards(&block_key, part, &targets, &unusable, throttle)
                .await
            {
                Ok(read) => {
                    out.bytes_read += read;
                    // Verify what was written.
                    let after = join_all(
                        targets
                            .iter()
                            .map(|&t| env.engine.verify_shard(&block_key, part, t, throttle)),
                    )
                    .await;
                    for c in after {
                        out.bytes_read += c.bytes_read;
                        if c.state.is_healthy() {
                            repaired_now.insert(c.index);
                            healthy += 1;
                        } else {
                            detail = format!("shard {} still bad after rebuild", c.index);
                        }
                    }
                }
                Err(e) => {
                    rebuild_failed = true;
                    detail = format!("rebuild failed: {e}");
                }
            }
        } else if !bad.is_empty() {
            detail = bad
                .iter()
                .map(|c| format!("shard {} {}", c.index, state_word(&c.state)))
                .collect::<Vec<_>>()
                .join(", ");
        }
        for c in &bad {
            let repaired = repaired_now.contains(&c.index);
            tracing::warn!(
                bucket = %record.bucket, key = %record.key, blob = %part.blob_id,
                part = part.part_number, shard = c.index, location = %c.location,
                state = ?c.state, repaired, "shard not healthy"
            );
            out.checks.push((
                ShardProblem {
                    bucket: record.bucket.clone(),
                    key: record.key.clone(),
                    version_id: record.version_id.clone(),
                    blob_id: part.blob_id.clone(),
                    part_number: part.part_number,
                    shard: c.index,
                    location: c.location.clone(),
                    state: c.state.clone(),
                    repaired,
                },
                repaired,
            ));
        }
        if healthy < n {
            let unreadable = rebuild_failed || healthy < k;
            let p = problem(healthy, n, unreadable, detail);
            let worse = match &worst {
                None => true,
                Some(w) => (p.unreadable && !w.unreadable) || p.healthy_shards < w.healthy_shards,
            };
            if worse {
                worst = Some(p);
            }
        }
    }
    if repair && worst.is_none() {
        // Full redundancy again: every location gets its manifest copy, and a write that was
        // recorded as degraded stops being so (unless the key moved on meanwhile).
        if let Err(e) = env.engine.ensure_manifest_copies(&record).await {
            tracing::warn!(bucket = %record.bucket, key = %record.key, error = %e, "manifest copies not restored");
        }
        if record.is_degraded() {
            // Only the degraded mark changes: a tag change made meanwhile stays.
            let clear_missing: crate::meta::ObjectChange = Box::new(|r| {
                for part in &mut r.parts {
                    part.missing_shards.clear();
                }
            });
            match env
                .meta
                .update_object_version(
                    &record.bucket,
                    &record.key,
                    &record.version_id,
                    clear_missing,
                )
                .await
            {
                Ok(Some(_)) => {
                    tracing::info!(bucket = %record.bucket, key = %record.key, "degraded object restored to full redundancy")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(bucket = %record.bucket, key = %record.key, error = %e, "clearing the degraded mark failed")
                }
            }
        }
    }
    out.problem = worst;
    out
}

fn state_word(s: &ShardState) -> String {
    match s {
        ShardState::Healthy => "healthy".into(),
        ShardState::Missing { reason } => format!("missing ({reason})"),
        ShardState::Corrupt {
            first_bad_chunk: Some(c),
            reason,
            ..
        } => format!("corrupt from chunk {c} ({reason})"),
        ShardState::Corrupt { reason, .. } => format!("corrupt ({reason})"),
    }
}

/// Runs one scrub (or heal) over every object, continuing a saved pass. Writes the run
/// record and returns the summary.
pub async fn run(env: &JobEnv, options: &ScrubOptions) -> JobResult<ScrubSummary> {
    let job = options.job.name();
    let started_ms = now_ms();
    let mut progress = load_progress(&env.data_dir, job);
    let resumed_after = progress.after.clone();
    if progress.after.is_none() {
        progress.pass_started_ms = Some(started_ms);
    }
    let mut summary = ScrubSummary {
        job: job.to_string(),
        started: rfc3339(started_ms),
        started_ms,
        repair: options.repair,
        rate_bytes_per_sec: options.rate_bytes_per_sec,
        resumed_after: resumed_after.clone(),
        ..Default::default()
    };
    if let Some((b, k)) = &resumed_after {
        tracing::info!(job, bucket = %b, key = %k, "continuing an interrupted pass");
    }
    let total = if options.interactive {
        super::count_objects(env.meta.as_ref()).await.ok()
    } else {
        None
    };
    let mut bar = Progress::new(job, options.interactive, total);
    let throttle = Throttle::new(options.rate_bytes_per_sec);
    if options.repair {
        // Bucket settings are sealed at every location too; one that was down when they
        // changed gets them now (a few small writes per bucket).
        for bucket in env.meta.list_buckets().await? {
            if let Err(e) = env.engine.ensure_bucket_copies(&bucket).await {
                tracing::warn!(bucket = %bucket.name, error = %e, "sealing bucket settings failed");
            }
        }
    }
    let mut walk = ObjectWalk::new(env.meta.as_ref(), resumed_after).await?;
    let mut last_save = std::time::Instant::now();
    let mut stopped = false;
    'pages: loop {
        let mut page = walk.next_page(env.meta.as_ref()).await?;
        if page.is_empty() {
            break;
        }
        // Objects of this page left unchecked because of `max_objects`.
        let mut cut = false;
        if let Some(max) = options.max_objects {
            let left = max.saturating_sub(summary.objects) as usize;
            if left == 0 {
                stopped = true;
                break;
            }
            if page.len() > left {
                page.truncate(left);
                cut = true;
            }
        }
        let mut outcomes = futures::stream::iter(page)
            .map(|record| check_object(env, record, options.repair, &throttle))
            .buffered(OBJECTS_IN_FLIGHT);
        while let Some(o) = outcomes.next().await {
            summary.objects += 1;
            summary.parts += o.parts;
            summary.shards_checked += o.shards;
            summary.healthy += o.healthy;
            summary.bytes_read += o.bytes_read;
            for (p, repaired) in o.checks {
                match p.state {
                    ShardState::Missing { .. } => summary.missing += 1,
                    ShardState::Corrupt { .. } => summary.corrupt += 1,
                    ShardState::Healthy => {}
                }
                if repaired {
                    summary.repaired += 1;
                } else if options.repair {
                    summary.unrepairable += 1;
                }
                if summary.shard_problems.len() < MAX_DETAILS {
                    summary.shard_problems.push(p);
                }
            }
            if let Some(p) = o.problem {
                summary.objects_at_risk += 1;
                if p.unreadable {
                    summary.objects_unreadable += 1;
                }
                tracing::warn!(bucket = %p.bucket, key = %p.key, healthy = p.healthy_shards,
                    total = p.total_shards, unreadable = p.unreadable, detail = %p.detail, "object at risk");
                if summary.objects_with_problems.len() < MAX_DETAILS {
                    summary.objects_with_problems.push(p);
                }
            }
            progress.after = Some((o.bucket, o.key));
            bar.tick(summary.objects, || {
                format!(
                    "{} MB, {} bad shards, {} repaired",
                    summary.bytes_read / 1_000_000,
                    summary.missing + summary.corrupt,
                    summary.repaired
                )
            });
            if last_save.elapsed() >= SAVE_EVERY {
                write_json_atomic(&progress_path(&env.data_dir, job), &progress)?;
                last_save = std::time::Instant::now();
            }
            if options.stop.is_cancelled() {
                stopped = true;
                break 'pages;
            }
        }
        if options
            .max_objects
            .is_some_and(|max| summary.objects >= max)
        {
            // Finished exactly at the end? Peek so a complete pass is recorded as such.
            if !cut && walk.next_page(env.meta.as_ref()).await?.is_empty() {
                break;
            }
            stopped = true;
            break;
        }
    }
    bar.finish();
    if stopped {
        summary.pass_complete = false;
    } else {
        summary.pass_complete = true;
        progress = ScrubProgress {
            pass_started_ms: None,
            after: None,
            last_complete_ms: Some(now_ms()),
        };
    }
    write_json_atomic(&progress_path(&env.data_dir, job), &progress)?;
    summary.finished_ms = now_ms();
    summary.finished = rfc3339(summary.finished_ms);
    let path = super::write_run_record(&env.data_dir, job, &summary)?;
    tracing::info!(job, record = %path.display(), "run record written");
    Ok(summary)
}
