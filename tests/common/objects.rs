//! Writing and reading objects straight through the engine, as the S3 layer does.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use chunkworks::engine::{Engine, NewVersion};
use chunkworks::meta::ObjectRecord;
use futures::TryStreamExt;

/// Deterministic pseudo-random bytes (xorshift), different per seed.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    let mut x = seed as u32 | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Streams `data` (in 10 kB pieces) into the shard files of a new single-part version and
/// returns its manifest, for bucket "b" and key "k". Nothing is committed to a metadata store.
pub async fn write_object(engine: &Engine, data: &[u8]) -> (NewVersion, ObjectRecord) {
    let version = engine.new_version();
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(10_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let written = engine
        .write_part(
            &version.dek,
            1,
            futures::stream::iter(pieces),
            Some(data.len() as u64),
            u64::MAX,
        )
        .await
        .unwrap();
    let record = ObjectRecord {
        bucket: "b".into(),
        key: "k".into(),
        version_id: version.version_id.clone(),
        size: written.part.size,
        etag: hex::encode(written.md5),
        last_modified_ms: chunkworks::s3::now_ms(),
        headers: vec![],
        user_meta: vec![],
        checksum: None,
        wrapped_dek: version.wrapped_dek.clone(),
        key_id: version.key_id.clone(),
        parts: vec![written.part],
        multipart_count: 0,
        versioned: false,
        retention: None,
        legal_hold: false,
        tags: Vec::new(),
    };
    (version, record)
}

/// Reads `range` of an object back through the engine.
pub async fn read_object(
    engine: &Arc<Engine>,
    record: &ObjectRecord,
    range: std::ops::Range<u64>,
) -> Result<Vec<u8>, String> {
    let stream = engine
        .read_object(record, range)
        .map_err(|e| e.to_string())?;
    let pieces: Vec<Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
    Ok(pieces.concat())
}
