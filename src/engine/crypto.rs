//! Key hierarchy and chunk encryption (DESIGN.md "Keys", "Chunks").
//!
//! master key ──wraps──▶ per-version data key (DEK) ──HKDF-SHA256──▶ per-chunk AES-256-GCM-SIV key
//!                                                   └─HKDF-SHA256──▶ keyed-BLAKE3 block checksum key
//! The master key also seals the manifest copies written to locations.
//! Owns: key types, wrapping, chunk AEAD and associated data. Must not touch: I/O, shard layout.

use std::fmt;

use aes_gcm_siv::aead::{AeadInOut, KeyInit, Nonce};
use aes_gcm_siv::{Aes256GcmSiv, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

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

/// Length of the random nonce used where a key is used more than once (DEK wrap, manifests).
const NONCE_LEN: usize = 12;
const WRAP_AAD_PREFIX: &[u8] = b"chunkworks dek v1\0";
const CHUNK_SALT: &[u8] = b"chunkworks chunk v1";
const BLOCK_SALT: &[u8] = b"chunkworks block v1";
const BLOCK_INFO: &[u8] = b"block-checksum";
const MANIFEST_SALT: &[u8] = b"chunkworks manifest v1";
const NAME_SALT: &[u8] = b"chunkworks name v1";
const CHUNK_AAD_PREFIX: &[u8] = b"CW1";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

/// HKDF-SHA256 with the given salt over `ikm`, info given in pieces (concatenated).
fn derive_key(ikm: &[u8; 32], salt: &[u8], info: &[&[u8]]) -> [u8; 32] {
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, &mut okm)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    okm
}

fn cipher(key: &[u8; 32]) -> Aes256GcmSiv {
    Aes256GcmSiv::new(&Key::<Aes256GcmSiv>::from(*key))
}

/// Encrypts `buf` in place with a fresh random nonce; returns the nonce. `buf` ends with the tag.
fn seal_random_nonce(key: &[u8; 32], aad: &[u8], buf: &mut Vec<u8>) -> [u8; NONCE_LEN] {
    let nonce = random_bytes::<NONCE_LEN>();
    buf.reserve(TAG_LEN);
    cipher(key)
        .encrypt_in_place(&Nonce::<Aes256GcmSiv>::from(nonce), aad, buf)
        .expect("AES-GCM-SIV accepts messages up to 64 GiB");
    nonce
}

/// Opens `nonce ‖ ciphertext ‖ tag`.
fn open_random_nonce(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Authentication);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    let mut buf = ct.to_vec();
    cipher(key)
        .decrypt_in_place(&Nonce::<Aes256GcmSiv>::from(nonce), aad, &mut buf)
        .map_err(|_| CryptoError::Authentication)?;
    Ok(buf)
}

fn wrap_aad(version_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_AAD_PREFIX.len() + version_id.len());
    aad.extend_from_slice(WRAP_AAD_PREFIX);
    aad.extend_from_slice(version_id.as_bytes());
    aad
}

impl MasterKey {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self { id: id.into(), key }
    }
    /// A fresh random key with a random id.
    pub fn generate() -> Self {
        Self {
            id: hex::encode(random_bytes::<8>()),
            key: random_bytes(),
        }
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The raw bytes, for writing the key file at first start only.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.key
    }
    /// Wraps `dek` bound to `version_id`; returns base64 text for the manifest.
    pub fn wrap_dek(&self, dek: &DataKey, version_id: &str) -> String {
        let mut buf = Vec::with_capacity(NONCE_LEN + 32 + TAG_LEN);
        buf.extend_from_slice(&dek.0);
        let nonce = seal_random_nonce(&self.key, &wrap_aad(version_id), &mut buf);
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        BASE64.encode(out)
    }
    pub fn unwrap_dek(&self, wrapped: &str, version_id: &str) -> Result<DataKey, CryptoError> {
        let raw = BASE64
            .decode(wrapped.trim())
            .map_err(|_| CryptoError::Malformed)?;
        if raw.len() != NONCE_LEN + 32 + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let plain = open_random_nonce(&self.key, &wrap_aad(version_id), &raw)?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed)?;
        Ok(DataKey(key))
    }
    /// Encrypts a manifest copy; `name` (its backend path) is bound as associated data.
    pub fn seal_manifest(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let key = derive_key(&self.key, MANIFEST_SALT, &[]);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&[0u8; NONCE_LEN]);
        out.extend_from_slice(plaintext);
        // Encrypt the tail in place, then put the nonce in front.
        let mut body = out.split_off(NONCE_LEN);
        let nonce = seal_random_nonce(&key, name.as_bytes(), &mut body);
        out.copy_from_slice(&nonce);
        out.append(&mut body);
        out
    }
    /// An opaque, stable id for a name that must not appear at a location (a bucket name):
    /// keyed BLAKE3 under a key derived from the master key, 32 hex characters.
    pub fn name_id(&self, name: &str) -> String {
        let key = derive_key(&self.key, NAME_SALT, &[]);
        hex::encode(&blake3::keyed_hash(&key, name.as_bytes()).as_bytes()[..16])
    }
    pub fn open_manifest(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = derive_key(&self.key, MANIFEST_SALT, &[]);
        open_random_nonce(&key, name.as_bytes(), sealed)
    }
}

impl ChunkAddress<'_> {
    /// `b"CW1" ‖ blob_id ‖ 0x00 ‖ part_number u32 LE ‖ chunk_index u64 LE ‖ last u8`.
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(CHUNK_AAD_PREFIX.len() + self.blob_id.len() + 14);
        aad.extend_from_slice(CHUNK_AAD_PREFIX);
        aad.extend_from_slice(self.blob_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&self.part_number.to_le_bytes());
        aad.extend_from_slice(&self.chunk_index.to_le_bytes());
        aad.push(u8::from(self.last));
        aad
    }
}

impl DataKey {
    pub fn generate() -> Self {
        Self(random_bytes())
    }
    /// The per-chunk key: HKDF-SHA256(DEK; blob id ‖ part ‖ chunk index). Used exactly once,
    /// so the all-zero nonce is safe (and GCM-SIV is misuse-resistant besides).
    fn chunk_cipher(&self, addr: &ChunkAddress<'_>) -> Aes256GcmSiv {
        let key = derive_key(
            &self.0,
            CHUNK_SALT,
            &[
                addr.blob_id.as_bytes(),
                &addr.part_number.to_le_bytes(),
                &addr.chunk_index.to_le_bytes(),
            ],
        );
        cipher(&key)
    }
    /// Encrypts `buf` (plaintext) in place; on return it holds ciphertext followed by the tag.
    pub fn encrypt_chunk(&self, addr: &ChunkAddress<'_>, buf: &mut Vec<u8>) {
        let tag = self.encrypt_chunk_detached(addr, buf);
        buf.extend_from_slice(&tag);
    }
    /// Encrypts `buf` in place and returns the tag that must follow it (the writer appends it
    /// to a buffer it owns, so the plaintext is never copied).
    pub fn encrypt_chunk_detached(&self, addr: &ChunkAddress<'_>, buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .chunk_cipher(addr)
            .encrypt_inout_detached(&Nonce::<Aes256GcmSiv>::default(), &addr.aad(), buf.into())
            .expect("AES-GCM-SIV accepts chunks up to 64 GiB");
        tag.into()
    }
    /// Decrypts `buf` (ciphertext + tag) in place; on success it holds the plaintext.
    pub fn decrypt_chunk(
        &self,
        addr: &ChunkAddress<'_>,
        buf: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if buf.len() < TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        self.chunk_cipher(addr)
            .decrypt_in_place(&Nonce::<Aes256GcmSiv>::default(), &addr.aad(), buf)
            .map_err(|_| CryptoError::Authentication)
    }
    /// Decrypts `buf` (ciphertext without its tag) in place against the detached `tag`; on
    /// success it holds the plaintext. On failure `buf` holds garbage and must be discarded.
    pub fn decrypt_chunk_detached(
        &self,
        addr: &ChunkAddress<'_>,
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        self.chunk_cipher(addr)
            .decrypt_inout_detached(
                &Nonce::<Aes256GcmSiv>::default(),
                &addr.aad(),
                buf.into(),
                tag.into(),
            )
            .map_err(|_| CryptoError::Authentication)
    }
    pub fn block_key(&self) -> BlockKey {
        BlockKey(derive_key(&self.0, BLOCK_SALT, &[BLOCK_INFO]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BLOB: &str = "00112233445566778899aabbccddeeff";

    fn addr(chunk_index: u64, last: bool) -> ChunkAddress<'static> {
        ChunkAddress {
            blob_id: BLOB,
            part_number: 3,
            chunk_index,
            last,
        }
    }

    fn sealed(dek: &DataKey, a: &ChunkAddress<'_>, plain: &[u8]) -> Vec<u8> {
        let mut buf = plain.to_vec();
        dek.encrypt_chunk(a, &mut buf);
        buf
    }

    fn assert_auth_fails(dek: &DataKey, a: &ChunkAddress<'_>, mut buf: Vec<u8>) {
        assert!(matches!(
            dek.decrypt_chunk(a, &mut buf),
            Err(CryptoError::Authentication)
        ));
    }

    proptest! {
        #[test]
        fn chunk_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..2000),
                            index in any::<u64>(), last in any::<bool>()) {
            let dek = DataKey::generate();
            let a = addr(index, last);
            let mut buf = sealed(&dek, &a, &plain);
            prop_assert_eq!(buf.len(), plain.len() + TAG_LEN);
            if plain.len() >= 16 {
                prop_assert_ne!(&buf[..plain.len()], &plain[..]);
            }
            dek.decrypt_chunk(&a, &mut buf).unwrap();
            prop_assert_eq!(buf, plain);
        }

        #[test]
        fn any_flipped_bit_fails(plain in proptest::collection::vec(any::<u8>(), 0..200),
                                 bit in any::<prop::sample::Index>()) {
            let dek = DataKey::generate();
            let a = addr(0, true);
            let mut buf = sealed(&dek, &a, &plain);
            let bit = bit.index(buf.len() * 8);
            buf[bit / 8] ^= 1 << (bit % 8);
            assert_auth_fails(&dek, &a, buf);
        }
    }

    #[test]
    fn chunk_binds_every_address_field_and_key() {
        let dek = DataKey::generate();
        let plain = b"the quick brown fox jumps over the lazy dog".to_vec();
        let a = addr(7, false);
        let buf = sealed(&dek, &a, &plain);

        let mut ok = buf.clone();
        dek.decrypt_chunk(&a, &mut ok).unwrap();
        assert_eq!(ok, plain);

        assert_auth_fails(&dek, &addr(8, false), buf.clone());
        assert_auth_fails(&dek, &addr(6, false), buf.clone());
        assert_auth_fails(&dek, &addr(7, true), buf.clone());
        let other_blob = ChunkAddress {
            blob_id: "00112233445566778899aabbccddeefe",
            ..a
        };
        assert_auth_fails(&dek, &other_blob, buf.clone());
        let other_part = ChunkAddress {
            part_number: 4,
            ..a
        };
        assert_auth_fails(&dek, &other_part, buf.clone());
        assert_auth_fails(&DataKey::generate(), &a, buf.clone());
        // Truncation: drop the last byte, or everything.
        assert_auth_fails(&dek, &a, buf[..buf.len() - 1].to_vec());
        assert_auth_fails(&dek, &a, Vec::new());
    }

    #[test]
    fn swapped_chunks_fail() {
        let dek = DataKey::generate();
        let c0 = sealed(&dek, &addr(0, false), b"chunk zero data!");
        let c1 = sealed(&dek, &addr(1, true), b"chunk one data!!");
        assert_auth_fails(&dek, &addr(0, false), c1.clone());
        assert_auth_fails(&dek, &addr(1, true), c0.clone());
        // A non-last chunk presented as the last one (truncated part) fails too.
        assert_auth_fails(&dek, &addr(0, true), c0);
    }

    #[test]
    fn empty_chunk_is_authenticated() {
        let dek = DataKey::generate();
        let a = addr(0, true);
        let mut buf = sealed(&dek, &a, b"");
        assert_eq!(buf.len(), TAG_LEN);
        assert_auth_fails(&dek, &addr(0, false), buf.clone());
        dek.decrypt_chunk(&a, &mut buf).unwrap();
        assert!(buf.is_empty());
    }

    #[test]
    fn chunk_keys_differ_per_chunk() {
        let dek = DataKey::generate();
        let plain = vec![0u8; 64];
        let c0 = sealed(&dek, &addr(0, false), &plain);
        let c1 = sealed(&dek, &addr(1, false), &plain);
        assert_ne!(c0[..64], c1[..64]);
    }

    #[test]
    fn dek_wrap_round_trip_and_binding() {
        let master = MasterKey::generate();
        let dek = DataKey::generate();
        let wrapped = master.wrap_dek(&dek, "v-1");
        let back = master.unwrap_dek(&wrapped, "v-1").unwrap();
        assert_eq!(back.0, dek.0);
        // Random nonce: wrapping twice differs, both unwrap.
        let again = master.wrap_dek(&dek, "v-1");
        assert_ne!(wrapped, again);
        assert_eq!(master.unwrap_dek(&again, "v-1").unwrap().0, dek.0);

        assert!(matches!(
            master.unwrap_dek(&wrapped, "v-2"),
            Err(CryptoError::Authentication)
        ));
        assert!(matches!(
            MasterKey::generate().unwrap_dek(&wrapped, "v-1"),
            Err(CryptoError::Authentication)
        ));
        let mut raw = BASE64.decode(&wrapped).unwrap();
        raw[20] ^= 1;
        assert!(matches!(
            master.unwrap_dek(&BASE64.encode(&raw), "v-1"),
            Err(CryptoError::Authentication)
        ));
        assert!(matches!(
            master.unwrap_dek("not base64!", "v-1"),
            Err(CryptoError::Malformed)
        ));
        assert!(matches!(
            master.unwrap_dek(&BASE64.encode([0u8; 10]), "v-1"),
            Err(CryptoError::Malformed)
        ));
    }

    #[test]
    fn manifest_seal_round_trip_and_binding() {
        let master = MasterKey::new("k1", [7u8; 32]);
        let plain = br#"{"size":42}"#;
        let sealed = master.seal_manifest("p/manifests/a", plain);
        assert_eq!(sealed.len(), NONCE_LEN + plain.len() + TAG_LEN);
        assert_eq!(
            master.open_manifest("p/manifests/a", &sealed).unwrap(),
            plain
        );
        assert!(master.open_manifest("p/manifests/b", &sealed).is_err());
        assert!(
            MasterKey::new("k1", [8u8; 32])
                .open_manifest("p/manifests/a", &sealed)
                .is_err()
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        assert!(master.open_manifest("p/manifests/a", &bad).is_err());
        assert!(
            master
                .open_manifest("p/manifests/a", &sealed[..20])
                .is_err()
        );
        // The manifest key is derived, not the master key itself.
        let mut direct = plain.to_vec();
        let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN].try_into().unwrap();
        cipher(&[7u8; 32])
            .encrypt_in_place(
                &Nonce::<Aes256GcmSiv>::from(nonce),
                b"p/manifests/a",
                &mut direct,
            )
            .unwrap();
        assert_ne!(&sealed[NONCE_LEN..], &direct[..]);
    }

    #[test]
    fn generate_is_random() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        assert_eq!(a.id().len(), 16);
        assert!(a.id().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.id(), b.id());
        assert_ne!(a.expose_bytes(), b.expose_bytes());
        assert_ne!(DataKey::generate().0, DataKey::generate().0);
    }

    #[test]
    fn block_key_is_derived_and_stable() {
        let dek = DataKey([1u8; 32]);
        assert_eq!(dek.block_key().0, dek.block_key().0);
        assert_ne!(dek.block_key().0, dek.0);
        assert_ne!(dek.block_key().0, DataKey([2u8; 32]).block_key().0);
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let bytes = [0xABu8; 32];
        let shown = [
            format!("{:?}", MasterKey::new("key-id", bytes)),
            format!("{:#?}", MasterKey::new("key-id", bytes)),
            format!("{:?}", DataKey(bytes)),
            format!("{:?}", BlockKey(bytes)),
        ];
        for s in &shown {
            let lower = s.to_lowercase();
            assert!(!lower.contains("171"), "{s}");
            assert!(!lower.contains("ab"), "{s}");
        }
        assert!(shown[0].contains("key-id"));
    }
}
