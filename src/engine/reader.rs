//! The streaming reader: manifest → the chunks that cover the range → k verified blocks per
//! chunk (data shards first; parity only for a shard that is missing or fails its checksum)
//! → decode → decrypt → trim → bytes, a bounded number of chunks ahead.
//!
//! A bad block is pinned to its shard by the keyed block checksum before any decoding, and
//! logged with its location; later chunks of the same read skip that shard straight away.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};

use super::codec::Codec;
use super::crypto::{BlockKey, ChunkAddress, DataKey, TAG_LEN};
use super::shard_file::{self, CHECKSUM_LEN, ShardHeader, ShardLayout};
use super::{Engine, EngineError, EngineResult, shard_path};
use crate::meta::{ObjectRecord, StoredPart};

/// Chunks fetched and decoded ahead of the one being sent.
const READ_AHEAD: usize = 4;

struct ReadContext {
    engine: Arc<Engine>,
    dek: DataKey,
    block_key: BlockKey,
    parts: Vec<StoredPart>,
    /// Per part: shards found missing or corrupt during this read.
    bad: Vec<Mutex<HashSet<u8>>>,
}

/// One chunk to produce, and the slice of its plaintext wanted.
struct ChunkJob {
    part: usize,
    chunk: u64,
    trim: Range<usize>,
}

impl Engine {
    /// Streams plaintext bytes `range` of `record` (`range` within `0..record.size`).
    pub fn read_object(
        self: &Arc<Self>,
        record: &ObjectRecord,
        range: Range<u64>,
    ) -> EngineResult<impl Stream<Item = EngineResult<Bytes>> + Send + 'static> {
        let dek = self.data_key(&record.version_id, &record.wrapped_dek, &record.key_id)?;
        let ctx = Arc::new(ReadContext {
            engine: Arc::clone(self),
            block_key: dek.block_key(),
            dek,
            bad: record
                .parts
                .iter()
                .map(|p| Mutex::new(p.missing_shards.iter().copied().collect()))
                .collect(),
            parts: record.parts.clone(),
        });
        let jobs = chunk_jobs(&record.parts, range);
        Ok(futures::stream::iter(jobs)
            .map(move |job| read_chunk(Arc::clone(&ctx), job))
            .buffered(READ_AHEAD))
    }
}

/// The chunks covering `range`, in order, with the part of each chunk to keep.
fn chunk_jobs(
    parts: &[StoredPart],
    range: Range<u64>,
) -> impl Iterator<Item = ChunkJob> + Send + 'static {
    let mut spans = Vec::new();
    let mut part_start = 0u64;
    for (i, part) in parts.iter().enumerate() {
        let part_end = part_start + part.size;
        let lo = range.start.max(part_start);
        let hi = range.end.min(part_end);
        if lo < hi {
            spans.push((i, lo - part_start, hi - part_start, part.chunk_size as u64));
        }
        part_start = part_end;
    }
    spans.into_iter().flat_map(|(part, lo, hi, chunk_size)| {
        let first = lo / chunk_size;
        let last = (hi - 1) / chunk_size;
        (first..=last).map(move |chunk| {
            let chunk_start = chunk * chunk_size;
            let from = lo.max(chunk_start) - chunk_start;
            let to = hi.min(chunk_start + chunk_size) - chunk_start;
            ChunkJob {
                part,
                chunk,
                trim: from as usize..to as usize,
            }
        })
    })
}

/// What the fast path found.
enum FastRead {
    /// The chunk's plaintext, already trimmed.
    Done(Bytes),
    /// Some data shard was unusable (already logged and remembered as bad): these are the
    /// verified blocks, the shards already tried, and what went wrong.
    Degraded {
        blocks: Vec<Option<Bytes>>,
        tried: Vec<bool>,
        problems: Vec<String>,
    },
}

/// Everything about one chunk that both paths need.
struct ChunkPlan {
    layout: ShardLayout,
    block_len: usize,
    /// block ‖ checksum within every shard file.
    stored_range: Range<u64>,
    header: ShardHeader,
}

async fn read_chunk(ctx: Arc<ReadContext>, job: ChunkJob) -> EngineResult<Bytes> {
    let part = &ctx.parts[job.part];
    let (k, n) = (part.k as usize, part.shards.len());
    let layout = ShardLayout::new(part.size, part.chunk_size, part.k);
    let offset = layout.block_offset(job.chunk);
    let block_len = layout.block_len(job.chunk);
    let mut blob_raw = [0u8; 16];
    hex::decode_to_slice(&part.blob_id, &mut blob_raw)
        .map_err(|_| EngineError::Internal(format!("bad blob id {}", part.blob_id)))?;
    let plan = ChunkPlan {
        layout,
        block_len,
        stored_range: offset..offset + (block_len + CHECKSUM_LEN) as u64,
        header: ShardHeader {
            blob_id: blob_raw,
            part_number: part.part_number,
            shard_index: 0,
            k: part.k,
            m: part.m,
            chunk_size: part.chunk_size,
            part_size: part.size,
        },
    };

    let data_shards_healthy = {
        let known_bad = ctx.bad[job.part].lock().expect("not poisoned");
        (0..k).all(|i| !known_bad.contains(&(i as u8)))
    };
    // The zero-copy sequential path suits local disks; remote locations are read
    // concurrently (and hedged) by the gathering path.
    let data_shards_local = part.shards[..k.min(n)].iter().all(|s| {
        ctx.engine
            .location(&s.location)
            .is_some_and(|l| l.is_local())
    });
    let (blocks, tried, problems) = if data_shards_healthy && data_shards_local && k <= n {
        match read_data_shards(&ctx, &job, &plan).await? {
            FastRead::Done(plain) => return Ok(plain),
            FastRead::Degraded {
                blocks,
                tried,
                problems,
            } => (blocks, tried, problems),
        }
    } else {
        (vec![None; n], vec![false; n], Vec::new())
    };
    read_degraded(ctx, job, plan, blocks, tried, problems).await
}

/// Logs an unusable block and remembers its shard as bad for the rest of this read.
fn shard_unusable(
    ctx: &ReadContext,
    job: &ChunkJob,
    shard: usize,
    reason: &str,
    problems: &mut Vec<String>,
) {
    let part = &ctx.parts[job.part];
    let location = &part.shards[shard].location;
    tracing::warn!(
        location = %location,
        blob = %part.blob_id,
        part = part.part_number,
        shard,
        chunk = job.chunk,
        %reason,
        "shard block unusable (missing or failed its checksum); reading parity instead"
    );
    problems.push(format!("shard {shard} at {location}: {reason}"));
    ctx.bad[job.part]
        .lock()
        .expect("not poisoned")
        .insert(shard as u8);
}

/// The common case: the k data blocks are read back to back into one buffer (each block's
/// checksum is lifted out as soon as it lands, so the blocks end up contiguous and form the
/// ciphertext), every block is checked against its keyed checksum, and only then is the
/// ciphertext decrypted in place. No block is copied and the chunk costs one allocation.
async fn read_data_shards(
    ctx: &Arc<ReadContext>,
    job: &ChunkJob,
    plan: &ChunkPlan,
) -> EngineResult<FastRead> {
    let part = &ctx.parts[job.part];
    let (k, n) = (part.k as usize, part.shards.len());
    let block_len = plan.block_len;
    let mut tried = vec![false; n];
    let mut problems = Vec::new();

    // Room for k blocks plus the trailing checksum of the block being read.
    let mut buf: Vec<u8> = Vec::with_capacity(k * block_len + CHECKSUM_LEN);
    let mut sums = vec![[0u8; CHECKSUM_LEN]; k];
    for (i, sum) in sums.iter_mut().enumerate() {
        tried[i] = true;
        let shard = &part.shards[i];
        let path = shard_path(&part.blob_id, part.part_number, shard.index);
        let got = match ctx.engine.location(&shard.location) {
            Some(l) => l
                .read_range_into(&path, plan.stored_range.clone(), buf)
                .await
                .map_err(|e| e.to_string()),
            None => Err("location not configured".to_string()),
        };
        let block_end = (i + 1) * block_len;
        let got = got.and_then(|b| {
            // The location promises exactly the range; never trust a wrong length anyway.
            if b.len() == block_end + CHECKSUM_LEN {
                Ok(b)
            } else {
                Err("checksum: block has the wrong length".to_string())
            }
        });
        match got {
            Ok(b) => {
                buf = b;
                sum.copy_from_slice(&buf[block_end..]);
                buf.truncate(block_end);
            }
            Err(reason) => {
                // The buffer went with the failed read: the degraded path fetches the other
                // shards (again).
                shard_unusable(ctx, job, i, &reason, &mut problems);
                let mut tried = vec![false; n];
                tried[i] = true;
                return Ok(FastRead::Degraded {
                    blocks: vec![None; n],
                    tried,
                    problems,
                });
            }
        }
    }

    let work_ctx = Arc::clone(ctx);
    let mut header = plan.header.clone();
    let layout = plan.layout;
    let (chunk, part_index, trim) = (job.chunk, job.part, job.trim.clone());
    let outcome = tokio::task::spawn_blocking(move || -> EngineResult<Result<Bytes, _>> {
        // Every block is checked before anything is decrypted, so a bad block is pinned to
        // its shard here and never shows up as a failed decrypt.
        let mut bad = Vec::new();
        for (i, sum) in sums.iter().enumerate() {
            header.shard_index = i as u8;
            let block = &buf[i * block_len..(i + 1) * block_len];
            let computed = shard_file::block_checksum(&work_ctx.block_key, &header, chunk, block);
            // blake3::Hash equality is constant-time.
            if blake3::Hash::from_bytes(computed) != blake3::Hash::from_bytes(*sum) {
                bad.push(i);
            }
        }
        if !bad.is_empty() {
            return Ok(Err((bad, Bytes::from(buf))));
        }
        let part = &work_ctx.parts[part_index];
        let plain_len = layout.chunk_plain_len(chunk);
        let cipher_len = plain_len + TAG_LEN;
        if buf.len() < cipher_len {
            return Err(EngineError::Internal(format!(
                "chunk {chunk}: {} bytes of blocks for {cipher_len} bytes of ciphertext",
                buf.len()
            )));
        }
        let (ciphertext, rest) = buf.split_at_mut(plain_len);
        let tag: [u8; TAG_LEN] = rest[..TAG_LEN].try_into().expect("TAG_LEN bytes");
        let addr = ChunkAddress {
            blob_id: &part.blob_id,
            part_number: part.part_number,
            chunk_index: chunk,
            last: chunk + 1 == layout.chunk_count(),
        };
        work_ctx
            .dek
            .decrypt_chunk_detached(&addr, ciphertext, &tag)?;
        buf.truncate(plain_len);
        Ok(Ok(Bytes::from(buf).slice(trim)))
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))??;

    match outcome {
        Ok(plain) => Ok(FastRead::Done(plain)),
        Err((bad, all)) => {
            let mut blocks = vec![None; n];
            for (i, block) in blocks.iter_mut().enumerate().take(k) {
                if bad.contains(&i) {
                    shard_unusable(ctx, job, i, "checksum: block does not match", &mut problems);
                } else {
                    *block = Some(all.slice(i * block_len..(i + 1) * block_len));
                }
            }
            Ok(FastRead::Degraded {
                blocks,
                tried,
                problems,
            })
        }
    }
}

/// Fetches one stored block (block ‖ checksum) and verifies it off the async threads.
fn fetch_verified(
    ctx: &Arc<ReadContext>,
    job: &ChunkJob,
    header: &ShardHeader,
    range: Range<u64>,
    shard_index: usize,
) -> impl std::future::Future<Output = (usize, Result<Bytes, String>)> + Send + 'static {
    let part = &ctx.parts[job.part];
    let shard = &part.shards[shard_index];
    let location = ctx.engine.location(&shard.location).cloned();
    let path = shard_path(&part.blob_id, part.part_number, shard.index);
    let ctx = Arc::clone(ctx);
    let mut header = header.clone();
    header.shard_index = shard_index as u8;
    let chunk = job.chunk;
    async move {
        let Some(location) = location else {
            return (shard_index, Err("location not configured".to_string()));
        };
        let stored = match location.get_range(&path, range).await {
            Ok(stored) => stored,
            Err(e) => return (shard_index, Err(e.to_string())),
        };
        let checked = tokio::task::spawn_blocking(move || {
            shard_file::verify_block(&ctx.block_key, &header, chunk, &stored)
                .map(|block| stored.slice_ref(block))
                .map_err(|e| format!("checksum: {e}"))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        (shard_index, checked)
    }
}

/// A data shard is missing, bad, slow or remote: gather any k verified blocks (parity included), decode,
/// decrypt. This path may copy; it only runs when something is wrong.
async fn read_degraded(
    ctx: Arc<ReadContext>,
    job: ChunkJob,
    plan: ChunkPlan,
    mut blocks: Vec<Option<Bytes>>,
    mut tried: Vec<bool>,
    mut problems: Vec<String>,
) -> EngineResult<Bytes> {
    let part = &ctx.parts[job.part];
    let (k, n) = (part.k as usize, part.shards.len());
    let ChunkPlan {
        layout,
        block_len,
        stored_range,
        header,
    } = plan;
    // Fetch and verify blocks concurrently until k are good. Start with as many as are
    // missing (data shards first); a failure starts the next candidate; when the hedge delay
    // passes with blocks still outstanding, every remaining candidate starts too, so one slow
    // location costs at most the hedge delay.
    let mut in_flight = FuturesUnordered::new();
    let mut hedge = Box::pin(tokio::time::sleep(ctx.engine.hedge_delay()));
    let mut hedged = false;
    loop {
        let have = blocks.iter().filter(|b| b.is_some()).count();
        if have >= k {
            break;
        }
        let known_bad = ctx.bad[job.part].lock().expect("not poisoned").clone();
        let wanted = if hedged {
            n
        } else {
            (k - have).saturating_sub(in_flight.len())
        };
        // Shards at locations marked down go last: asking them first would cost every chunk
        // the hedge delay while the location is out. They stay candidates, so a chunk that
        // has nothing better still tries them (and a location that is back answers).
        let (mut start, later): (Vec<usize>, Vec<usize>) = (0..n)
            .filter(|&i| !tried[i] && !known_bad.contains(&(i as u8)))
            .partition(|&i| {
                ctx.engine
                    .location(&part.shards[i].location)
                    .is_some_and(|l| l.is_available())
            });
        start.extend(later);
        start.truncate(wanted);
        for i in start {
            tried[i] = true;
            in_flight.push(fetch_verified(&ctx, &job, &header, stored_range.clone(), i));
        }
        if in_flight.is_empty() {
            return Err(EngineError::Unreadable {
                blob_id: part.blob_id.clone(),
                chunk: job.chunk,
                detail: if problems.is_empty() {
                    "too many shards known bad".into()
                } else {
                    problems.join("; ")
                },
            });
        }
        tokio::select! {
            Some((i, checked)) = in_flight.next() => match checked {
                Ok(block) if block.len() == block_len => blocks[i] = Some(block),
                outcome => {
                    let reason = match outcome {
                        Err(e) => e,
                        Ok(_) => "checksum: block has the wrong length".into(),
                    };
                    shard_unusable(&ctx, &job, i, &reason, &mut problems);
                }
            },
            () = &mut hedge, if !hedged => {
                hedged = true;
                tracing::debug!(blob = %part.blob_id, chunk = job.chunk, "hedging: slow shard, reading parity too");
            }
        }
    }
    drop(in_flight);

    let decode_ctx = Arc::clone(&ctx);
    tokio::task::spawn_blocking(move || {
        let part = &decode_ctx.parts[job.part];
        let k = part.k as usize;
        let cipher_len = layout.chunk_plain_len(job.chunk) + TAG_LEN;
        let mut buf = if blocks[..k].iter().all(Option::is_some) {
            let mut buf = Vec::with_capacity(cipher_len.max(k * block_len));
            for block in blocks[..k].iter().flatten() {
                buf.extend_from_slice(block);
            }
            buf.truncate(cipher_len);
            buf
        } else {
            let codec =
                Codec::new(k, part.m as usize).map_err(|e| EngineError::Internal(e.to_string()))?;
            let shards = blocks.into_iter().map(|b| b.map(|b| b.to_vec())).collect();
            codec
                .decode(shards, cipher_len)
                .map_err(|e| EngineError::Unreadable {
                    blob_id: part.blob_id.clone(),
                    chunk: job.chunk,
                    detail: e.to_string(),
                })?
        };
        let addr = ChunkAddress {
            blob_id: &part.blob_id,
            part_number: part.part_number,
            chunk_index: job.chunk,
            last: job.chunk + 1 == layout.chunk_count(),
        };
        decode_ctx.dek.decrypt_chunk(&addr, &mut buf)?;
        let plain = Bytes::from(buf);
        Ok(plain.slice(job.trim))
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(size: u64, chunk: u32) -> StoredPart {
        StoredPart {
            part_number: 1,
            blob_id: "00".repeat(16),
            size,
            md5_hex: String::new(),
            k: 4,
            m: 2,
            chunk_size: chunk,
            shards: vec![],
            checksum: None,
            missing_shards: vec![],
        }
    }

    /// Reassembling the trims of every job must give back exactly the requested range.
    fn covered(parts: &[StoredPart], range: Range<u64>) -> Vec<(usize, u64, Range<usize>)> {
        chunk_jobs(parts, range)
            .map(|j| (j.part, j.chunk, j.trim))
            .collect()
    }

    #[test]
    fn detached_decrypt_matches_and_authenticates() {
        let dek = DataKey::generate();
        let blob = "ab".repeat(16);
        let addr = ChunkAddress {
            blob_id: &blob,
            part_number: 2,
            chunk_index: 5,
            last: false,
        };
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut sealed = plain.clone();
        dek.encrypt_chunk(&addr, &mut sealed);
        let (ct, tag) = sealed.split_at(plain.len());
        let tag: [u8; TAG_LEN] = tag.try_into().unwrap();
        let mut buf = ct.to_vec();
        dek.decrypt_chunk_detached(&addr, &mut buf, &tag).unwrap();
        assert_eq!(buf, plain);
        let mut flipped = ct.to_vec();
        flipped[17] ^= 4;
        assert!(
            dek.decrypt_chunk_detached(&addr, &mut flipped, &tag)
                .is_err()
        );
        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        let mut buf = ct.to_vec();
        assert!(
            dek.decrypt_chunk_detached(&addr, &mut buf, &bad_tag)
                .is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn jobs_cover_range_exactly(
            sizes in proptest::collection::vec(0u64..5000, 1..4),
            chunk in 1u32..700,
            a in 0u64..20000,
            b in 0u64..20000,
        ) {
            let parts: Vec<_> = sizes.iter().map(|&s| part(s, chunk)).collect();
            let total: u64 = sizes.iter().sum();
            let (lo, hi) = (a.min(b).min(total), a.max(b).min(total));
            let jobs = covered(&parts, lo..hi);
            let mut offset = lo;
            let mut starts = vec![0u64];
            for p in &parts { starts.push(starts.last().unwrap() + p.size); }
            for (p, c, trim) in &jobs {
                let abs = starts[*p] + c * chunk as u64 + trim.start as u64;
                proptest::prop_assert_eq!(abs, offset);
                proptest::prop_assert!(trim.end <= chunk as usize);
                proptest::prop_assert!(trim.start < trim.end);
                offset += (trim.end - trim.start) as u64;
            }
            proptest::prop_assert_eq!(offset, hi);
        }
    }
}
