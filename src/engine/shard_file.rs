//! The self-describing shard file (DESIGN.md "Shards"):
//!
//! ```text
//! header (fixed length): magic "CWSHARD1", format version u16, blob id (16 bytes), part
//!                        number u32, shard index u8, k u8, m u8, chunk size u32,
//!                        part plaintext size u64, CRC32C of the preceding header bytes
//! then for every chunk i: block_i (shard bytes of chunk i) ‖ keyed-BLAKE3(block key; ids, i, block_i) (32 bytes)
//! ```
//! All integers little-endian. Every chunk except the last has full-size blocks, so the offset
//! of any block is computed from the header alone (range reads need no index).
//! Owns: header codec, block checksums, layout arithmetic. Must not touch: I/O, AEAD.

use super::codec::shard_len_for;
use super::crypto::{BlockKey, TAG_LEN};

pub const MAGIC: [u8; 8] = *b"CWSHARD1";
pub const FORMAT_VERSION: u16 = 1;
pub const CHECKSUM_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ShardFileError {
    #[error("not a shard file or damaged header")]
    BadHeader,
    #[error("unsupported shard format version {0}")]
    Version(u16),
    #[error("block {chunk_index} failed its checksum")]
    BadBlock { chunk_index: u64 },
    #[error("block {chunk_index} is truncated")]
    Truncated { chunk_index: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// 16 random bytes; the hex form is the `blob_id` in paths and AAD.
    pub blob_id: [u8; 16],
    pub part_number: u32,
    pub shard_index: u8,
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
    /// Plaintext size of the whole part.
    pub part_size: u64,
}

/// Bytes of the header covered by its CRC32C.
const CRC_OFFSET: usize = ShardHeader::LEN - 4;

impl ShardHeader {
    pub const LEN: usize = 8 + 2 + 16 + 4 + 1 + 1 + 1 + 4 + 8 + 4;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let mut pos = 0;
        let mut put = |bytes: &[u8]| {
            out[pos..pos + bytes.len()].copy_from_slice(bytes);
            pos += bytes.len();
        };
        put(&MAGIC);
        put(&FORMAT_VERSION.to_le_bytes());
        put(&self.blob_id);
        put(&self.part_number.to_le_bytes());
        put(&[self.shard_index, self.k, self.m]);
        put(&self.chunk_size.to_le_bytes());
        put(&self.part_size.to_le_bytes());
        debug_assert_eq!(pos, CRC_OFFSET);
        let crc = crc_fast::crc32_iscsi(&out[..CRC_OFFSET]);
        out[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        out
    }
    /// Parses the first [`Self::LEN`] bytes of `bytes` (trailing bytes are ignored).
    pub fn decode(bytes: &[u8]) -> Result<Self, ShardFileError> {
        let h = bytes.get(..Self::LEN).ok_or(ShardFileError::BadHeader)?;
        let mut pos = 0;
        let mut take = |n: usize| {
            let field = &h[pos..pos + n];
            pos += n;
            field
        };
        if take(8) != MAGIC {
            return Err(ShardFileError::BadHeader);
        }
        let version = u16::from_le_bytes(take(2).try_into().expect("2 bytes"));
        if version != FORMAT_VERSION {
            return Err(ShardFileError::Version(version));
        }
        let blob_id: [u8; 16] = take(16).try_into().expect("16 bytes");
        let part_number = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let [shard_index, k, m] = take(3).try_into().expect("3 bytes");
        let chunk_size = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        let part_size = u64::from_le_bytes(take(8).try_into().expect("8 bytes"));
        let crc = u32::from_le_bytes(take(4).try_into().expect("4 bytes"));
        if crc != crc_fast::crc32_iscsi(&h[..CRC_OFFSET]) {
            return Err(ShardFileError::BadHeader);
        }
        let n = usize::from(k) + usize::from(m);
        if k == 0 || n > 255 || usize::from(shard_index) >= n || chunk_size == 0 {
            return Err(ShardFileError::BadHeader);
        }
        Ok(Self {
            blob_id,
            part_number,
            shard_index,
            k,
            m,
            chunk_size,
            part_size,
        })
    }
    /// Layout of this shard file.
    pub fn layout(&self) -> ShardLayout {
        ShardLayout::new(self.part_size, self.chunk_size, self.k)
    }
}

/// Chunk and block arithmetic of one part: which chunk covers which bytes, how long each
/// block is and where it sits in every shard file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardLayout {
    pub part_size: u64,
    pub chunk_size: u32,
    pub k: u8,
}

impl ShardLayout {
    /// `chunk_size` and `k` must be at least 1.
    pub fn new(part_size: u64, chunk_size: u32, k: u8) -> Self {
        assert!(chunk_size > 0 && k > 0, "chunk size and k must be positive");
        Self {
            part_size,
            chunk_size,
            k,
        }
    }
    /// max(1, ⌈part_size / chunk_size⌉): an empty part still has one (empty, authenticated) chunk.
    pub fn chunk_count(&self) -> u64 {
        self.part_size.div_ceil(u64::from(self.chunk_size)).max(1)
    }
    /// Plaintext bytes in chunk `i` (0 past the last chunk).
    pub fn chunk_plain_len(&self, i: u64) -> usize {
        let start = i.saturating_mul(u64::from(self.chunk_size));
        let len = self
            .part_size
            .saturating_sub(start)
            .min(u64::from(self.chunk_size));
        usize::try_from(len).expect("chunk size fits in usize")
    }
    /// Bytes of chunk `i`'s block in every shard file (Codec::shard_len of plaintext + TAG_LEN).
    pub fn block_len(&self, i: u64) -> usize {
        shard_len_for(usize::from(self.k), self.chunk_plain_len(i) + TAG_LEN)
    }
    /// Length of a full (non-last) chunk's block.
    fn full_block_len(&self) -> u64 {
        let full = usize::try_from(self.chunk_size).expect("chunk size fits in usize");
        shard_len_for(usize::from(self.k), full + TAG_LEN) as u64
    }
    /// Offset of chunk `i`'s block in a shard file (header included).
    pub fn block_offset(&self, i: u64) -> u64 {
        ShardHeader::LEN as u64 + i * (self.full_block_len() + CHECKSUM_LEN as u64)
    }
    /// Total shard file length.
    pub fn file_len(&self) -> u64 {
        let last = self.chunk_count() - 1;
        self.block_offset(last) + self.block_len(last) as u64 + CHECKSUM_LEN as u64
    }
}

fn checksum_hash(
    key: &BlockKey,
    header: &ShardHeader,
    chunk_index: u64,
    block: &[u8],
) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new_keyed(&key.0);
    hasher.update(&header.blob_id);
    hasher.update(&header.part_number.to_le_bytes());
    hasher.update(&[header.shard_index]);
    hasher.update(&chunk_index.to_le_bytes());
    hasher.update(block);
    hasher.finalize()
}

/// Keyed checksum of one block; binds blob id, part, shard index and chunk index so a block
/// moved to another place fails.
pub fn block_checksum(
    key: &BlockKey,
    header: &ShardHeader,
    chunk_index: u64,
    block: &[u8],
) -> [u8; CHECKSUM_LEN] {
    *checksum_hash(key, header, chunk_index, block).as_bytes()
}

/// Checks `stored` (block ‖ checksum, as read from the file) and returns the block bytes.
pub fn verify_block<'a>(
    key: &BlockKey,
    header: &ShardHeader,
    chunk_index: u64,
    stored: &'a [u8],
) -> Result<&'a [u8], ShardFileError> {
    let Some(block_len) = stored.len().checked_sub(CHECKSUM_LEN) else {
        return Err(ShardFileError::Truncated { chunk_index });
    };
    // The layout fixes every block's length: a short read is a truncation, a long one is wrong.
    let layout = ShardLayout {
        part_size: header.part_size,
        chunk_size: header.chunk_size,
        k: header.k,
    };
    let expected = layout.block_len(chunk_index);
    if block_len < expected {
        return Err(ShardFileError::Truncated { chunk_index });
    }
    if block_len > expected {
        return Err(ShardFileError::BadBlock { chunk_index });
    }
    let (block, checksum) = stored.split_at(block_len);
    let checksum: [u8; CHECKSUM_LEN] = checksum.try_into().expect("split at CHECKSUM_LEN");
    // blake3::Hash equality is constant-time.
    if checksum_hash(key, header, chunk_index, block) == blake3::Hash::from_bytes(checksum) {
        Ok(block)
    } else {
        Err(ShardFileError::BadBlock { chunk_index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::codec::Codec;
    use crate::engine::crypto::DataKey;
    use proptest::prelude::*;

    fn header() -> ShardHeader {
        ShardHeader {
            blob_id: *b"0123456789abcdef",
            part_number: 7,
            shard_index: 2,
            k: 4,
            m: 2,
            chunk_size: 1000,
            part_size: 2500,
        }
    }

    proptest! {
        #[test]
        fn header_round_trip(blob_id in any::<[u8; 16]>(), part_number in any::<u32>(),
                             k in 1u8..=200, m in 0u8..=55, shard_pick in any::<prop::sample::Index>(),
                             chunk_size in 1u32.., part_size in any::<u64>()) {
            let h = ShardHeader {
                blob_id, part_number,
                shard_index: shard_pick.index(usize::from(k) + usize::from(m)) as u8,
                k, m, chunk_size, part_size,
            };
            let bytes = h.encode();
            prop_assert_eq!(&bytes[..8], &MAGIC);
            prop_assert_eq!(ShardHeader::decode(&bytes).unwrap(), h.clone());
            // Trailing file bytes after the header are ignored.
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(&[1, 2, 3]);
            prop_assert_eq!(ShardHeader::decode(&longer).unwrap(), h);
        }
    }

    #[test]
    fn header_layout_is_fixed() {
        let bytes = header().encode();
        assert_eq!(ShardHeader::LEN, 49);
        assert_eq!(&bytes[0..8], b"CWSHARD1");
        assert_eq!(&bytes[8..10], &[1, 0]);
        assert_eq!(&bytes[10..26], b"0123456789abcdef");
        assert_eq!(&bytes[26..30], &7u32.to_le_bytes());
        assert_eq!(&bytes[30..33], &[2, 4, 2]);
        assert_eq!(&bytes[33..37], &1000u32.to_le_bytes());
        assert_eq!(&bytes[37..45], &2500u64.to_le_bytes());
        assert_eq!(
            &bytes[45..49],
            &crc_fast::crc32_iscsi(&bytes[..45]).to_le_bytes()
        );
        // CRC32C check value of "123456789" pins the algorithm.
        assert_eq!(crc_fast::crc32_iscsi(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn any_flipped_header_bit_is_rejected() {
        let bytes = header().encode();
        for bit in 0..ShardHeader::LEN * 8 {
            let mut bad = bytes;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(ShardHeader::decode(&bad).is_err(), "bit {bit} accepted");
        }
        for len in 0..ShardHeader::LEN {
            assert!(matches!(
                ShardHeader::decode(&bytes[..len]),
                Err(ShardFileError::BadHeader)
            ));
        }
    }

    #[test]
    fn header_version_and_sanity() {
        let mut v2 = header().encode();
        v2[8] = 2;
        assert!(matches!(
            ShardHeader::decode(&v2),
            Err(ShardFileError::Version(2))
        ));
        // Fields that pass the CRC but make no sense are still rejected.
        for h in [
            ShardHeader { k: 0, ..header() },
            ShardHeader {
                chunk_size: 0,
                ..header()
            },
            ShardHeader {
                shard_index: 6,
                ..header()
            },
            ShardHeader {
                k: 200,
                m: 56,
                shard_index: 0,
                ..header()
            },
        ] {
            assert!(matches!(
                ShardHeader::decode(&h.encode()),
                Err(ShardFileError::BadHeader)
            ));
        }
    }

    /// Brute-force model: cut the part into chunks, encode each real chunk-sized ciphertext
    /// with the codec and lay blocks out one after another.
    fn check_layout_against_model(part_size: u64, chunk_size: u32, k: u8) {
        let layout = ShardLayout::new(part_size, chunk_size, k);
        let codec = Codec::new(usize::from(k), 0).unwrap();
        let mut offset = ShardHeader::LEN as u64;
        let mut remaining = part_size;
        let mut i = 0u64;
        loop {
            let plain = remaining.min(u64::from(chunk_size));
            remaining -= plain;
            let ciphertext = vec![0u8; plain as usize + TAG_LEN];
            let block = codec.encode(&ciphertext).unwrap()[0].len();
            assert_eq!(layout.chunk_plain_len(i), plain as usize, "chunk {i}");
            assert_eq!(layout.block_len(i), block, "chunk {i}");
            assert_eq!(layout.block_offset(i), offset, "chunk {i}");
            offset += (block + CHECKSUM_LEN) as u64;
            i += 1;
            if remaining == 0 {
                break;
            }
        }
        assert_eq!(layout.chunk_count(), i);
        assert_eq!(layout.file_len(), offset);
        assert_eq!(layout.chunk_plain_len(i), 0);
    }

    #[test]
    fn layout_matches_brute_force_model() {
        for chunk in [1u32, 2, 3, 17, 64, 1000, 4 << 20] {
            let c = u64::from(chunk);
            for size in [0, 1, c - 1, c, c + 1, 3 * c + 7] {
                for k in 1..=6 {
                    check_layout_against_model(size, chunk, k);
                }
            }
        }
        check_layout_against_model(10, 3, 255);
    }

    #[test]
    fn layout_of_empty_part() {
        let l = ShardLayout::new(0, 4 << 20, 4);
        assert_eq!(l.chunk_count(), 1);
        assert_eq!(l.chunk_plain_len(0), 0);
        assert_eq!(l.block_len(0), 4);
        assert_eq!(l.file_len(), 49 + 4 + 32);
        assert_eq!(header().layout(), ShardLayout::new(2500, 1000, 4));
    }

    fn stored(key: &BlockKey, h: &ShardHeader, i: u64) -> Vec<u8> {
        let len = h.layout().block_len(i);
        let mut out: Vec<u8> = (0..len)
            .map(|b| (b as u8).wrapping_mul(31) ^ i as u8)
            .collect();
        let sum = block_checksum(key, h, i, &out);
        out.extend_from_slice(&sum);
        out
    }

    #[test]
    fn every_flipped_bit_fails_verification() {
        let key = DataKey::generate().block_key();
        let h = ShardHeader {
            part_size: 10,
            ..header()
        };
        let good = stored(&key, &h, 0);
        assert_eq!(good.len(), 8 + CHECKSUM_LEN);
        assert_eq!(verify_block(&key, &h, 0, &good).unwrap(), &good[..8]);
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(
                    verify_block(&key, &h, 0, &bad),
                    Err(ShardFileError::BadBlock { chunk_index: 0 })
                ),
                "bit {bit} accepted"
            );
        }
    }

    #[test]
    fn moved_or_foreign_blocks_fail() {
        let key = DataKey::generate().block_key();
        let h = header();
        let b0 = stored(&key, &h, 0);
        let b1 = stored(&key, &h, 1);
        assert!(verify_block(&key, &h, 0, &b0).is_ok());
        assert!(verify_block(&key, &h, 1, &b1).is_ok());
        // Same length blocks, other chunk index.
        assert!(matches!(
            verify_block(&key, &h, 1, &b0),
            Err(ShardFileError::BadBlock { chunk_index: 1 })
        ));
        assert!(verify_block(&key, &h, 0, &b1).is_err());
        // Another shard index, part, blob, or key.
        for other in [
            ShardHeader {
                shard_index: 3,
                ..h.clone()
            },
            ShardHeader {
                part_number: 8,
                ..h.clone()
            },
            ShardHeader {
                blob_id: *b"0123456789abcdeF",
                ..h.clone()
            },
        ] {
            assert!(verify_block(&key, &other, 0, &b0).is_err());
        }
        assert!(verify_block(&DataKey::generate().block_key(), &h, 0, &b0).is_err());
    }

    #[test]
    fn short_blocks_are_truncated_long_ones_bad() {
        let key = DataKey::generate().block_key();
        let h = header();
        let good = stored(&key, &h, 2);
        for len in [0, 1, CHECKSUM_LEN - 1, CHECKSUM_LEN, good.len() - 1] {
            assert!(matches!(
                verify_block(&key, &h, 2, &good[..len]),
                Err(ShardFileError::Truncated { chunk_index: 2 })
            ));
        }
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            verify_block(&key, &h, 2, &long),
            Err(ShardFileError::BadBlock { chunk_index: 2 })
        ));
    }

    #[test]
    fn checksum_covers_the_documented_fields() {
        let key = DataKey::generate().block_key();
        let h = header();
        let block = b"some block bytes";
        let mut input = Vec::new();
        input.extend_from_slice(&h.blob_id);
        input.extend_from_slice(&h.part_number.to_le_bytes());
        input.push(h.shard_index);
        input.extend_from_slice(&5u64.to_le_bytes());
        input.extend_from_slice(block);
        assert_eq!(
            block_checksum(&key, &h, 5, block),
            *blake3::keyed_hash(&key.0, &input).as_bytes()
        );
    }
}
