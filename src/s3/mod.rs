//! The S3 protocol front end. Knows HTTP; knows nothing of shards or keys.

pub mod auth;
pub mod error;
pub mod xml;
