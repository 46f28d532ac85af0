//! Streaming reader.
