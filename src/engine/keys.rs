//! Master key and access key files under the data dir.
