//! Key hierarchy and chunk encryption (DESIGN.md "Keys", "Chunks").
//!
//! master key ──wraps──▶ per-version data key (DEK) ──HKDF-SHA256──▶ per-chunk AES-256-GCM-SIV key
//!                                                   └─HKDF-SHA256──▶ keyed-BLAKE3 block checksum key
//! The master key also seals the manifest copies written to locations.
//! Owns: key types, wrapping, chunk AEAD and associated data. Must not touch: I/O, shard layout.

// HELPER-D: implement. Interface below is fixed; bodies are placeholders.

use std::fmt;

/// Length of the AEAD tag appended to every chunk.
pub const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("authentication failed: data was altered, reordered or truncated")]
    Authentication,
    #[error("malformed wrapped key")]
    Malformed,
}

/// The master key: never written to a location. `Debug` never shows key bytes.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A random per-object-version data key. `Debug` never shows key bytes.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Key for the keyed-BLAKE3 shard block checksums of one object version.
#[derive(Clone)]
pub struct BlockKey(pub(crate) [u8; 32]);

impl fmt::Debug for BlockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockKey(..)")
    }
}

/// Identifies one chunk; all of it is bound into the AEAD associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkAddress<'a> {
    /// Hex blob id of the part upload (names the shard files).
    pub blob_id: &'a str,
    pub part_number: u32,
    pub chunk_index: u64,
    /// True for the final chunk of the part: truncation is detected.
    pub last: bool,
}

impl MasterKey {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }
    /// A fresh random key with a random id.
    pub fn generate() -> Self {
        todo!()
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The raw bytes, for writing the key file at first start only.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.key
    }
    /// Wraps `dek` bound to `version_id`; returns base64 text for the manifest.
    pub fn wrap_dek(&self, _dek: &DataKey, _version_id: &str) -> String {
        todo!()
    }
    pub fn unwrap_dek(&self, _wrapped: &str, _version_id: &str) -> Result<DataKey, CryptoError> {
        todo!()
    }
    /// Encrypts a manifest copy; `name` (its backend path) is bound as associated data.
    pub fn seal_manifest(&self, _name: &str, _plaintext: &[u8]) -> Vec<u8> {
        todo!()
    }
    pub fn open_manifest(&self, _name: &str, _sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        todo!()
    }
}

impl DataKey {
    pub fn generate() -> Self {
        todo!()
    }
    /// Encrypts `buf` (plaintext) in place; on return it holds ciphertext followed by the tag.
    pub fn encrypt_chunk(&self, _addr: &ChunkAddress<'_>, _buf: &mut Vec<u8>) {
        todo!()
    }
    /// Decrypts `buf` (ciphertext + tag) in place; on success it holds the plaintext.
    pub fn decrypt_chunk(
        &self,
        _addr: &ChunkAddress<'_>,
        _buf: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        todo!()
    }
    pub fn block_key(&self) -> BlockKey {
        todo!()
    }
}
