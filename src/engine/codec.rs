//! Reed-Solomon k+m erasure coding of one ciphertext chunk. Pure: no I/O, no keys.
//! Owns: split into k equal (padded) data shards, parity computation, reconstruction.

// HELPER-D: implement. Interface below is fixed; bodies are placeholders.

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("unsupported erasure parameters k={k} m={m}")]
    Parameters { k: usize, m: usize },
    #[error("only {present} of the {needed} shards needed are available")]
    TooFewShards { present: usize, needed: usize },
    #[error("shard has length {got}, expected {expected}")]
    ShardLength { got: usize, expected: usize },
    #[error("erasure coding failed: {0}")]
    Internal(String),
}

#[derive(Clone, Debug)]
pub struct Codec {
    k: usize,
    m: usize,
}

impl Codec {
    /// k ≥ 1, m ≥ 0, k + m ≤ 255.
    pub fn new(k: usize, m: usize) -> Result<Self, CodecError> {
        let _ = (k, m);
        todo!()
    }
    pub fn data_shards(&self) -> usize {
        self.k
    }
    pub fn parity_shards(&self) -> usize {
        self.m
    }
    pub fn total_shards(&self) -> usize {
        self.k + self.m
    }
    /// Length of every shard of a chunk whose ciphertext is `len` bytes: ⌈len/k⌉ rounded up
    /// to an even number, at least 2.
    pub fn shard_len(&self, len: usize) -> usize {
        let _ = len;
        todo!()
    }
    /// Splits `data` into k zero-padded data shards and computes m parity shards.
    pub fn encode(&self, _data: &[u8]) -> Result<Vec<Vec<u8>>, CodecError> {
        todo!()
    }
    /// `shards` has k+m slots, `None` where a shard is missing or bad; present shards are
    /// `shard_len(len)` bytes. Returns exactly the `len` original bytes, or an error — never
    /// wrong bytes.
    pub fn decode(
        &self,
        _shards: Vec<Option<Vec<u8>>>,
        _len: usize,
    ) -> Result<Vec<u8>, CodecError> {
        todo!()
    }
    /// Fills every `None` slot with its rebuilt shard (for heal). Needs ≥ k present.
    pub fn reconstruct(&self, _shards: &mut [Option<Vec<u8>>]) -> Result<(), CodecError> {
        todo!()
    }
}
