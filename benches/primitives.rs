//! Single-core throughput of the data-path primitives on 4 MiB buffers.
//! Run with `cargo bench --bench primitives`.

use std::hint::black_box;
use std::time::Duration;

use chunkworks::engine::codec::Codec;
use chunkworks::engine::crypto::{ChunkAddress, DataKey, TAG_LEN};
use chunkworks::engine::shard_file::{ShardHeader, block_checksum};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use md5::{Digest, Md5};
use reed_solomon_erasure::galois_8::ReedSolomon;

const SIZE: usize = 4 << 20;
const K: usize = 4;
const M: usize = 2;

fn input() -> Vec<u8> {
    // Cheap pseudo-random bytes (xorshift), so nothing compresses or short-circuits.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A buffer with room for the tag, as the writer allocates it (no regrowth while encrypting).
fn chunk_buffer(bytes: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(bytes.len() + TAG_LEN);
    buf.extend_from_slice(bytes);
    buf
}

fn addr() -> ChunkAddress<'static> {
    ChunkAddress {
        blob_id: "00112233445566778899aabbccddeeff",
        part_number: 1,
        chunk_index: 0,
        last: true,
    }
}

fn primitives(c: &mut Criterion) {
    let data = input();
    let mut g = c.benchmark_group("4MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));

    g.bench_function("md5", |b| b.iter(|| Md5::digest(black_box(&data))));

    let dek = DataKey::generate();
    g.bench_function("aes256gcmsiv_encrypt", |b| {
        b.iter_batched_ref(
            || chunk_buffer(&data),
            |buf| dek.encrypt_chunk(&addr(), buf),
            BatchSize::LargeInput,
        )
    });
    let mut sealed = chunk_buffer(&data);
    dek.encrypt_chunk(&addr(), &mut sealed);
    g.bench_function("aes256gcmsiv_decrypt", |b| {
        b.iter_batched_ref(
            || sealed.clone(),
            |buf| dek.decrypt_chunk(&addr(), buf).unwrap(),
            BatchSize::LargeInput,
        )
    });

    let codec = Codec::new(K, M).unwrap();
    g.bench_function("rs_4+2_encode_simd", |b| {
        b.iter(|| codec.encode(black_box(&data)).unwrap())
    });
    let rse = ReedSolomon::new(K, M).unwrap();
    let shard_len = codec.shard_len(SIZE);
    g.bench_function("rs_4+2_encode_erasure", |b| {
        b.iter(|| {
            // Same work as Codec::encode: split into k+m fresh buffers, then compute parity.
            let mut shards: Vec<Vec<u8>> = (0..K + M)
                .map(|i| {
                    let mut s = vec![0u8; shard_len];
                    if i < K {
                        let start = (i * shard_len).min(SIZE);
                        let end = ((i + 1) * shard_len).min(SIZE);
                        s[..end - start].copy_from_slice(&data[start..end]);
                    }
                    s
                })
                .collect();
            rse.encode(&mut shards).unwrap();
            shards
        })
    });

    let shards = codec.encode(&data).unwrap();
    let degraded = || {
        let mut s: Vec<Option<Vec<u8>>> = shards.iter().cloned().map(Some).collect();
        s[0] = None;
        s[1] = None;
        s
    };
    assert_eq!(codec.decode(degraded(), SIZE).unwrap(), data);
    g.bench_function("rs_4+2_decode_2_data_missing_simd", |b| {
        b.iter_batched(
            degraded,
            |s| codec.decode(s, SIZE).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("rs_4+2_decode_2_data_missing_erasure", |b| {
        b.iter_batched(
            degraded,
            |mut s| {
                rse.reconstruct_data(&mut s).unwrap();
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("rs_4+2_decode_all_present_simd", |b| {
        b.iter_batched(
            || shards.iter().cloned().map(Some).collect::<Vec<_>>(),
            |s| codec.decode(s, SIZE).unwrap(),
            BatchSize::LargeInput,
        )
    });

    let block_key = dek.block_key();
    let header = ShardHeader {
        blob_id: [7; 16],
        part_number: 1,
        shard_index: 0,
        k: K as u8,
        m: M as u8,
        chunk_size: SIZE as u32,
        part_size: SIZE as u64,
    };
    g.bench_function("blake3_keyed_block_checksum", |b| {
        b.iter(|| block_checksum(&block_key, &header, 0, black_box(&data)))
    });

    g.bench_function("crc32c", |b| {
        b.iter(|| crc_fast::crc32_iscsi(black_box(&data)))
    });

    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = primitives
}
criterion_main!(benches);
