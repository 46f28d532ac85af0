//! Helpers shared by the integration tests.

pub mod objects;
pub mod rclone;
