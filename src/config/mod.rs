//! Configuration: the embedded default, an optional TOML file, then environment overrides.
//! Owns: parsing and validation (placement rule checked at load). Must not touch: I/O beyond
//! reading the config file, any running component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::engine::placement;

/// Default chunk size: 4 MiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading config file {path}: {message}")]
    Read { path: String, message: String },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Region name answered by GetBucketLocation and expected in SigV4 scopes.
    #[serde(default = "default_region")]
    pub region: String,
    /// Base domain for virtual-hosted-style requests (`bucket.<base_domain>`); path style only
    /// when empty.
    #[serde(default)]
    pub base_domain: Vec<String>,
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Where shards go. Empty: three local locations `a`, `b`, `c` under `<data-dir>/locations`.
    #[serde(default)]
    pub locations: Vec<LocationConfig>,
    /// Largest single PUT body in bytes (S3 allows 5 GiB).
    #[serde(default = "default_max_object_size")]
    pub max_put_size: u64,
    /// Background jobs of `serve` and defaults of the offline job commands.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// Timeouts and backoff of every location.
    #[serde(default)]
    pub health: HealthConfig,
}

/// `[jobs]`: scrub and garbage collection (see ARCHITECTURE.md "Jobs").
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Seconds between background scrub passes in `serve`; 0 turns the background scrub off.
    #[serde(default = "default_scrub_interval")]
    pub scrub_interval_secs: u64,
    /// Read rate of the background scrub in MB/s (10^6 bytes); 0 means unlimited.
    #[serde(default = "default_scrub_rate")]
    pub scrub_rate_mb_s: f64,
    /// Seconds between background garbage collections in `serve`; 0 turns them off.
    #[serde(default = "default_gc_interval")]
    pub gc_interval_secs: u64,
    /// Unreferenced shard files and stale manifest copies younger than this are kept.
    #[serde(default = "default_gc_grace")]
    pub gc_grace_secs: u64,
    /// Multipart uploads older than this are aborted by garbage collection.
    #[serde(default = "default_multipart_expiry")]
    pub multipart_expiry_secs: u64,
    /// Seconds after `serve` starts before the first background job runs.
    #[serde(default = "default_start_delay")]
    pub start_delay_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            scrub_interval_secs: default_scrub_interval(),
            scrub_rate_mb_s: default_scrub_rate(),
            gc_interval_secs: default_gc_interval(),
            gc_grace_secs: default_gc_grace(),
            multipart_expiry_secs: default_multipart_expiry(),
            start_delay_secs: default_start_delay(),
        }
    }
}

/// `[health]`: how long a location may take and how a failed one is retried.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Bound on every backend call (a streamed write: on each piece). Also the HTTP client's
    /// per-request `timeout` of remote locations unless their options set one.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// A failed location is retried after this long, doubling per failed retry...
    #[serde(default = "default_retry_after_secs")]
    pub retry_after_secs: u64,
    /// ... up to this.
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    /// Reads: ask a further location for a block when the first has not answered by then.
    #[serde(default = "default_hedge_delay_ms")]
    pub hedge_delay_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: default_request_timeout_secs(),
            retry_after_secs: default_retry_after_secs(),
            retry_max_secs: default_retry_max_secs(),
            hedge_delay_ms: default_hedge_delay_ms(),
        }
    }
}

fn default_scrub_interval() -> u64 {
    24 * 3600
}
fn default_scrub_rate() -> f64 {
    50.0
}
fn default_gc_interval() -> u64 {
    3600
}
fn default_gc_grace() -> u64 {
    24 * 3600
}
fn default_multipart_expiry() -> u64 {
    7 * 24 * 3600
}
fn default_start_delay() -> u64 {
    60
}
impl HealthConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(self.retry_after_secs)
    }
    pub fn retry_max(&self) -> Duration {
        Duration::from_secs(self.retry_max_secs)
    }
    pub fn hedge_delay(&self) -> Duration {
        Duration::from_millis(self.hedge_delay_ms)
    }
}

fn default_request_timeout_secs() -> u64 {
    10
}
fn default_retry_after_secs() -> u64 {
    5
}
fn default_retry_max_secs() -> u64 {
    60
}
fn default_hedge_delay_ms() -> u64 {
    500
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default = "default_k")]
    pub k: u8,
    #[serde(default = "default_m")]
    pub m: u8,
    #[serde(default = "default_chunk_size")]
    pub chunk_size: u32,
    /// Accept a placement where losing one location loses data. Never the default.
    #[serde(default)]
    pub allow_unsafe_placement: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            k: default_k(),
            m: default_m(),
            chunk_size: default_chunk_size(),
            allow_unsafe_placement: false,
        }
    }
}

/// `[[locations]]`. `Debug` by hand: option values may be secrets.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    pub name: String,
    /// `file:///abs/dir` or a plain path (relative paths are under the data dir): a local
    /// directory. `s3://bucket[/path]`, `az://container[/path]`, `gs://bucket[/path]`: a
    /// remote store, opened with `object_store::parse_url_opts(url, options)`.
    pub url: String,
    /// Optional key prefix inside the location (after the URL's own path).
    #[serde(default)]
    pub prefix: String,
    /// Local locations: fsync every shard file (and its directory) before a PUT is
    /// acknowledged. Only turn off for throwaway data (benchmarks, tests).
    #[serde(default = "default_true")]
    pub fsync: bool,
    /// Remote locations: object_store config keys (`aws_endpoint`, `aws_region`,
    /// `aws_allow_http`, `timeout`, ...) and their values.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Remote locations: option key → name of the environment variable holding its value
    /// (for secrets). Overrides `options`; a variable that is not set is a config error.
    #[serde(default)]
    pub options_from_env: BTreeMap<String, String>,
}

impl std::fmt::Debug for LocationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options: BTreeMap<&str, &str> = self
            .options
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret_option(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("LocationConfig")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("fsync", &self.fsync)
            .field("options", &options)
            .field("options_from_env", &self.options_from_env)
            .finish()
    }
}

/// Option keys whose values are never shown (credentials, tokens, keys, SAS signatures).
pub fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "key",
        "token",
        "password",
        "sas",
        "credential",
        "signature",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// A URL without its query (an Azure SAS token may be there) and user info.
fn redact_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://<redacted>@{host}{path}"),
        None => url.to_string(),
    }
}

impl LocationConfig {
    /// True for a local directory (`file://` or a plain path).
    pub fn is_local(&self) -> bool {
        self.url.starts_with("file://") || !self.url.contains("://")
    }

    /// `options` with the `options_from_env` values filled in from the environment. The error
    /// names the location, the option and the variable, never a value.
    pub fn resolved_options(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut options = self.options.clone();
        for (key, var) in &self.options_from_env {
            match std::env::var(var) {
                Ok(value) => {
                    options.insert(key.clone(), value);
                }
                Err(e) => {
                    let why = match e {
                        std::env::VarError::NotPresent => "is not set",
                        std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
                    };
                    return Err(ConfigError::Invalid(format!(
                        "location {}: environment variable {var} (for option {key}) {why}",
                        self.name
                    )));
                }
            }
        }
        Ok(options)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(format!("location {}: {m}", self.name));
        if self.is_local() {
            if !self.options.is_empty() || !self.options_from_env.is_empty() {
                return Err(invalid(
                    "options and options_from_env apply to remote (s3://, az://, gs://) \
                     locations only"
                        .into(),
                ));
            }
            return Ok(());
        }
        let keys = self.options.keys().chain(self.options_from_env.keys());
        crate::location::remote::check_options(&self.url, keys.map(String::as_str))
            .map_err(invalid)?;
        self.resolved_options().map(|_| ())
    }
}

fn default_true() -> bool {
    true
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_k() -> u8 {
    4
}
fn default_m() -> u8 {
    2
}
fn default_chunk_size() -> u32 {
    DEFAULT_CHUNK_SIZE
}
fn default_max_object_size() -> u64 {
    5 * 1024 * 1024 * 1024
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config parses")
    }
}

impl Config {
    /// Loads `file` if given (else the embedded default), then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let config = match file {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// The configured locations, or the embedded default of three local directories.
    pub fn effective_locations(&self) -> Vec<LocationConfig> {
        if !self.locations.is_empty() {
            return self.locations.clone();
        }
        ["a", "b", "c"]
            .iter()
            .map(|n| LocationConfig {
                name: n.to_string(),
                url: format!("locations/{n}"),
                prefix: String::new(),
                fsync: true,
                options: BTreeMap::new(),
                options_from_env: BTreeMap::new(),
            })
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.policy;
        if p.k == 0 || (p.k as usize + p.m as usize) > 255 {
            return Err(ConfigError::Invalid(format!(
                "policy k={} m={} out of range",
                p.k, p.m
            )));
        }
        if p.chunk_size < 64 * 1024 || p.chunk_size > 64 * 1024 * 1024 {
            return Err(ConfigError::Invalid(format!(
                "policy chunk_size {} must be between 64 KiB and 64 MiB",
                p.chunk_size
            )));
        }
        if !(self.jobs.scrub_rate_mb_s >= 0.0 && self.jobs.scrub_rate_mb_s.is_finite()) {
            return Err(ConfigError::Invalid(format!(
                "jobs.scrub_rate_mb_s {} must be 0 (unlimited) or positive",
                self.jobs.scrub_rate_mb_s
            )));
        }
        let h = &self.health;
        if h.request_timeout_secs == 0 || h.retry_after_secs == 0 {
            return Err(ConfigError::Invalid(
                "health.request_timeout_secs and health.retry_after_secs must be at least 1".into(),
            ));
        }
        if h.retry_max_secs < h.retry_after_secs {
            return Err(ConfigError::Invalid(
                "health.retry_max_secs must be at least health.retry_after_secs".into(),
            ));
        }
        let locations = self.effective_locations();
        let mut names: Vec<&str> = locations.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(ConfigError::Invalid("location names must be unique".into()));
        }
        if let Some(bad) = names.iter().find(|n| {
            n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }) {
            return Err(ConfigError::Invalid(format!(
                "location name {bad:?}: use letters, digits, '-' and '_'"
            )));
        }
        for location in &locations {
            location.validate()?;
        }
        if let Err(e) = placement::validate(p.k as usize, p.m as usize, locations.len())
            && !p.allow_unsafe_placement
        {
            return Err(ConfigError::Invalid(format!(
                "{e} (set policy.allow_unsafe_placement = true to accept this)"
            )));
        }
        Ok(())
    }
}

/// Resolves a location URL or path to a local directory, if it is a local one.
pub fn local_dir(url: &str, data_dir: &Path) -> Option<PathBuf> {
    if let Some(rest) = url.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    if url.contains("://") {
        return None;
    }
    let p = PathBuf::from(url);
    Some(if p.is_absolute() { p } else { data_dir.join(p) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_with_the_default_jobs() {
        let text = include_str!("../../config/chunkworks.example.toml");
        let config: Config = toml::from_str(text).unwrap();
        config.validate().unwrap();
        let d = JobsConfig::default();
        let j = &config.jobs;
        assert_eq!(
            (j.scrub_interval_secs, j.gc_interval_secs, j.gc_grace_secs),
            (d.scrub_interval_secs, d.gc_interval_secs, d.gc_grace_secs)
        );
        assert_eq!(j.multipart_expiry_secs, 7 * 24 * 3600);
        assert_eq!(j.scrub_rate_mb_s, 50.0);
        let bad: Config = toml::from_str("[jobs]\nscrub_rate_mb_s = -1.0").unwrap();
        assert!(bad.validate().is_err());
    }
}
