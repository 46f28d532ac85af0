//! Per-location health: a decorator that bounds every backend call in time and keeps an
//! up/down state, so no request waits on a location that errors or black-holes.
//!
//! - Every call is bounded by `request_timeout` (`tokio::time::timeout`): reads and small
//!   writes as a whole, streamed writes per `write` / `finish` / `abort` call.
//! - A timeout or a failure of the location (`Backend`, not `NotFound` / `Invalid`) marks the
//!   location **down** until a retry time: `retry_after`, doubling with every further failure,
//!   capped at `retry_max`.
//! - While down, calls fail at once with `LocationError::Unavailable`. Once the retry time has
//!   passed, one call is let through as a probe (the retry time moves on by `request_timeout`
//!   meanwhile, so a probe that is cancelled is followed by another one later).
//! - Any answer of the location (success, `NotFound`, `Invalid`) marks it **up** again.
//!
//! State changes are logged once: `warn` when a location goes down, `info` when it is back.

use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

use super::{BlobInfo, BlobWriter, Location, LocationError, LocationResult};

/// Stall bound of a streamed write piece, in request timeouts.
const STREAM_STALL_FACTOR: u32 = 4;

/// Timeouts and backoff of one location (from the config's `[health]` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    /// Bound on every backend call.
    pub request_timeout: Duration,
    /// First wait before a down location is probed again; doubles per failed probe.
    pub retry_after: Duration,
    /// Cap of that wait.
    pub retry_max: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
        }
    }
}

impl HealthSettings {
    /// Wait after the `failures`-th consecutive failure (1-based).
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.retry_after
            .saturating_mul(1u32 << doublings)
            .min(self.retry_max)
    }
}

#[derive(Debug)]
enum State {
    Up,
    Down {
        failures: u32,
        retry_at: Instant,
        reason: String,
    },
}

/// The state shared by a location and its open writers.
#[derive(Debug)]
struct Health {
    name: String,
    settings: HealthSettings,
    state: Mutex<State>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_available(&self) -> bool {
        match &*self.lock() {
            State::Up => true,
            State::Down { retry_at, .. } => Instant::now() >= *retry_at,
        }
    }

    /// Ok when the call may go to the backend: the location is up, or a probe is due.
    fn admit(&self) -> LocationResult<()> {
        let mut state = self.lock();
        match &mut *state {
            State::Up => Ok(()),
            State::Down {
                failures,
                retry_at,
                reason,
            } => {
                let now = Instant::now();
                if now >= *retry_at {
                    // This call is the probe; others fail fast until it has answered.
                    *retry_at = now + self.settings.request_timeout;
                    Ok(())
                } else {
                    Err(LocationError::Unavailable {
                        location: self.name.clone(),
                        message: format!(
                            "down after {failures} failure(s), last: {reason}; next try in {:.1}s",
                            (*retry_at - now).as_secs_f64()
                        ),
                    })
                }
            }
        }
    }

    fn mark_up(&self) {
        let mut state = self.lock();
        if let State::Down { failures, .. } = &*state {
            tracing::info!(location = %self.name, failures = *failures, "location is up again");
            *state = State::Up;
        }
    }

    fn mark_down(&self, reason: String) {
        let mut state = self.lock();
        let failures = match &*state {
            State::Up => 1,
            State::Down { failures, .. } => failures.saturating_add(1),
        };
        let wait = self.settings.backoff(failures);
        if failures == 1 {
            tracing::warn!(
                location = %self.name,
                error = %reason,
                retry_in_secs = wait.as_secs_f64(),
                "location marked down"
            );
        } else {
            tracing::debug!(
                location = %self.name,
                error = %reason,
                failures,
                retry_in_secs = wait.as_secs_f64(),
                "location still down"
            );
        }
        *state = State::Down {
            failures,
            retry_at: Instant::now() + wait,
            reason,
        };
    }

    /// Records the outcome of a backend call and hands it back.
    fn record<T>(&self, result: LocationResult<T>) -> LocationResult<T> {
        match &result {
            Err(e) if e.is_location_failure() => self.mark_down(e.to_string()),
            _ => self.mark_up(),
        }
        result
    }

    /// Runs `call` under the timeout, without the admission check.
    async fn bounded<T>(
        &self,
        what: &str,
        call: impl Future<Output = LocationResult<T>>,
    ) -> LocationResult<T> {
        self.bounded_by(self.settings.request_timeout, what, call)
            .await
    }

    /// Pieces of a streamed write may wait for earlier parts to drain (back-pressure from a
    /// busy but healthy location): they get a stall bound of several request timeouts, so only
    /// a location that stops making progress is marked down.
    async fn streamed<T>(
        &self,
        what: &str,
        call: impl Future<Output = LocationResult<T>>,
    ) -> LocationResult<T> {
        self.admit()?;
        self.bounded_by(
            self.settings.request_timeout * STREAM_STALL_FACTOR,
            what,
            call,
        )
        .await
    }

    async fn bounded_by<T>(
        &self,
        timeout: Duration,
        what: &str,
        call: impl Future<Output = LocationResult<T>>,
    ) -> LocationResult<T> {
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(LocationError::Backend {
                location: self.name.clone(),
                message: format!("{what}: timeout after {:.1}s", timeout.as_secs_f64()),
            }),
        };
        self.record(result)
    }

    /// Admission check, then the bounded call.
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = LocationResult<T>>,
    ) -> LocationResult<T> {
        self.admit()?;
        self.bounded(what, call).await
    }

    /// Reads are always attempted (bounded by the timeout) even while the location is down:
    /// the engine hedges around a slow location anyway, and refusing fast would make an
    /// object unreadable in the seconds after a location comes back. A success marks it up.
    async fn read<T>(
        &self,
        what: &str,
        call: impl Future<Output = LocationResult<T>>,
    ) -> LocationResult<T> {
        self.bounded(what, call).await
    }
}

/// A [`Location`] decorator with timeouts and up/down state (see the module docs).
#[derive(Debug)]
pub struct HealthLocation {
    inner: Arc<dyn Location>,
    health: Arc<Health>,
}

impl HealthLocation {
    pub fn new(inner: Arc<dyn Location>, settings: HealthSettings) -> Self {
        let health = Arc::new(Health {
            name: inner.name().to_string(),
            settings,
            state: Mutex::new(State::Up),
        });
        Self { inner, health }
    }

    pub fn settings(&self) -> HealthSettings {
        self.health.settings
    }

    /// True while the location is marked down, even when a probe is due.
    pub fn is_down(&self) -> bool {
        matches!(&*self.health.lock(), State::Down { .. })
    }
}

struct HealthWriter {
    inner: Box<dyn BlobWriter>,
    health: Arc<Health>,
}

#[async_trait]
impl BlobWriter for HealthWriter {
    async fn write(&mut self, data: Bytes) -> LocationResult<()> {
        let health = Arc::clone(&self.health);
        health.streamed("write", self.inner.write(data)).await
    }
    async fn finish(self: Box<Self>) -> LocationResult<()> {
        let HealthWriter { inner, health } = *self;
        health.streamed("finish", inner.finish()).await
    }
    async fn abort(self: Box<Self>) -> LocationResult<()> {
        // Always attempted (cleanup), but bounded like every other call.
        let HealthWriter { inner, health } = *self;
        health.bounded("abort", inner.abort()).await
    }
}

#[async_trait]
impl Location for HealthLocation {
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Up, or down with a probe due: a caller that skips unavailable locations still sends
    /// the probe that can bring one back.
    fn is_available(&self) -> bool {
        self.health.is_available() && self.inner.is_available()
    }

    fn is_local(&self) -> bool {
        self.inner.is_local()
    }

    async fn begin_write(&self, path: &str) -> LocationResult<Box<dyn BlobWriter>> {
        let inner = self
            .health
            .call("begin write", self.inner.begin_write(path))
            .await?;
        Ok(Box::new(HealthWriter {
            inner,
            health: Arc::clone(&self.health),
        }))
    }

    async fn put(&self, path: &str, data: Bytes) -> LocationResult<()> {
        self.health.call("put", self.inner.put(path, data)).await
    }

    async fn get(&self, path: &str) -> LocationResult<Bytes> {
        self.health.read("get", self.inner.get(path)).await
    }

    async fn get_range(&self, path: &str, range: Range<u64>) -> LocationResult<Bytes> {
        self.health
            .read("get range", self.inner.get_range(path, range))
            .await
    }

    async fn read_range_into(
        &self,
        path: &str,
        range: Range<u64>,
        buf: Vec<u8>,
    ) -> LocationResult<Vec<u8>> {
        self.health
            .read("read range", self.inner.read_range_into(path, range, buf))
            .await
    }

    async fn head(&self, path: &str) -> LocationResult<u64> {
        self.health.read("head", self.inner.head(path)).await
    }

    async fn delete(&self, path: &str) -> LocationResult<()> {
        self.health.call("delete", self.inner.delete(path)).await
    }

    async fn list(&self, prefix: &str) -> LocationResult<Vec<BlobInfo>> {
        self.health.call("list", self.inner.list(prefix)).await
    }

    /// Not under the request timeout: it walks a whole local directory tree, which takes as
    /// long as the tree is big, and is a maintenance task, not a request.
    async fn sweep_interrupted_writes(&self, prefix: &str, cutoff_ms: i64) -> LocationResult<u64> {
        self.inner.sweep_interrupted_writes(prefix, cutoff_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A location that hangs or fails on demand.
    #[derive(Debug, Default)]
    struct Switch {
        mode: Mutex<&'static str>,
    }

    impl Switch {
        fn set(&self, mode: &'static str) {
            *self.mode.lock().unwrap() = mode;
        }
        async fn answer(&self) -> LocationResult<()> {
            let mode = *self.mode.lock().unwrap();
            match mode {
                "hang" => std::future::pending().await,
                "fail" => Err(LocationError::Backend {
                    location: "s".into(),
                    message: "boom".into(),
                }),
                "missing" => Err(LocationError::NotFound("x".into())),
                _ => Ok(()),
            }
        }
    }

    #[async_trait]
    impl Location for Switch {
        fn name(&self) -> &str {
            "s"
        }
        async fn begin_write(&self, _: &str) -> LocationResult<Box<dyn BlobWriter>> {
            Err(LocationError::Backend {
                location: "s".into(),
                message: "unused".into(),
            })
        }
        async fn put(&self, _: &str, _: Bytes) -> LocationResult<()> {
            self.answer().await
        }
        async fn get(&self, _: &str) -> LocationResult<Bytes> {
            self.answer().await.map(|()| Bytes::new())
        }
        async fn get_range(&self, _: &str, _: Range<u64>) -> LocationResult<Bytes> {
            self.answer().await.map(|()| Bytes::new())
        }
        async fn head(&self, _: &str) -> LocationResult<u64> {
            self.answer().await.map(|()| 0)
        }
        async fn delete(&self, _: &str) -> LocationResult<()> {
            self.answer().await
        }
        async fn list(&self, _: &str) -> LocationResult<Vec<BlobInfo>> {
            self.answer().await.map(|()| Vec::new())
        }
    }

    const MS: Duration = Duration::from_millis(1);

    fn settings() -> HealthSettings {
        HealthSettings {
            request_timeout: MS * 200,
            retry_after: MS * 500,
            retry_max: MS * 5000,
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let s = settings();
        let ms: Vec<u128> = (1..=6).map(|f| s.backoff(f).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(s.backoff(u32::MAX), MS * 5000);
        let d = HealthSettings::default();
        let secs: Vec<u64> = (1..=6).map(|f| d.backoff(f).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 60, 60]);
    }

    #[tokio::test]
    async fn hang_times_out_marks_down_fails_fast_then_recovers() {
        let switch = Arc::new(Switch::default());
        let location = HealthLocation::new(switch.clone(), settings());
        switch.set("hang");
        let start = Instant::now();
        let err = location.head("x").await.unwrap_err();
        let took = start.elapsed();
        assert!(took >= MS * 200 && took < MS * 400, "{took:?}");
        assert!(
            matches!(&err, LocationError::Backend { message, .. } if message.contains("timeout")),
            "{err}"
        );
        assert!(!location.is_available());
        // Writes fail fast while down (reads are still attempted, see `Health::read`).
        let start = Instant::now();
        let err = location.put("x", Bytes::new()).await.unwrap_err();
        assert!(matches!(err, LocationError::Unavailable { .. }), "{err}");
        assert!(start.elapsed() < MS * 20);
        // After the backoff one probe goes through; it fails again: the wait doubles.
        tokio::time::sleep(MS * 500).await;
        assert!(location.is_available());
        switch.set("fail");
        assert!(matches!(
            location.delete("x").await.unwrap_err(),
            LocationError::Backend { .. }
        ));
        // Second failure: 1 s until the next probe.
        tokio::time::sleep(MS * 600).await;
        assert!(matches!(
            location.delete("x").await.unwrap_err(),
            LocationError::Unavailable { .. }
        ));
        // A NotFound is an answer: the location is up again.
        tokio::time::sleep(MS * 500).await;
        switch.set("missing");
        assert!(matches!(
            location.head("x").await.unwrap_err(),
            LocationError::NotFound(_)
        ));
        assert!(location.is_available() && !location.is_down());
        switch.set("ok");
        location.put("x", Bytes::new()).await.unwrap();
    }

    #[tokio::test]
    async fn one_probe_at_a_time() {
        let switch = Arc::new(Switch::default());
        let location = Arc::new(HealthLocation::new(switch.clone(), settings()));
        switch.set("fail");
        location.head("x").await.unwrap_err();
        tokio::time::sleep(MS * 500).await;
        switch.set("hang");
        let probe = tokio::spawn({
            let location = Arc::clone(&location);
            async move { location.delete("x").await }
        });
        tokio::task::yield_now().await;
        // While the probe hangs, other writes fail fast.
        assert!(matches!(
            location.put("y", Bytes::new()).await.unwrap_err(),
            LocationError::Unavailable { .. }
        ));
        let err = probe.await.unwrap().unwrap_err();
        assert!(matches!(err, LocationError::Backend { .. }), "{err}");
    }
}
