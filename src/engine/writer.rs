//! Streaming writer.
