//! The streaming writer: one part's body → chunks → AEAD → Reed-Solomon → k+m shard files.
//!
//! ```text
//! body ─▶ chunker (async) ─▶ MD5 thread ─▶ seal thread: encrypt in place, encode, checksum
//!                                                  ─┬▶ shard writer 0 ─▶ location
//!                                                   ├▶ ...
//!                                                   └▶ shard writer n-1
//! ```
//! Every hop is a bounded channel, so memory is a few chunks per part whatever the object
//! size, and MD5 (the serial floor of a PUT) runs on its own core while the seal thread works
//! on the previous chunk. On any failure every shard file of the part is aborted or deleted; nothing is
//! visible until the caller commits the manifest.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use md5::Digest;
use tokio::sync::mpsc;

use super::codec::Codec;
use super::crypto::{ChunkAddress, DataKey, TAG_LEN};
use super::repair::ShardFileWriter;
use super::shard_file::{self, CHECKSUM_LEN, ShardHeader};
use super::{Engine, EngineError, EngineResult, placement, shard_path};
use crate::location::Location;
use crate::meta::{ShardRef, StoredPart};

/// Chunks queued between the MD5 thread and the seal thread.
const SEAL_QUEUE: usize = 2;
/// Chunks queued between the chunker and the MD5 thread.
const MD5_QUEUE: usize = 2;
/// Blocks (with their checksums) queued per shard writer.
const SHARD_QUEUE: usize = 2;

/// Work for the seal thread.
enum SealMsg {
    Chunk {
        index: u64,
        last: bool,
        plain: Bytes,
    },
    /// The body ended cleanly: shard writers may commit.
    Finish,
}

/// Work for one shard writer.
enum ShardMsg {
    Block {
        block: Bytes,
        checksum: [u8; CHECKSUM_LEN],
    },
    /// Commit the file. A channel closed without `Finish` aborts it.
    Finish,
}

/// What a finished part write produced.
#[derive(Debug)]
pub struct WrittenPart {
    pub part: StoredPart,
    pub md5: [u8; 16],
}

impl Engine {
    /// Streams `body` into the shard files of one part. `expected_size` (the request's
    /// declared length) goes into the shard headers and must match; `max_size` bounds the
    /// plaintext.
    pub async fn write_part<S>(
        &self,
        dek: &DataKey,
        part_number: u32,
        body: S,
        expected_size: Option<u64>,
        max_size: u64,
    ) -> EngineResult<WrittenPart>
    where
        S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let policy = self.policy();
        let (k, m) = (policy.k as usize, policy.m as usize);
        let codec = Codec::new(k, m).map_err(|e| EngineError::Internal(e.to_string()))?;
        let mut blob_raw = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut blob_raw);
        let blob_id = hex::encode(blob_raw);
        let placement = placement::place(k, m, self.locations().len());
        let shards: Vec<ShardRef> = placement
            .iter()
            .enumerate()
            .map(|(i, &loc)| ShardRef {
                index: i as u8,
                location: self.locations()[loc].name().to_string(),
            })
            .collect();
        let header = ShardHeader {
            blob_id: blob_raw,
            part_number,
            shard_index: 0,
            k: policy.k,
            m: policy.m,
            chunk_size: policy.chunk_size,
            part_size: expected_size.unwrap_or(u64::MAX),
        };

        let mut shard_txs = Vec::with_capacity(k + m);
        let mut writer_tasks = Vec::with_capacity(k + m);
        for (i, &loc) in placement.iter().enumerate() {
            let (tx, rx) = mpsc::channel::<ShardMsg>(SHARD_QUEUE);
            shard_txs.push(tx);
            let location = Arc::clone(&self.locations()[loc]);
            if !location.is_available() {
                // Known down: don't wait for it to fail; the shard is recorded as missing.
                drop(rx);
                let name = location.name().to_string();
                writer_tasks.push(tokio::spawn(async move {
                    Err(format!("location {name} is unavailable"))
                }));
                continue;
            }
            let path = shard_path(&blob_id, part_number, i as u8);
            let mut shard_header = header.clone();
            shard_header.shard_index = i as u8;
            writer_tasks.push(tokio::spawn(write_shard_file(
                location,
                path,
                shard_header,
                rx,
            )));
        }

        // Chunks go chunker → MD5 thread → seal thread: MD5 and sealing overlap on different
        // chunks, and once hashed a chunk's buffer belongs to the seal thread alone, which then
        // encrypts it in place without copying.
        let (seal_tx, seal_rx) = mpsc::channel::<SealMsg>(SEAL_QUEUE);
        let (md5_tx, mut md5_rx) = mpsc::channel::<SealMsg>(MD5_QUEUE);
        let md5_task = tokio::task::spawn_blocking(move || {
            let mut h = md5::Md5::new();
            while let Some(msg) = md5_rx.blocking_recv() {
                if let SealMsg::Chunk { plain, .. } = &msg {
                    h.update(plain);
                }
                if seal_tx.blocking_send(msg).is_err() {
                    break;
                }
            }
            let out: [u8; 16] = h.finalize().into();
            out
        });

        let quorum = self.write_quorum();
        let seal_task = tokio::task::spawn_blocking({
            let dek = dek.clone();
            let blob_id = blob_id.clone();
            let header = header.clone();
            move || seal_chunks(dek, blob_id, header, codec, seal_rx, shard_txs, quorum)
        });

        let chunked = chunk_body(body, policy.chunk_size as usize, max_size, &md5_tx).await;
        let chunked = match chunked {
            Ok(size) if expected_size.is_some_and(|e| e != size) => {
                Err(EngineError::Input(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "body length differs from the declared length",
                )))
            }
            other => other,
        };
        if chunked.is_ok() {
            let _ = md5_tx.send(SealMsg::Finish).await;
        }
        drop(md5_tx);
        let sealed = seal_task
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let md5 = md5_task
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        // A write is acknowledged once the write quorum of shard files is committed; shards
        // that could not be written are recorded as missing (the object is degraded) for the
        // healer to rebuild.
        let mut write_errors = Vec::new();
        let mut missing_shards = Vec::new();
        for (i, task) in writer_tasks.into_iter().enumerate() {
            let failure = match task.await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(e) => e.to_string(),
            };
            tracing::warn!(location = %shards[i].location, shard = i, blob = %blob_id, error = %failure, "shard file not written");
            write_errors.push(format!("shard {i} at {}: {failure}", shards[i].location));
            missing_shards.push(i as u8);
        }
        let written = shards.len() - missing_shards.len();
        let quorum = self.write_quorum();
        let result = match (chunked, sealed) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(EngineError::Write(e)),
            (Ok(_), Ok(())) if written < quorum => Err(EngineError::Write(format!(
                "only {written} of {} shard files written, {quorum} needed: {}",
                shards.len(),
                write_errors.join("; ")
            ))),
            (Ok(size), Ok(())) => Ok(size),
        };
        match result {
            Ok(size) => Ok(WrittenPart {
                part: StoredPart {
                    part_number,
                    blob_id,
                    size,
                    md5_hex: hex::encode(md5),
                    k: policy.k,
                    m: policy.m,
                    chunk_size: policy.chunk_size,
                    shards,
                    checksum: None,
                    missing_shards,
                },
                md5,
            }),
            Err(e) => {
                // Writers that already committed leave files behind: remove them.
                let orphan = crate::meta::OrphanBlob {
                    blob_id,
                    part_number,
                    shards,
                };
                self.delete_blobs(std::slice::from_ref(&orphan)).await;
                Err(e)
            }
        }
    }
}

/// The seal thread: encrypt each chunk, split and encode it, checksum every block and hand
/// the blocks to the shard writers.
fn seal_chunks(
    dek: DataKey,
    blob_id: String,
    mut header: ShardHeader,
    codec: Codec,
    mut rx: mpsc::Receiver<SealMsg>,
    shard_txs: Vec<mpsc::Sender<ShardMsg>>,
    quorum: usize,
) -> Result<(), String> {
    let block_key = dek.block_key();
    // Writers that failed are skipped; the write goes on while a quorum is still writing.
    let mut alive = vec![true; shard_txs.len()];
    while let Some(msg) = rx.blocking_recv() {
        let (index, last, plain) = match msg {
            SealMsg::Chunk { index, last, plain } => (index, last, plain),
            SealMsg::Finish => {
                for (tx, _) in shard_txs.iter().zip(&alive).filter(|(_, a)| **a) {
                    let _ = tx.blocking_send(ShardMsg::Finish);
                }
                return Ok(());
            }
        };
        // The MD5 thread has let go of the chunk, so this is normally the only reference and
        // the buffer (allocated with room for the tag) is encrypted where it is.
        let mut buf = plain.try_into_mut().unwrap_or_else(|shared| {
            let mut owned = BytesMut::with_capacity(shared.len() + TAG_LEN);
            owned.extend_from_slice(&shared);
            owned
        });
        let addr = ChunkAddress {
            blob_id: &blob_id,
            part_number: header.part_number,
            chunk_index: index,
            last,
        };
        let tag = dek.encrypt_chunk_detached(&addr, &mut buf);
        buf.extend_from_slice(&tag);
        let blocks = codec
            .encode_bytes(buf.freeze())
            .map_err(|e| e.to_string())?;
        for (i, block) in blocks.into_iter().enumerate() {
            if !alive[i] {
                continue;
            }
            header.shard_index = i as u8;
            let sum = shard_file::block_checksum(&block_key, &header, index, &block);
            let sent = shard_txs[i].blocking_send(ShardMsg::Block {
                block,
                checksum: sum,
            });
            if sent.is_err() {
                alive[i] = false;
                let left = alive.iter().filter(|a| **a).count();
                if left < quorum {
                    return Err(format!("only {left} shard writers left, {quorum} needed"));
                }
            }
        }
    }
    // The body failed: dropping the senders without Finish aborts every shard file.
    Ok(())
}

/// One shard writer: header, then blocks as they come; commit on `Finish`, abort otherwise.
async fn write_shard_file(
    location: Arc<dyn Location>,
    path: String,
    header: ShardHeader,
    mut rx: mpsc::Receiver<ShardMsg>,
) -> Result<(), String> {
    let mut file = ShardFileWriter::begin(location.as_ref(), &path, &header)
        .await
        .map_err(|e| e.to_string())?;
    while let Some(msg) = rx.recv().await {
        match msg {
            ShardMsg::Block { block, checksum } => {
                if let Err(e) = file.write_block(block, checksum).await {
                    let _ = file.abort().await;
                    return Err(e.to_string());
                }
            }
            ShardMsg::Finish => return file.finish().await.map_err(|e| e.to_string()),
        }
    }
    let _ = file.abort().await;
    Err("write cancelled".into())
}

/// Reads `body` into chunks of `chunk_size` and hands each to the MD5 and seal threads.
/// Returns the plaintext size. The last chunk (possibly empty) carries the last flag.
async fn chunk_body<S>(
    mut body: S,
    chunk_size: usize,
    max_size: u64,
    md5_tx: &mpsc::Sender<SealMsg>,
) -> EngineResult<u64>
where
    S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
{
    let send = |index: u64, last: bool, plain: Bytes| async move {
        md5_tx
            .send(SealMsg::Chunk { index, last, plain })
            .await
            .map_err(|_| EngineError::Write("sealing stopped".into()))
    };
    let mut total: u64 = 0;
    let mut index: u64 = 0;
    let mut buf = BytesMut::with_capacity(chunk_size + TAG_LEN);
    // A full chunk is held back until we know whether more data follows, so the last chunk
    // is always flagged, even when the size is an exact multiple of the chunk size.
    let mut held: Option<Bytes> = None;
    while let Some(piece) = body.next().await {
        let mut piece = piece.map_err(EngineError::Input)?;
        total += piece.len() as u64;
        if total > max_size {
            return Err(EngineError::TooLarge { max: max_size });
        }
        while !piece.is_empty() {
            if buf.is_empty() && piece.len() >= chunk_size {
                // A whole chunk inside one piece: pass it on without copying.
                if let Some(prev) = held.take() {
                    send(index, false, prev).await?;
                    index += 1;
                }
                held = Some(piece.split_to(chunk_size));
                continue;
            }
            let take = (chunk_size - buf.len()).min(piece.len());
            buf.extend_from_slice(&piece.split_to(take));
            if buf.len() == chunk_size {
                if let Some(prev) = held.take() {
                    send(index, false, prev).await?;
                    index += 1;
                }
                held = Some(
                    std::mem::replace(&mut buf, BytesMut::with_capacity(chunk_size + TAG_LEN))
                        .freeze(),
                );
            }
        }
    }
    match held.take() {
        Some(prev) if buf.is_empty() => send(index, true, prev).await?,
        Some(prev) => {
            send(index, false, prev).await?;
            send(index + 1, true, buf.freeze()).await?;
        }
        None => send(index, true, buf.freeze()).await?,
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs the chunker over `data` delivered in pieces of the given sizes and returns the
    /// chunks it emitted as (index, last, bytes).
    fn chunk(data: &[u8], pieces: &[usize], chunk_size: usize) -> Vec<(u64, bool, Vec<u8>)> {
        let mut parts = Vec::new();
        let mut rest = data;
        for &p in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = p.clamp(1, rest.len());
            parts.push(Ok(Bytes::copy_from_slice(&rest[..n])));
            rest = &rest[n..];
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            // Room for every chunk the strategy can produce (2000 bytes at chunk size 1), so the
            // chunker never waits on this single-threaded runtime.
            let (tx, mut rx) = mpsc::channel::<SealMsg>(4096);
            let total = chunk_body(futures::stream::iter(parts), chunk_size, u64::MAX, &tx)
                .await
                .unwrap();
            assert_eq!(total, data.len() as u64);
            drop(tx);
            let mut out = Vec::new();
            while let Some(SealMsg::Chunk { index, last, plain }) = rx.recv().await {
                out.push((index, last, plain.to_vec()));
            }
            out
        })
    }

    proptest! {
        #[test]
        fn chunks_are_exact_and_only_the_last_is_flagged(
            len in 0usize..2000,
            pieces in proptest::collection::vec(1usize..700, 1..6),
            chunk_size in 1usize..300,
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let chunks = chunk(&data, &pieces, chunk_size);
            let expected_count = len.div_ceil(chunk_size).max(1);
            prop_assert_eq!(chunks.len(), expected_count);
            for (i, (index, last, bytes)) in chunks.iter().enumerate() {
                prop_assert_eq!(*index, i as u64);
                prop_assert_eq!(*last, i + 1 == expected_count);
                let lo = i * chunk_size;
                let hi = (lo + chunk_size).min(len);
                prop_assert_eq!(&bytes[..], &data[lo..hi]);
            }
        }
    }

    #[test]
    fn boundaries() {
        let c = 64;
        for len in [0, 1, c - 1, c, c + 1, 3 * c + 7] {
            let data = vec![7u8; len];
            let chunks = chunk(&data, &[c], c);
            let sizes: Vec<usize> = chunks.iter().map(|(_, _, b)| b.len()).collect();
            let want: Vec<usize> = match len {
                0 => vec![0],
                _ => (0..len.div_ceil(c)).map(|i| (len - i * c).min(c)).collect(),
            };
            assert_eq!(sizes, want, "len {len}");
            assert!(chunks.last().unwrap().1, "last chunk flagged");
        }
    }

    #[test]
    fn oversized_body_is_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, _rx) = mpsc::channel::<SealMsg>(1024);
        let body = futures::stream::iter(vec![Ok(Bytes::from(vec![0u8; 100]))]);
        let err = rt.block_on(chunk_body(body, 64, 99, &tx)).unwrap_err();
        assert!(matches!(err, EngineError::TooLarge { max: 99 }));
    }
}
