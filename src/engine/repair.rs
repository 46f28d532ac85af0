//! Engine-side shard verification and rebuild, for scrub and heal (`jobs`).
//!
//! - [`Engine::verify_shard`] streams one shard file in block-sized pieces (never the whole
//!   file in memory) and checks its header against the manifest and every block's keyed
//!   checksum: the shard is Healthy, Missing or Corrupt (with the first bad chunk).
//! - [`Engine::rebuild_shards`] rewrites damaged shard files of one part: per chunk it reads k
//!   verified blocks from the other shards (data shards first), reconstructs the missing ones
//!   with [`Codec::reconstruct`] and streams a complete new shard file (the same format the
//!   writer produces) to the shard's location under the same path; the new file becomes
//!   visible only when it is complete. Memory: a few blocks per chunk.
//! - [`ShardFileWriter`]: the shard-file format on the write side (header, then block ‖
//!   checksum per chunk).
//! - [`Throttle`]: paces reads to a byte rate so a scrub can run beside traffic.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;

use super::codec::Codec;
use super::crypto::BlockKey;
use super::shard_file::{self, CHECKSUM_LEN, ShardFileError, ShardHeader, ShardLayout};
use super::{Engine, EngineError, EngineResult, shard_path};
use crate::location::{BlobWriter, Location, LocationError, LocationResult};
use crate::meta::StoredPart;

/// Largest read issued while verifying a shard file (at least one block is read at a time).
const VERIFY_READ_BYTES: u64 = 4 * 1024 * 1024;

/// Outcome of checking one shard file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ShardState {
    Healthy,
    /// The file (or its location) is not there.
    Missing {
        reason: String,
    },
    /// The file is there but its header, length or some block is wrong. `first_bad_chunk`
    /// is `None` when the header (not a block) is what failed.
    Corrupt {
        first_bad_chunk: Option<u64>,
        bad_blocks: u64,
        reason: String,
    },
}

impl ShardState {
    pub fn is_healthy(&self) -> bool {
        matches!(self, ShardState::Healthy)
    }
    pub fn is_missing(&self) -> bool {
        matches!(self, ShardState::Missing { .. })
    }
}

/// One checked shard.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShardCheck {
    pub index: u8,
    pub location: String,
    pub state: ShardState,
    /// Bytes read from the location.
    pub bytes_read: u64,
}

/// Paces reads to at most `bytes_per_sec` on average (unlimited when `None`).
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: Option<f64>,
    state: Mutex<(Instant, u64)>,
}

impl Throttle {
    pub fn new(bytes_per_sec: Option<f64>) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.filter(|r| *r > 0.0),
            state: Mutex::new((Instant::now(), 0)),
        }
    }
    pub fn unlimited() -> Self {
        Self::new(None)
    }
    /// Accounts for `bytes` just read and sleeps until the average rate is back under the
    /// limit.
    pub async fn consume(&self, bytes: u64) {
        let Some(rate) = self.bytes_per_sec else {
            return;
        };
        let wait = {
            let mut state = self.state.lock().expect("not poisoned");
            state.1 += bytes;
            let due = Duration::from_secs_f64(state.1 as f64 / rate);
            due.saturating_sub(state.0.elapsed())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The header every shard file of `part` must carry (with `shard_index` set).
pub fn part_header(part: &StoredPart, shard_index: u8) -> EngineResult<ShardHeader> {
    let mut blob_id = [0u8; 16];
    hex::decode_to_slice(&part.blob_id, &mut blob_id)
        .map_err(|_| EngineError::Internal(format!("bad blob id {}", part.blob_id)))?;
    if part.k == 0 || part.chunk_size == 0 {
        return Err(EngineError::Internal(format!(
            "blob {}: manifest has k={} chunk size {}",
            part.blob_id, part.k, part.chunk_size
        )));
    }
    Ok(ShardHeader {
        blob_id,
        part_number: part.part_number,
        shard_index,
        k: part.k,
        m: part.m,
        chunk_size: part.chunk_size,
        part_size: part.size,
    })
}

fn layout_of(part: &StoredPart) -> ShardLayout {
    ShardLayout::new(part.size, part.chunk_size, part.k)
}

/// A shard file being written: the header first, then `block ‖ checksum` per chunk in order.
/// Invisible under its path until [`ShardFileWriter::finish`].
pub struct ShardFileWriter {
    writer: Box<dyn BlobWriter>,
}

impl ShardFileWriter {
    /// Starts the file at `path` and writes `header`.
    pub async fn begin(
        location: &dyn Location,
        path: &str,
        header: &ShardHeader,
    ) -> LocationResult<Self> {
        let mut writer = location.begin_write(path).await?;
        if let Err(e) = writer.write(Bytes::copy_from_slice(&header.encode())).await {
            let _ = writer.abort().await;
            return Err(e);
        }
        Ok(Self { writer })
    }
    /// Appends one chunk's block and its checksum.
    pub async fn write_block(
        &mut self,
        block: Bytes,
        checksum: [u8; CHECKSUM_LEN],
    ) -> LocationResult<()> {
        self.writer.write(block).await?;
        self.writer.write(Bytes::copy_from_slice(&checksum)).await
    }
    pub async fn finish(self) -> LocationResult<()> {
        self.writer.finish().await
    }
    pub async fn abort(self) -> LocationResult<()> {
        self.writer.abort().await
    }
}

impl Engine {
    /// Streams shard `shard_index` of `part` from its location and checks header, length and
    /// every block checksum. Reads go through `throttle`.
    pub async fn verify_shard(
        &self,
        block_key: &BlockKey,
        part: &StoredPart,
        shard_index: u8,
        throttle: &Throttle,
    ) -> ShardCheck {
        let location_name = part
            .shards
            .get(usize::from(shard_index))
            .map(|s| s.location.clone())
            .unwrap_or_default();
        let mut check = ShardCheck {
            index: shard_index,
            location: location_name.clone(),
            state: ShardState::Healthy,
            bytes_read: 0,
        };
        check.state = self
            .verify_shard_inner(
                block_key,
                part,
                shard_index,
                throttle,
                &mut check.bytes_read,
            )
            .await;
        check
    }

    async fn verify_shard_inner(
        &self,
        block_key: &BlockKey,
        part: &StoredPart,
        shard_index: u8,
        throttle: &Throttle,
        bytes_read: &mut u64,
    ) -> ShardState {
        let missing = |reason: String| ShardState::Missing { reason };
        let corrupt = |first_bad_chunk, bad_blocks, reason: String| ShardState::Corrupt {
            first_bad_chunk,
            bad_blocks,
            reason,
        };
        let Some(shard) = part.shards.get(usize::from(shard_index)) else {
            return missing(format!("manifest has no shard {shard_index}"));
        };
        let Some(location) = self.location(&shard.location) else {
            return missing(format!("location {} is not configured", shard.location));
        };
        let expected = match part_header(part, shard_index) {
            Ok(h) => h,
            Err(e) => return corrupt(None, 0, e.to_string()),
        };
        let layout = layout_of(part);
        let path = shard_path(&part.blob_id, part.part_number, shard_index);
        let size = match location.head(&path).await {
            Ok(size) => size,
            Err(LocationError::NotFound(_)) => return missing("no such file".into()),
            Err(e) => return missing(format!("location error: {e}")),
        };
        let header_bytes = match location.get_range(&path, 0..ShardHeader::LEN as u64).await {
            Ok(b) => b,
            Err(LocationError::NotFound(_)) => return missing("no such file".into()),
            Err(e) if size < ShardHeader::LEN as u64 => {
                return corrupt(Some(0), 0, format!("file too short for a header: {e}"));
            }
            Err(e) => return missing(format!("location error: {e}")),
        };
        *bytes_read += header_bytes.len() as u64;
        throttle.consume(header_bytes.len() as u64).await;
        match ShardHeader::decode(&header_bytes) {
            Ok(mut h) => {
                // A writer that did not know the part size up front records u64::MAX.
                if h.part_size == u64::MAX {
                    h.part_size = part.size;
                }
                if h != expected {
                    return corrupt(
                        None,
                        0,
                        format!("header does not match the manifest: {h:?}"),
                    );
                }
            }
            Err(e) => return corrupt(None, 0, format!("header: {e}")),
        }

        let mut first_bad: Option<u64> = None;
        let mut bad_blocks = 0u64;
        let mut problem = String::new();
        let chunks = layout.chunk_count();
        let mut chunk = 0u64;
        while chunk < chunks {
            // One read covers consecutive blocks up to VERIFY_READ_BYTES (at least one).
            let start = layout.block_offset(chunk);
            let mut end_chunk = chunk + 1;
            while end_chunk < chunks
                && layout.block_offset(end_chunk)
                    + layout.block_len(end_chunk) as u64
                    + CHECKSUM_LEN as u64
                    - start
                    <= VERIFY_READ_BYTES
            {
                end_chunk += 1;
            }
            let end = layout.block_offset(end_chunk - 1)
                + (layout.block_len(end_chunk - 1) + CHECKSUM_LEN) as u64;
            let readable_end = end.min(size);
            let data = if readable_end > start {
                match location.get_range(&path, start..readable_end).await {
                    Ok(d) => d,
                    Err(LocationError::NotFound(_)) => {
                        return missing("file disappeared while being read".into());
                    }
                    Err(e) => return missing(format!("location error: {e}")),
                }
            } else {
                Bytes::new()
            };
            *bytes_read += data.len() as u64;
            throttle.consume(data.len() as u64).await;
            for c in chunk..end_chunk {
                let from = (layout.block_offset(c) - start) as usize;
                let to = from + layout.block_len(c) + CHECKSUM_LEN;
                let stored = &data[from.min(data.len())..to.min(data.len())];
                if let Err(e) = shard_file::verify_block(block_key, &expected, c, stored) {
                    bad_blocks += 1;
                    if first_bad.is_none() {
                        first_bad = Some(c);
                        problem = e.to_string();
                    }
                }
            }
            chunk = end_chunk;
        }
        let expected_len = layout.file_len();
        if let Some(first) = first_bad {
            let mut reason = problem;
            if size != expected_len {
                reason.push_str(&format!("; file is {size} bytes, expected {expected_len}"));
            }
            return corrupt(Some(first), bad_blocks, reason);
        }
        if size != expected_len {
            return corrupt(
                None,
                0,
                format!("file is {size} bytes, expected {expected_len} (trailing bytes)"),
            );
        }
        ShardState::Healthy
    }

    /// Rewrites shards `targets` of `part` from the others. `unusable` lists shards not to
    /// read from at all (known missing); every other shard, the targets included, may supply
    /// blocks that pass their checksum. Returns the bytes read. On failure no target file is
    /// replaced.
    pub async fn rebuild_shards(
        &self,
        block_key: &BlockKey,
        part: &StoredPart,
        targets: &[u8],
        unusable: &[u8],
        throttle: &Throttle,
    ) -> EngineResult<u64> {
        let (k, m) = (usize::from(part.k), usize::from(part.m));
        let n = k + m;
        if part.shards.len() != n
            || part
                .shards
                .iter()
                .enumerate()
                .any(|(i, s)| usize::from(s.index) != i)
        {
            return Err(EngineError::Internal(format!(
                "blob {}: manifest lists {} shards for k={k} m={m}",
                part.blob_id,
                part.shards.len()
            )));
        }
        let targets: Vec<u8> = {
            let mut t: Vec<u8> = targets
                .iter()
                .copied()
                .filter(|&t| usize::from(t) < n)
                .collect();
            t.sort_unstable();
            t.dedup();
            t
        };
        if targets.is_empty() {
            return Ok(0);
        }
        let codec = Codec::new(k, m).map_err(|e| EngineError::Internal(e.to_string()))?;
        let layout = layout_of(part);

        // Open every target's new file first: nothing is replaced unless all chunks rebuild.
        let mut writers = Vec::with_capacity(targets.len());
        for &t in &targets {
            let shard = &part.shards[usize::from(t)];
            let location = self.location(&shard.location).ok_or_else(|| {
                EngineError::Write(format!("location {} is not configured", shard.location))
            })?;
            let header = part_header(part, t)?;
            let path = shard_path(&part.blob_id, part.part_number, t);
            match ShardFileWriter::begin(location.as_ref(), &path, &header).await {
                Ok(w) => writers.push(w),
                Err(e) => {
                    abort_all(writers).await;
                    return Err(EngineError::Write(format!("shard {t}: {e}")));
                }
            }
        }

        let mut bad: HashSet<usize> = unusable.iter().map(|&i| usize::from(i)).collect();
        let mut bytes_read = 0u64;
        for chunk in 0..layout.chunk_count() {
            let blocks = match self
                .fetch_k_blocks(block_key, part, &layout, chunk, &mut bad, throttle)
                .await
            {
                Ok((blocks, read)) => {
                    bytes_read += read;
                    blocks
                }
                Err(e) => {
                    abort_all(writers).await;
                    return Err(e);
                }
            };
            let key = block_key.clone();
            let codec = codec.clone();
            let targets_c = targets.clone();
            let mut base = part_header(part, 0)?;
            let rebuilt = tokio::task::spawn_blocking(move || {
                let mut slots = blocks;
                codec.reconstruct(&mut slots)?;
                Ok::<_, super::codec::CodecError>(
                    targets_c
                        .iter()
                        .map(|&t| {
                            let block = slots[usize::from(t)].take().unwrap_or_default();
                            base.shard_index = t;
                            let sum = shard_file::block_checksum(&key, &base, chunk, &block);
                            (Bytes::from(block), sum)
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
            let rebuilt = match rebuilt {
                Ok(r) => r,
                Err(e) => {
                    abort_all(writers).await;
                    return Err(EngineError::Unreadable {
                        blob_id: part.blob_id.clone(),
                        chunk,
                        detail: e.to_string(),
                    });
                }
            };
            let results = join_all(
                writers
                    .iter_mut()
                    .zip(rebuilt)
                    .map(|(w, (block, sum))| w.write_block(block, sum)),
            )
            .await;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                abort_all(writers).await;
                return Err(EngineError::Write(e.to_string()));
            }
        }
        let finished = join_all(writers.into_iter().map(ShardFileWriter::finish)).await;
        if let Some(e) = finished.into_iter().find_map(Result::err) {
            return Err(EngineError::Write(e.to_string()));
        }
        Ok(bytes_read)
    }

    /// k verified blocks of `chunk` (data shards first), in k+m slots. Shards that fail are
    /// added to `bad` and not asked again.
    async fn fetch_k_blocks(
        &self,
        block_key: &BlockKey,
        part: &StoredPart,
        layout: &ShardLayout,
        chunk: u64,
        bad: &mut HashSet<usize>,
        throttle: &Throttle,
    ) -> EngineResult<(Vec<Option<Vec<u8>>>, u64)> {
        let (k, n) = (usize::from(part.k), part.shards.len());
        let offset = layout.block_offset(chunk);
        let range = offset..offset + (layout.block_len(chunk) + CHECKSUM_LEN) as u64;
        let mut blocks: Vec<Option<Vec<u8>>> = vec![None; n];
        let mut tried = vec![false; n];
        let mut problems = Vec::new();
        let mut read = 0u64;
        loop {
            let have = blocks.iter().filter(|b| b.is_some()).count();
            if have >= k {
                return Ok((blocks, read));
            }
            let next: Vec<usize> = (0..n)
                .filter(|i| !tried[*i] && !bad.contains(i))
                .take(k - have)
                .collect();
            if next.is_empty() {
                return Err(EngineError::Unreadable {
                    blob_id: part.blob_id.clone(),
                    chunk,
                    detail: if problems.is_empty() {
                        "too many shards known bad".into()
                    } else {
                        problems.join("; ")
                    },
                });
            }
            let read_before = read;
            let fetched = join_all(next.iter().map(|&i| {
                tried[i] = true;
                let shard = &part.shards[i];
                let location = self.location(&shard.location).cloned();
                let path = shard_path(&part.blob_id, part.part_number, shard.index);
                let range = range.clone();
                async move {
                    match location {
                        Some(l) => (
                            i,
                            l.get_range(&path, range).await.map_err(|e| e.to_string()),
                        ),
                        None => (i, Err("location not configured".to_string())),
                    }
                }
            }))
            .await;
            for (i, got) in fetched {
                let checked = got.and_then(|stored| {
                    read += stored.len() as u64;
                    let header = part_header(part, i as u8).map_err(|e| e.to_string())?;
                    shard_file::verify_block(block_key, &header, chunk, &stored)
                        .map(<[u8]>::to_vec)
                        .map_err(|e: ShardFileError| e.to_string())
                });
                match checked {
                    Ok(block) => blocks[i] = Some(block),
                    Err(reason) => {
                        problems.push(format!("shard {i}: {reason}"));
                        bad.insert(i);
                    }
                }
            }
            throttle.consume(read - read_before).await;
        }
    }
}

async fn abort_all(writers: Vec<ShardFileWriter>) {
    join_all(writers.into_iter().map(ShardFileWriter::abort)).await;
}
