//! Reed-Solomon k+m erasure coding of one ciphertext chunk. Pure: no I/O, no keys.
//! Owns: split into k equal (padded) data shards, parity computation, reconstruction.

use std::cell::RefCell;

use reed_solomon_simd::{DecoderResult, ReedSolomonDecoder, ReedSolomonEncoder};

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

thread_local! {
    // Encoder/decoder work buffers are reused across chunks on the same thread.
    static ENCODER: RefCell<Option<ReedSolomonEncoder>> = const { RefCell::new(None) };
    static DECODER: RefCell<Option<ReedSolomonDecoder>> = const { RefCell::new(None) };
}

fn internal(e: reed_solomon_simd::Error) -> CodecError {
    CodecError::Internal(e.to_string())
}

/// Shard length for `len` bytes over `k` data shards (see [`Codec::shard_len`]).
pub(crate) fn shard_len_for(k: usize, len: usize) -> usize {
    let per = len.div_ceil(k.max(1));
    (per + (per & 1)).max(2)
}

/// Runs the parity computation: `m` ≥ 1 recovery shards from `k` equal-length originals.
fn compute_parity<T: AsRef<[u8]>>(
    k: usize,
    m: usize,
    originals: impl Iterator<Item = T>,
    shard_len: usize,
) -> Result<Vec<Vec<u8>>, CodecError> {
    ENCODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let encoder = match slot.as_mut() {
            Some(enc) => {
                enc.reset(k, m, shard_len).map_err(internal)?;
                enc
            }
            None => slot.insert(ReedSolomonEncoder::new(k, m, shard_len).map_err(internal)?),
        };
        for shard in originals {
            encoder.add_original_shard(shard).map_err(internal)?;
        }
        let result = encoder.encode().map_err(internal)?;
        Ok(result.recovery_iter().map(<[u8]>::to_vec).collect())
    })
}

/// Rebuilds the missing data shards. `shards` has k+m slots and ≥ k present, all `shard_len`.
/// `use_restored` gets the decoder result; [`restored`] looks up a rebuilt data shard in it.
fn restore_data<R>(
    k: usize,
    m: usize,
    shards: &[Option<Vec<u8>>],
    shard_len: usize,
    use_restored: impl FnOnce(&DecoderResult<'_>) -> Result<R, CodecError>,
) -> Result<R, CodecError> {
    DECODER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decoder = match slot.as_mut() {
            Some(dec) => {
                dec.reset(k, m, shard_len).map_err(internal)?;
                dec
            }
            None => slot.insert(ReedSolomonDecoder::new(k, m, shard_len).map_err(internal)?),
        };
        for (i, shard) in shards.iter().enumerate() {
            if let Some(shard) = shard {
                if i < k {
                    decoder.add_original_shard(i, shard).map_err(internal)?;
                } else {
                    decoder.add_recovery_shard(i - k, shard).map_err(internal)?;
                }
            }
        }
        let result = decoder.decode().map_err(internal)?;
        use_restored(&result)
    })
}

/// The rebuilt data shard `i` from a decoder result, checked for length.
fn restored<'r>(
    result: &'r DecoderResult<'_>,
    i: usize,
    shard_len: usize,
) -> Result<&'r [u8], CodecError> {
    match result.restored_original(i) {
        Some(bytes) if bytes.len() == shard_len => Ok(bytes),
        Some(bytes) => Err(CodecError::Internal(format!(
            "restored shard {i} has length {}",
            bytes.len()
        ))),
        None => Err(CodecError::Internal(format!(
            "data shard {i} was not restored"
        ))),
    }
}

impl Codec {
    /// k ≥ 1, m ≥ 0, k + m ≤ 255.
    pub fn new(k: usize, m: usize) -> Result<Self, CodecError> {
        let ok = k >= 1
            && k + m <= 255
            && (m == 0 || ReedSolomonEncoder::supports(k, m) && ReedSolomonDecoder::supports(k, m));
        if ok {
            Ok(Self { k, m })
        } else {
            Err(CodecError::Parameters { k, m })
        }
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
        shard_len_for(self.k, len)
    }
    /// Splits `data` into k zero-padded data shards and computes m parity shards.
    pub fn encode(&self, data: &[u8]) -> Result<Vec<Vec<u8>>, CodecError> {
        let shard_len = self.shard_len(data.len());
        let mut shards = Vec::with_capacity(self.total_shards());
        for i in 0..self.k {
            let start = (i * shard_len).min(data.len());
            let end = ((i + 1) * shard_len).min(data.len());
            let mut shard = Vec::with_capacity(shard_len);
            shard.extend_from_slice(&data[start..end]);
            shard.resize(shard_len, 0);
            shards.push(shard);
        }
        if self.m > 0 {
            let parity = compute_parity(self.k, self.m, shards.iter(), shard_len)?;
            if parity.len() != self.m {
                return Err(CodecError::Internal(format!(
                    "{} parity shards computed, {} expected",
                    parity.len(),
                    self.m
                )));
            }
            shards.extend(parity);
        }
        Ok(shards)
    }
    /// Like [`Codec::encode`], without copying: the data shards are slices of `data` (padded
    /// with one copy only when its length is not k × shard length), parity shards new buffers.
    pub fn encode_bytes(&self, data: bytes::Bytes) -> Result<Vec<bytes::Bytes>, CodecError> {
        let shard_len = self.shard_len(data.len());
        let data = if data.len() == shard_len * self.k {
            data
        } else {
            let mut padded = Vec::with_capacity(shard_len * self.k);
            padded.extend_from_slice(&data);
            padded.resize(shard_len * self.k, 0);
            bytes::Bytes::from(padded)
        };
        let mut shards: Vec<bytes::Bytes> = (0..self.k)
            .map(|i| data.slice(i * shard_len..(i + 1) * shard_len))
            .collect();
        if self.m > 0 {
            let parity = compute_parity(self.k, self.m, shards.iter(), shard_len)?;
            shards.extend(parity.into_iter().map(bytes::Bytes::from));
        }
        Ok(shards)
    }
    /// `shards` has k+m slots, `None` where a shard is missing or bad; present shards are
    /// `shard_len(len)` bytes. Returns exactly the `len` original bytes, or an error — never
    /// wrong bytes.
    pub fn decode(&self, shards: Vec<Option<Vec<u8>>>, len: usize) -> Result<Vec<u8>, CodecError> {
        let shard_len = self.shard_len(len);
        self.check_slots(&shards, shard_len)?;
        let mut out = Vec::with_capacity(shard_len * self.k);
        if shards[..self.k].iter().all(Option::is_some) {
            // Fast path: every data shard is here, no Reed-Solomon work.
            for shard in shards[..self.k].iter().flatten() {
                out.extend_from_slice(shard);
            }
        } else {
            // Built in index order: no zero fill of the output first.
            restore_data(self.k, self.m, &shards, shard_len, |result| {
                for (i, shard) in shards[..self.k].iter().enumerate() {
                    match shard {
                        Some(shard) => out.extend_from_slice(shard),
                        None => out.extend_from_slice(restored(result, i, shard_len)?),
                    }
                }
                Ok(())
            })?;
        }
        // The padding encode wrote is zero; anything else means inconsistent shards.
        if out[len..].iter().any(|&b| b != 0) {
            return Err(CodecError::Internal(
                "non-zero padding: shards are inconsistent".into(),
            ));
        }
        out.truncate(len);
        Ok(out)
    }
    /// Fills every `None` slot with its rebuilt shard (for heal). Needs ≥ k present.
    pub fn reconstruct(&self, shards: &mut [Option<Vec<u8>>]) -> Result<(), CodecError> {
        let Some(shard_len) = shards.iter().flatten().map(Vec::len).next() else {
            return Err(CodecError::TooFewShards {
                present: 0,
                needed: self.k,
            });
        };
        if shard_len == 0 || shard_len % 2 != 0 {
            return Err(CodecError::ShardLength {
                got: shard_len,
                expected: shard_len_for(1, shard_len),
            });
        }
        self.check_slots(shards, shard_len)?;
        if shards.iter().all(Option::is_some) {
            return Ok(());
        }
        if shards[..self.k].iter().any(Option::is_none) {
            let rebuilt = restore_data(self.k, self.m, shards, shard_len, |result| {
                (0..self.k)
                    .filter(|&i| shards[i].is_none())
                    .map(|i| Ok((i, restored(result, i, shard_len)?.to_vec())))
                    .collect::<Result<Vec<_>, CodecError>>()
            })?;
            for (i, bytes) in rebuilt {
                shards[i] = Some(bytes);
            }
        }
        if shards[self.k..].iter().any(Option::is_none) {
            let originals = shards[..self.k].iter().map(|s| s.as_deref().unwrap_or(&[]));
            let parity = compute_parity(self.k, self.m, originals, shard_len)?;
            for (slot, bytes) in shards[self.k..].iter_mut().zip(parity) {
                if slot.is_none() {
                    *slot = Some(bytes);
                }
            }
        }
        Ok(())
    }
    /// Checks slot count, shard lengths and that at least k shards are present.
    fn check_slots(&self, shards: &[Option<Vec<u8>>], shard_len: usize) -> Result<(), CodecError> {
        if shards.len() != self.total_shards() {
            return Err(CodecError::Internal(format!(
                "{} shard slots given, {} expected",
                shards.len(),
                self.total_shards()
            )));
        }
        if let Some(bad) = shards.iter().flatten().find(|s| s.len() != shard_len) {
            return Err(CodecError::ShardLength {
                got: bad.len(),
                expected: shard_len,
            });
        }
        let present = shards.iter().flatten().count();
        if present < self.k {
            return Err(CodecError::TooFewShards {
                present,
                needed: self.k,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slots(shards: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
        shards.iter().cloned().map(Some).collect()
    }

    proptest! {
        #[test]
        fn encode_bytes_matches_encode(k in 1usize..=6, m in 0usize..=3, data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let codec = Codec::new(k, m).unwrap();
            let copied = codec.encode(&data).unwrap();
            let sliced = codec.encode_bytes(bytes::Bytes::from(data.clone())).unwrap();
            prop_assert_eq!(copied.len(), sliced.len());
            for (a, b) in copied.iter().zip(&sliced) {
                prop_assert_eq!(&a[..], &b[..]);
            }
        }
    }

    /// k in 1..=8, m in 0..=4, data with lengths incl. 0, 1 and odd, and a subset of shard
    /// indexes of size ≤ m to drop.
    fn case() -> impl Strategy<Value = (usize, usize, Vec<u8>, Vec<usize>)> {
        (
            1usize..=8,
            0usize..=4,
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_flat_map(|(k, m, data)| {
                let drop = prop::sample::subsequence((0..k + m).collect::<Vec<_>>(), 0..=m);
                (Just(k), Just(m), Just(data), drop)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decode_survives_up_to_m_losses((k, m, data, drop) in case()) {
            let codec = Codec::new(k, m).unwrap();
            let shards = codec.encode(&data).unwrap();
            prop_assert_eq!(shards.len(), k + m);
            let shard_len = codec.shard_len(data.len());
            prop_assert!(shards.iter().all(|s| s.len() == shard_len));
            prop_assert_eq!(shard_len % 2, 0);
            // Data shards are the plain split, zero padded.
            let mut joined: Vec<u8> = shards[..k].concat();
            prop_assert!(joined[data.len()..].iter().all(|&b| b == 0));
            joined.truncate(data.len());
            prop_assert_eq!(&joined, &data);

            let mut present = slots(&shards);
            for &i in &drop {
                present[i] = None;
            }
            let mut rebuilt = present.clone();
            prop_assert_eq!(codec.decode(present, data.len()).unwrap(), data.clone());
            codec.reconstruct(&mut rebuilt).unwrap();
            let rebuilt: Vec<Vec<u8>> = rebuilt.into_iter().map(Option::unwrap).collect();
            prop_assert_eq!(rebuilt, shards);
        }

        #[test]
        fn decode_fails_with_m_plus_one_losses((k, m, data, drop) in case()) {
            let codec = Codec::new(k, m).unwrap();
            let shards = codec.encode(&data).unwrap();
            let mut present = slots(&shards);
            // Drop the chosen subset and then more until m+1 are gone.
            let mut gone: Vec<usize> = drop.clone();
            for i in 0..k + m {
                if gone.len() > m {
                    break;
                }
                if !gone.contains(&i) {
                    gone.push(i);
                }
            }
            for &i in &gone {
                present[i] = None;
            }
            let mut rebuilt = present.clone();
            let is_too_few = matches!(
                codec.decode(present, data.len()),
                Err(CodecError::TooFewShards { present, needed }) if present == k - 1 && needed == k
            );
            prop_assert!(is_too_few);
            let rebuild_too_few =
                matches!(codec.reconstruct(&mut rebuilt), Err(CodecError::TooFewShards { .. }));
            prop_assert!(rebuild_too_few);
        }
    }

    #[test]
    fn shard_len_rule() {
        let c1 = Codec::new(1, 0).unwrap();
        assert_eq!(c1.shard_len(0), 2);
        assert_eq!(c1.shard_len(1), 2);
        assert_eq!(c1.shard_len(3), 4);
        assert_eq!(c1.shard_len(4), 4);
        let c4 = Codec::new(4, 2).unwrap();
        assert_eq!(c4.shard_len(0), 2);
        assert_eq!(c4.shard_len(16), 4);
        assert_eq!(c4.shard_len(17), 6);
        assert_eq!(c4.shard_len(4 << 20), 1 << 20);
        assert_eq!(c4.shard_len((4 << 20) + 16), (1 << 20) + 4);
        let c3 = Codec::new(3, 1).unwrap();
        assert_eq!(c3.shard_len(10), 4);
        assert_eq!(c3.shard_len(13), 6);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(matches!(
            Codec::new(0, 2),
            Err(CodecError::Parameters { k: 0, m: 2 })
        ));
        assert!(Codec::new(200, 56).is_err());
        assert!(Codec::new(200, 55).is_ok());
        assert!(Codec::new(255, 0).is_ok());
        let c = Codec::new(4, 2).unwrap();
        assert_eq!(
            (c.data_shards(), c.parity_shards(), c.total_shards()),
            (4, 2, 6)
        );
    }

    #[test]
    fn wrong_shard_length_is_rejected() {
        let codec = Codec::new(4, 2).unwrap();
        let data: Vec<u8> = (0..100u8).collect();
        let shards = codec.encode(&data).unwrap();
        let mut present = slots(&shards);
        present[5].as_mut().unwrap().push(0);
        assert!(matches!(
            codec.decode(present.clone(), data.len()),
            Err(CodecError::ShardLength {
                got: 27,
                expected: 26
            })
        ));
        // The declared length must match the shards too.
        assert!(matches!(
            codec.decode(slots(&shards), 200),
            Err(CodecError::ShardLength { .. })
        ));
        present[5] = None;
        present[0].as_mut().unwrap().pop();
        assert!(matches!(
            codec.reconstruct(&mut present),
            Err(CodecError::ShardLength { .. })
        ));
        // Wrong number of slots.
        assert!(codec.decode(slots(&shards[..5]), data.len()).is_err());
    }

    #[test]
    fn m_zero_just_splits() {
        let codec = Codec::new(3, 0).unwrap();
        let data = b"hello, world".to_vec();
        let shards = codec.encode(&data).unwrap();
        assert_eq!(
            shards,
            vec![b"hell".to_vec(), b"o, w".to_vec(), b"orld".to_vec()]
        );
        assert_eq!(codec.decode(slots(&shards), data.len()).unwrap(), data);
        let mut present = slots(&shards);
        present[1] = None;
        assert!(matches!(
            codec.decode(present, data.len()),
            Err(CodecError::TooFewShards {
                present: 2,
                needed: 3
            })
        ));
    }

    #[test]
    fn inconsistent_padding_is_an_error_not_wrong_bytes() {
        let codec = Codec::new(2, 1).unwrap();
        let data = b"abc".to_vec(); // shard_len 2, one padding byte
        let shards = codec.encode(&data).unwrap();
        let mut bad = slots(&shards);
        bad[1].as_mut().unwrap()[1] = 9;
        assert!(codec.decode(bad, data.len()).is_err());
        // Rebuilt through parity from a damaged shard: padding shows the damage.
        let mut bad = slots(&shards);
        bad[1] = None;
        bad[2].as_mut().unwrap()[1] ^= 1;
        assert!(codec.decode(bad, data.len()).is_err());
    }

    #[test]
    fn large_chunk_round_trip() {
        let codec = Codec::new(4, 2).unwrap();
        let data: Vec<u8> = (0..(1 << 20) + 16 + 3)
            .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let shards = codec.encode(&data).unwrap();
        let mut present = slots(&shards);
        present[0] = None;
        present[3] = None;
        assert_eq!(codec.decode(present, data.len()).unwrap(), data);
    }
}
