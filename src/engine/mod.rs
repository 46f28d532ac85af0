//! The object pipeline (DESIGN.md "Data flow"): chunk → encrypt → erasure-code → shard files
//! on locations, and back. Owns: formats, keys, placement, streaming writer and reader.
//! Must not know: HTTP, S3 error codes, the metadata store.

pub mod codec;
pub mod crypto;
pub mod keys;
pub mod placement;
pub mod reader;
pub mod shard_file;
pub mod writer;
