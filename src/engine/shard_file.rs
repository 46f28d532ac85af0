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

// HELPER-D: implement. Interface below is fixed; bodies are placeholders.

use super::crypto::BlockKey;

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

impl ShardHeader {
    pub const LEN: usize = 8 + 2 + 16 + 4 + 1 + 1 + 1 + 4 + 8 + 4;

    pub fn encode(&self) -> [u8; Self::LEN] {
        todo!()
    }
    pub fn decode(_bytes: &[u8]) -> Result<Self, ShardFileError> {
        todo!()
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
    pub fn new(part_size: u64, chunk_size: u32, k: u8) -> Self {
        Self {
            part_size,
            chunk_size,
            k,
        }
    }
    /// max(1, ⌈part_size / chunk_size⌉): an empty part still has one (empty, authenticated) chunk.
    pub fn chunk_count(&self) -> u64 {
        todo!()
    }
    /// Plaintext bytes in chunk `i`.
    pub fn chunk_plain_len(&self, _i: u64) -> usize {
        todo!()
    }
    /// Bytes of chunk `i`'s block in every shard file (Codec::shard_len of plaintext + TAG_LEN).
    pub fn block_len(&self, _i: u64) -> usize {
        todo!()
    }
    /// Offset of chunk `i`'s block in a shard file (header included).
    pub fn block_offset(&self, _i: u64) -> u64 {
        todo!()
    }
    /// Total shard file length.
    pub fn file_len(&self) -> u64 {
        todo!()
    }
}

/// Keyed checksum of one block; binds blob id, part, shard index and chunk index so a block
/// moved to another place fails.
pub fn block_checksum(
    _key: &BlockKey,
    _header: &ShardHeader,
    _chunk_index: u64,
    _block: &[u8],
) -> [u8; CHECKSUM_LEN] {
    todo!()
}

/// Checks `stored` (block ‖ checksum, as read from the file) and returns the block bytes.
pub fn verify_block<'a>(
    _key: &BlockKey,
    _header: &ShardHeader,
    _chunk_index: u64,
    _stored: &'a [u8],
) -> Result<&'a [u8], ShardFileError> {
    todo!()
}
