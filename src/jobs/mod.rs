//! Operator jobs (DESIGN.md "jobs"): scrub, heal, garbage collection and index recovery.
//! One implementation serves the offline subcommands (`chunkworks scrub|heal|gc|recover-index`,
//! run with the server stopped, e.g. as a Kubernetes Job) and the background tasks of `serve`.
//!
//! Owns: walking every object version, run records (`DATA_DIR/jobs/records/`), resumable
//! progress (`DATA_DIR/jobs/<job>.json`), progress display. Shard verification and rebuild are
//! the engine's ([`crate::engine::repair`]); the metadata store is used only through its trait.

pub mod gc;
pub mod recover;
pub mod scrub;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::JobsConfig;
use crate::engine::Engine;
use crate::meta::{MetaResult, MetaStore, ObjectRecord, VersionEntry, VersionListQuery};

/// Exit code: the job ran and found nothing wrong (or repaired everything).
pub const EXIT_OK: i32 = 0;
/// Exit code: the job could not run (config, keys, metadata store, I/O).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: the job ran and found objects at risk or work it could not do.
pub const EXIT_PROBLEMS: i32 = 2;

/// Directory (under the data dir) of job state and run records.
pub const JOBS_DIR: &str = "jobs";
/// Directory (under [`JOBS_DIR`]) of the dated run records.
pub const RECORDS_DIR: &str = "records";

/// What the jobs work on.
#[derive(Clone)]
pub struct JobEnv {
    pub meta: Arc<dyn MetaStore>,
    pub engine: Arc<Engine>,
    pub data_dir: PathBuf,
    pub config: JobsConfig,
}

/// Errors that stop a job (problems found in the data are results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("metadata store: {0}")]
    Meta(#[from] crate::meta::MetaError),
    #[error("engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    #[error("location: {0}")]
    Location(#[from] crate::location::LocationError),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Refused(String),
}

pub type JobResult<T> = Result<T, JobError>;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn io_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> JobError {
    JobError::Io(format!("{what}: {e}"))
}

/// Writes `value` as JSON to `path` atomically (temp file, fsync, rename).
pub(crate) fn write_json_atomic(path: &Path, value: &impl Serialize) -> JobResult<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir.display(), e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(value).map_err(|e| io_err(path.display(), e))?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(tmp.display(), e))?;
        f.write_all(&text).map_err(|e| io_err(tmp.display(), e))?;
        f.sync_all().map_err(|e| io_err(tmp.display(), e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io_err(path.display(), e))
}

/// Writes the dated record of one run to `DATA_DIR/jobs/records/<job>-<UTC time>-<id>.json`
/// and returns its path.
pub fn write_run_record(data_dir: &Path, job: &str, record: &impl Serialize) -> JobResult<PathBuf> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| now_ms().to_string());
    let suffix = &crate::engine::random_id()[..8];
    let path = data_dir
        .join(JOBS_DIR)
        .join(RECORDS_DIR)
        .join(format!("{job}-{stamp}-{suffix}.json"));
    write_json_atomic(&path, record)?;
    Ok(path)
}

/// Unix ms as RFC 3339 text (for records people read).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Progress display: an indicatif bar when asked for and stderr is a terminal, otherwise a
/// log line every few seconds.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    job: &'static str,
    last_log: std::time::Instant,
}

impl Progress {
    pub fn new(job: &'static str, interactive: bool, total: Option<u64>) -> Self {
        let bar = (interactive && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix(job);
            bar
        });
        Self {
            bar,
            job,
            last_log: std::time::Instant::now(),
        }
    }
    /// One more item done; `msg` describes the totals so far.
    pub fn tick(&mut self, done: u64, msg: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(msg());
            }
            None if self.last_log.elapsed() >= Duration::from_secs(10) => {
                self.last_log = std::time::Instant::now();
                tracing::info!(job = self.job, done, "{}", msg());
            }
            None => {}
        }
    }
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Walks every object of every bucket in (bucket, key) order, a page at a time, starting
/// after an optional position.
pub struct ObjectWalk {
    buckets: Vec<String>,
    next_bucket: usize,
    after: Option<String>,
    /// Within `after`'s key: the last version done (None: start at the key after `after`).
    after_version: Option<String>,
    page: usize,
}

impl ObjectWalk {
    /// Starts after `(bucket, key)` when given (buckets sort by name, keys by bytes).
    pub async fn new(meta: &dyn MetaStore, after: Option<(String, String)>) -> MetaResult<Self> {
        let buckets: Vec<String> = meta
            .list_buckets()
            .await?
            .into_iter()
            .map(|b| b.name)
            .collect();
        let (next_bucket, after) = match after {
            None => (0, None),
            Some((bucket, key)) => {
                // Buckets before `bucket` are done; within `bucket`, keys up to `key` are.
                let idx = buckets.partition_point(|b| b.as_str() < bucket.as_str());
                if buckets.get(idx) == Some(&bucket) {
                    (idx, Some(key))
                } else {
                    (idx, None)
                }
            }
        };
        Ok(Self {
            buckets,
            next_bucket,
            after,
            after_version: None,
            page: 500,
        })
    }
    /// The next page of object versions (current and noncurrent; delete markers hold no data
    /// and are skipped); empty when the walk is done.
    pub async fn next_page(&mut self, meta: &dyn MetaStore) -> MetaResult<Vec<ObjectRecord>> {
        while let Some(bucket) = self.buckets.get(self.next_bucket) {
            let query = VersionListQuery {
                prefix: String::new(),
                after_key: self.after.clone(),
                after_version: self.after_version.clone(),
                limit: self.page,
            };
            let page = match meta.list_versions(bucket, &query).await {
                Ok(p) => p,
                // Deleted while we walk: nothing left in it.
                Err(crate::meta::MetaError::NoSuchBucket) => Vec::new(),
                Err(e) => return Err(e),
            };
            let Some(last) = page.last() else {
                self.next_bucket += 1;
                self.after = None;
                self.after_version = None;
                continue;
            };
            self.after = Some(last.entry.key().to_string());
            self.after_version = Some(last.entry.s3_version_id().to_string());
            let objects: Vec<ObjectRecord> = page
                .into_iter()
                .filter_map(|v| match v.entry {
                    VersionEntry::Object(o) => Some(*o),
                    VersionEntry::DeleteMarker(_) => None,
                })
                .collect();
            if !objects.is_empty() {
                return Ok(objects);
            }
        }
        Ok(Vec::new())
    }
}

/// Counts the objects of every bucket (for a progress bar's length).
pub async fn count_objects(meta: &dyn MetaStore) -> MetaResult<u64> {
    let mut walk = ObjectWalk::new(meta, None).await?;
    walk.page = 1000;
    let mut n = 0u64;
    loop {
        let page = walk.next_page(meta).await?;
        if page.is_empty() {
            return Ok(n);
        }
        n += page.len() as u64;
    }
}

/// Starts the background jobs of `serve`: a rate-limited scrub pass every
/// `jobs.scrub_interval_secs` and garbage collection every `jobs.gc_interval_secs`. They stop
/// when `stop` is cancelled; errors are logged, never propagated.
pub fn spawn_background(env: JobEnv, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let delay = Duration::from_secs(env.config.start_delay_secs);
    if env.config.scrub_interval_secs > 0 {
        let env = env.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let interval = Duration::from_secs(env.config.scrub_interval_secs);
            if sleep_or_stop(delay, &stop).await {
                return;
            }
            loop {
                // A pass that was interrupted, or is due, runs now; otherwise wait until due.
                let wait = scrub::next_pass_due_in(&env.data_dir, "scrub", interval);
                if !wait.is_zero() && sleep_or_stop(wait, &stop).await {
                    return;
                }
                let rate = env.config.scrub_rate_mb_s;
                let options = scrub::ScrubOptions {
                    job: scrub::ScrubJob::Scrub,
                    repair: true,
                    rate_bytes_per_sec: (rate > 0.0).then_some(rate * 1e6),
                    max_objects: None,
                    interactive: false,
                    stop: stop.clone(),
                };
                match scrub::run(&env, &options).await {
                    Ok(summary) => {
                        tracing::info!(summary = %summary.text(), "background scrub finished")
                    }
                    Err(e) => tracing::error!(error = %e, "background scrub failed"),
                }
                if stop.is_cancelled() {
                    return;
                }
                // Never spin: wait at least a minute between attempts.
                if sleep_or_stop(Duration::from_secs(60), &stop).await {
                    return;
                }
            }
        }));
    }
    if env.config.gc_interval_secs > 0 {
        tasks.push(tokio::spawn(async move {
            let interval = Duration::from_secs(env.config.gc_interval_secs);
            if sleep_or_stop(delay, &stop).await {
                return;
            }
            loop {
                let options = gc::GcOptions::from_config(&env.config, stop.clone());
                match gc::run(&env, &options).await {
                    Ok(s) => tracing::info!(
                        orphans = s.orphan_blobs_deleted,
                        unreferenced = s.unreferenced_blobs_deleted,
                        manifests = s.manifest_copies_deleted,
                        uploads = s.uploads_aborted,
                        "background gc finished"
                    ),
                    Err(e) => tracing::error!(error = %e, "background gc failed"),
                }
                if sleep_or_stop(interval, &stop).await {
                    return;
                }
            }
        }));
    }
    tasks
}

/// Sleeps `d`; returns true when `stop` was cancelled first.
async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
