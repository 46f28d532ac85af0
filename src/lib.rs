//! Chunk Works: an S3-compatible gateway that chunks, encrypts (AES-256-GCM-SIV per chunk),
//! erasure-codes (Reed-Solomon k+m) and spreads every object over independent locations.
//!
//! # Layout
//! ```text
//! HTTP ─▶ s3 (router → auth → ops) ─▶ engine (chunk → encrypt → encode → shard files) ─▶ location
//!                     │                                                               
//!                     └──────────────▶ meta (buckets, manifests, uploads, orphan queue)
//! ```
//! - [`config`]: TOML config and the embedded default.
//! - [`s3`]: the S3 protocol; knows HTTP, knows nothing of shards or keys.
//! - [`engine`]: the object pipeline; no HTTP types.
//! - [`location`]: blob backends over `object_store`; no chunks or keys.
//! - [`meta`]: the metadata store (SQLite).
//! - [`jobs`]: scrub, heal, garbage collection and index recovery (offline and in `serve`).
//! - [`app`]: wiring of the above for `serve` and the other subcommands.
//!
//! See `ARCHITECTURE.md` for formats and invariants.

pub mod app;
pub mod config;
pub mod engine;
pub mod jobs;
pub mod location;
pub mod meta;
pub mod s3;
