//! SQLite metadata store (the embedded default).
// HELPER-B: implement `SqliteStore` (MetaStore) here.
