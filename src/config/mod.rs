//! Configuration: the embedded default, an optional TOML file, then environment overrides.
//! Owns: parsing and validation (placement rule checked at load). Must not touch: I/O beyond
//! reading the config file, any running component.

use std::path::{Path, PathBuf};

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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    pub name: String,
    /// `file:///abs/dir`, or a plain path (relative paths are under the data dir).
    pub url: String,
    /// Optional key prefix inside the location.
    #[serde(default)]
    pub prefix: String,
    /// Local locations: fsync every shard file (and its directory) before a PUT is
    /// acknowledged. Only turn off for throwaway data (benchmarks, tests).
    #[serde(default = "default_true")]
    pub fsync: bool,
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
