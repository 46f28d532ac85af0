//! Payload verification: x-amz-content-sha256 modes, Content-MD5, x-amz-checksum-*.
//!
//! The body is wrapped in [`VerifyingStream`], which counts the decoded bytes, feeds only the
//! hashes that were asked for (the signed SHA-256, one flexible checksum) and checks them when
//! the source ends. Content-MD5 is only decoded here: the caller computes the MD5 anyway (for
//! the ETag) and compares. Failures are `io::Error::other(S3Error)`, recovered by `body_error`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use sha2::Digest;

use super::chunked::{AwsChunkedDecoder, ChunkSigning};
use super::{Authenticated, BodyOutcome, BodyStream, PayloadMode, VerifiedBody, VerifiedChecksum};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

/// A flexible-checksum algorithm (`x-amz-checksum-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// The header / trailer name.
    fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The upper-case name S3 uses in messages and responses.
    fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    fn from_header(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.header() == name)
    }

    fn hasher(self) -> Hasher {
        match self {
            Self::Crc32 => Hasher::Crc(
                crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
                4,
            ),
            Self::Crc32c => {
                Hasher::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi), 4)
            }
            Self::Crc64Nvme => {
                Hasher::Crc(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme), 8)
            }
            Self::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// Decodes a base64 value of the right length, else InvalidRequest.
    fn parse_value(self, value: &str) -> S3Result<Vec<u8>> {
        match BASE64.decode(value.trim()) {
            Ok(bytes) if bytes.len() == self.digest_len() => Ok(bytes),
            _ => Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", self.header()),
            )),
        }
    }
}

enum Hasher {
    /// A CRC digest and its width in bytes (big-endian on the wire).
    Crc(crc_fast::Digest, usize),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc(d, _) => d.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc(d, width) => d.finalize().to_be_bytes()[8 - width..].to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// The checksum S3 gives a multipart object whose parts all carry a checksum of `algorithm`
/// (its upper-case name): the digest of the parts' decoded digests in part order, base64, then
/// `-<part count>` (type COMPOSITE). `None` when the algorithm has no composite form
/// (CRC64NVME is full-object only) or a part value does not decode.
pub fn composite_checksum<'a>(
    algorithm: &str,
    part_values: impl ExactSizeIterator<Item = &'a str>,
) -> Option<String> {
    let alg = ChecksumAlgorithm::ALL
        .into_iter()
        .find(|a| a.name() == algorithm)
        .filter(|a| *a != ChecksumAlgorithm::Crc64Nvme)?;
    let count = part_values.len();
    let mut hasher = alg.hasher();
    for value in part_values {
        let digest = BASE64.decode(value).ok()?;
        if digest.len() != alg.digest_len() {
            return None;
        }
        hasher.update(&digest);
    }
    Some(format!("{}-{count}", BASE64.encode(hasher.finish())))
}

/// A checksum being computed, with the expected value when it came in a header.
struct PendingChecksum {
    algorithm: ChecksumAlgorithm,
    hasher: Hasher,
    /// `None`: it arrives as a trailer.
    expected: Option<Vec<u8>>,
}

fn header_str<'a>(parts: &'a http::request::Parts, name: &str) -> S3Result<Option<&'a str>> {
    match parts.headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("the {name} header is not valid ASCII"),
            )
        }),
    }
}

fn parse_content_md5(parts: &http::request::Parts) -> S3Result<Option<[u8; 16]>> {
    let Some(value) = header_str(parts, "content-md5").ok().flatten() else {
        if parts.headers.contains_key("content-md5") {
            return Err(invalid_digest());
        }
        return Ok(None);
    };
    match BASE64.decode(value.trim()) {
        Ok(bytes) => bytes.try_into().map(Some).map_err(|_| invalid_digest()),
        Err(_) => Err(invalid_digest()),
    }
}

fn invalid_digest() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidDigest,
        "The Content-MD5 you specified is not valid.",
    )
}

fn multiple_checksums() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
    )
}

/// The checksum to compute: from an `x-amz-checksum-*` header, or declared in `x-amz-trailer`.
fn parse_checksum(
    parts: &http::request::Parts,
    trailer_mode: bool,
) -> S3Result<Option<PendingChecksum>> {
    let mut found = None;
    for algorithm in ChecksumAlgorithm::ALL {
        let mut values = parts.headers.get_all(algorithm.header()).iter();
        let Some(value) = values.next() else {
            continue;
        };
        if found.is_some() || values.next().is_some() {
            return Err(multiple_checksums());
        }
        let value = value.to_str().map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", algorithm.header()),
            )
        })?;
        found = Some(PendingChecksum {
            algorithm,
            hasher: algorithm.hasher(),
            expected: Some(algorithm.parse_value(value)?),
        });
    }
    if let Some(declared) = header_str(parts, "x-amz-trailer")? {
        for name in declared.split(',').map(|n| n.trim().to_ascii_lowercase()) {
            if name.is_empty() {
                continue;
            }
            if !trailer_mode {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "x-amz-trailer needs x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER \
                     or STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                ));
            }
            let Some(algorithm) = ChecksumAlgorithm::from_header(&name) else {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "The value specified in the x-amz-trailer header is not supported: {name}"
                    ),
                ));
            };
            if found.is_some() {
                return Err(multiple_checksums());
            }
            found = Some(PendingChecksum {
                algorithm,
                hasher: algorithm.hasher(),
                expected: None,
            });
        }
    }
    Ok(found)
}

fn parse_length(parts: &http::request::Parts, name: &str) -> S3Result<Option<u64>> {
    match header_str(parts, name)? {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("the {name} header is not a valid length"),
            )
        }),
    }
}

pub fn verified_body(
    auth: Authenticated,
    parts: &http::request::Parts,
    body: axum::body::Body,
) -> S3Result<VerifiedBody> {
    let content_md5 = parse_content_md5(parts)?;
    let trailer_mode = matches!(
        auth.payload,
        PayloadMode::StreamingSignedTrailer | PayloadMode::StreamingUnsignedTrailer
    );
    let checksum = parse_checksum(parts, trailer_mode)?;
    let streaming = matches!(
        auth.payload,
        PayloadMode::StreamingSigned
            | PayloadMode::StreamingSignedTrailer
            | PayloadMode::StreamingUnsignedTrailer
    );
    let length = if streaming {
        Some(
            parse_length(parts, "x-amz-decoded-content-length")?.ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::MissingContentLength,
                    "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.",
                )
            })?,
        )
    } else {
        parse_length(parts, "content-length")?
    };

    let raw: BodyStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let chain = auth.chain;
    let chunked =
        |raw: BodyStream, signing| Source::Chunked(Box::new(AwsChunkedDecoder::new(raw, signing)));
    let (source, sha256) = match auth.payload {
        PayloadMode::Unsigned => (Source::Raw(raw), None),
        PayloadMode::Signed(expected) => (Source::Raw(raw), Some((sha2::Sha256::new(), expected))),
        PayloadMode::StreamingSigned => (
            chunked(
                raw,
                ChunkSigning::Signed {
                    chain,
                    trailer: false,
                },
            ),
            None,
        ),
        PayloadMode::StreamingSignedTrailer => (
            chunked(
                raw,
                ChunkSigning::Signed {
                    chain,
                    trailer: true,
                },
            ),
            None,
        ),
        PayloadMode::StreamingUnsignedTrailer => (chunked(raw, ChunkSigning::Unsigned), None),
    };
    let outcome = Arc::new(BodyOutcome::default());
    let stream = VerifyingStream {
        source,
        expected_len: length,
        count: 0,
        sha256,
        checksum,
        outcome: outcome.clone(),
        finished: false,
    };
    Ok(VerifiedBody {
        stream: Box::pin(stream),
        length,
        content_md5,
        outcome,
    })
}

enum Source {
    Raw(BodyStream),
    Chunked(Box<AwsChunkedDecoder>),
}

/// Passes decoded payload bytes on and checks length, SHA-256 and checksum at the end.
struct VerifyingStream {
    source: Source,
    expected_len: Option<u64>,
    count: u64,
    sha256: Option<(sha2::Sha256, [u8; 32])>,
    checksum: Option<PendingChecksum>,
    outcome: Arc<BodyOutcome>,
    finished: bool,
}

impl VerifyingStream {
    fn finish(&mut self) -> S3Result<()> {
        if let Some(expected) = self.expected_len
            && self.count < expected
        {
            return Err(S3Error::new(
                S3ErrorCode::IncompleteBody,
                format!(
                    "You did not provide the number of bytes specified by the Content-Length HTTP header: got {} of {expected}",
                    self.count
                ),
            ));
        }
        if let Some((hasher, expected)) = self.sha256.take() {
            let computed: [u8; 32] = hasher.finalize().into();
            if computed != expected {
                return Err(S3Error::new(
                    S3ErrorCode::XAmzContentSHA256Mismatch,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
                .with_extra("ClientComputedContentSHA256", hex::encode(expected))
                .with_extra("S3ComputedContentSHA256", hex::encode(computed)));
            }
        }
        let mut trailers = match &mut self.source {
            Source::Chunked(d) => d.take_trailers(),
            Source::Raw(_) => Vec::new(),
        };
        let verified = match self.checksum.take() {
            None => None,
            Some(pending) => {
                let algorithm = pending.algorithm;
                let expected = match pending.expected {
                    Some(e) => e,
                    None => {
                        let Some(i) = trailers.iter().position(|(n, _)| n == algorithm.header())
                        else {
                            return Err(S3Error::new(
                                S3ErrorCode::InvalidRequest,
                                format!(
                                    "The {} trailer declared in x-amz-trailer was not sent.",
                                    algorithm.header()
                                ),
                            ));
                        };
                        let (_, value) = trailers.swap_remove(i);
                        algorithm.parse_value(&value)?
                    }
                };
                let computed = pending.hasher.finish();
                if computed != expected {
                    return Err(S3Error::new(
                        S3ErrorCode::BadDigest,
                        format!(
                            "The {} you specified did not match the calculated checksum.",
                            algorithm.name()
                        ),
                    ));
                }
                Some(VerifiedChecksum {
                    algorithm: algorithm.name().to_owned(),
                    value: BASE64.encode(&computed),
                })
            }
        };
        // A checksum trailer nobody declared can't have been computed.
        if let Some((name, _)) = trailers
            .iter()
            .find(|(n, _)| ChecksumAlgorithm::from_header(n).is_some())
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("The {name} trailer was not declared in x-amz-trailer."),
            ));
        }
        let _ = self.outcome.checksum.set(verified);
        Ok(())
    }
}

impl Stream for VerifyingStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        let next = match &mut this.source {
            Source::Raw(s) => s.as_mut().poll_next(cx),
            Source::Chunked(d) => Pin::new(d).poll_next(cx),
        };
        let fail = |this: &mut Self, e: S3Error| {
            this.finished = true;
            Poll::Ready(Some(Err(std::io::Error::other(e))))
        };
        match next {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(data))) => {
                this.count += data.len() as u64;
                if let Some(expected) = this.expected_len
                    && this.count > expected
                {
                    return fail(
                        this,
                        S3Error::new(
                            S3ErrorCode::InvalidRequest,
                            format!(
                                "the request body is longer than the declared length of {expected} bytes"
                            ),
                        ),
                    );
                }
                if let Some((h, _)) = &mut this.sha256 {
                    h.update(&data);
                }
                if let Some(c) = &mut this.checksum {
                    c.hasher.update(&data);
                }
                Poll::Ready(Some(Ok(data)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => match this.finish() {
                Ok(()) => {
                    this.finished = true;
                    Poll::Ready(None)
                }
                Err(e) => fail(this, e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::auth::chunked::tests::{
        collect, encode, example_streaming_body, example_streaming_parts,
    };
    use crate::s3::auth::sigv4::EMPTY_SHA256;
    use crate::s3::auth::sigv4::tests::{example_time, keys, sign_request};
    use crate::s3::auth::{authenticate, body_error};

    const DATE: &str = "20130524T000000Z";

    /// Authenticates a request signed by the test signer and wraps `body`.
    fn run(
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (S3Result<VerifiedBody>, http::request::Parts) {
        let mut all = vec![("host", "localhost"), ("x-amz-date", DATE)];
        all.extend_from_slice(headers);
        let p = sign_request(
            "PUT",
            "/bucket/key",
            &all,
            &["host", "x-amz-content-sha256", "x-amz-date"],
            DATE,
        );
        let auth = authenticate(&p, &keys(), example_time()).unwrap();
        (auth.into_body(&p, axum::body::Body::from(body)), p)
    }

    fn read(v: VerifiedBody) -> (Result<Vec<u8>, S3Error>, Option<VerifiedChecksum>) {
        let VerifiedBody {
            stream, outcome, ..
        } = v;
        let r = futures::executor::block_on(collect(stream));
        (r, outcome.checksum.get().cloned().flatten())
    }

    fn sha_hex(data: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(data))
    }

    #[test]
    fn unsigned_payload_passes_through() {
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("content-length", "5"),
            ],
            b"hello".to_vec(),
        );
        let v = v.unwrap();
        assert_eq!(v.length, Some(5));
        assert!(v.content_md5.is_none());
        let (r, c) = read(v);
        assert_eq!(r.unwrap(), b"hello");
        assert_eq!(c, None);
    }

    #[test]
    fn signed_payload_sha_checked() {
        let good = sha_hex(b"hello");
        let (v, _) = run(&[("x-amz-content-sha256", &good)], b"hello".to_vec());
        assert_eq!(read(v.unwrap()).0.unwrap(), b"hello");

        let (v, _) = run(&[("x-amz-content-sha256", &good)], b"hellO".to_vec());
        let err = read(v.unwrap()).0.unwrap_err();
        assert_eq!(err.code, S3ErrorCode::XAmzContentSHA256Mismatch);

        let (v, _) = run(&[("x-amz-content-sha256", EMPTY_SHA256)], Vec::new());
        assert_eq!(read(v.unwrap()).0.unwrap(), b"");
    }

    #[test]
    fn length_checked() {
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("content-length", "6"),
            ],
            b"hello".to_vec(),
        );
        assert_eq!(
            read(v.unwrap()).0.unwrap_err().code,
            S3ErrorCode::IncompleteBody
        );
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("content-length", "4"),
            ],
            b"hello".to_vec(),
        );
        assert_eq!(
            read(v.unwrap()).0.unwrap_err().code,
            S3ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn content_md5_decoded_not_checked() {
        let md5 = "XUFAKrxLKna5cZ2REBfFkg=="; // md5("hello")
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("content-md5", md5),
            ],
            b"hello".to_vec(),
        );
        let v = v.unwrap();
        assert_eq!(
            v.content_md5.map(hex::encode).as_deref(),
            Some("5d41402abc4b2a76b9719d911017c592")
        );
        for bad in ["nope!", "AAAA", "XUFAKrxLKna5cZ2REBfFkgAA"] {
            let (v, _) = run(
                &[
                    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                    ("content-md5", bad),
                ],
                Vec::new(),
            );
            assert_eq!(v.err().unwrap().code, S3ErrorCode::InvalidDigest, "{bad}");
        }
    }

    #[test]
    fn checksum_headers() {
        // Known values for "hello world".
        let cases = [
            ("x-amz-checksum-crc32", "DUoRhQ==", "CRC32"),
            ("x-amz-checksum-crc32c", "yZRlqg==", "CRC32C"),
            (
                "x-amz-checksum-sha1",
                "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
                "SHA1",
            ),
            (
                "x-amz-checksum-sha256",
                "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
                "SHA256",
            ),
        ];
        for (name, value, alg) in cases {
            let (v, _) = run(
                &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), (name, value)],
                b"hello world".to_vec(),
            );
            let (r, c) = read(v.unwrap());
            assert_eq!(r.unwrap(), b"hello world");
            assert_eq!(
                c,
                Some(VerifiedChecksum {
                    algorithm: alg.into(),
                    value: value.into()
                })
            );
            let (v, _) = run(
                &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), (name, value)],
                b"hello World".to_vec(),
            );
            let (r, c) = read(v.unwrap());
            let err = r.unwrap_err();
            assert_eq!(err.code, S3ErrorCode::BadDigest);
            assert_eq!(
                err.message,
                format!("The {alg} you specified did not match the calculated checksum.")
            );
            assert_eq!(c, None);
        }
        // CRC64NVME: compare with crc-fast directly.
        let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, b"hello world");
        let value = BASE64.encode(crc.to_be_bytes());
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-checksum-crc64nvme", &value),
            ],
            b"hello world".to_vec(),
        );
        assert_eq!(read(v.unwrap()).1.unwrap().value, value);
    }

    #[test]
    fn checksum_header_errors() {
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-checksum-crc32", "AAAA"),
            ],
            Vec::new(),
        );
        assert_eq!(v.err().unwrap().code, S3ErrorCode::InvalidRequest);
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-checksum-crc32", "DUoRhQ=="),
                ("x-amz-checksum-crc32c", "yZRlqg=="),
            ],
            Vec::new(),
        );
        assert_eq!(v.err().unwrap().code, S3ErrorCode::InvalidRequest);
        // Not a checksum value: ignored here.
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-checksum-type", "FULL_OBJECT"),
            ],
            Vec::new(),
        );
        assert_eq!(read(v.unwrap()).1, None);
        // A trailer needs a trailer mode.
        let (v, _) = run(
            &[
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
            Vec::new(),
        );
        assert_eq!(v.err().unwrap().code, S3ErrorCode::InvalidRequest);
    }

    fn trailer_headers<'a>(len: &'a str, trailer: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", len),
            ("x-amz-trailer", trailer),
        ]
    }

    #[test]
    fn unsigned_trailer_checksum_good_and_bad() {
        let body = encode(
            b"hello world",
            &[5],
            None,
            &[("x-amz-checksum-crc32", "DUoRhQ==")],
        );
        let (v, _) = run(&trailer_headers("11", "x-amz-checksum-crc32"), body);
        let v = v.unwrap();
        assert_eq!(v.length, Some(11));
        let (r, c) = read(v);
        assert_eq!(r.unwrap(), b"hello world");
        assert_eq!(
            c.unwrap(),
            VerifiedChecksum {
                algorithm: "CRC32".into(),
                value: "DUoRhQ==".into()
            }
        );

        let body = encode(
            b"hello world",
            &[5],
            None,
            &[("x-amz-checksum-crc32", "DUoRhA==")],
        );
        let (v, _) = run(&trailer_headers("11", "x-amz-checksum-crc32"), body);
        assert_eq!(read(v.unwrap()).0.unwrap_err().code, S3ErrorCode::BadDigest);

        let body = encode(
            b"hello world",
            &[5],
            None,
            &[("x-amz-checksum-crc32", "!!")],
        );
        let (v, _) = run(&trailer_headers("11", "x-amz-checksum-crc32"), body);
        assert_eq!(
            read(v.unwrap()).0.unwrap_err().code,
            S3ErrorCode::InvalidRequest
        );

        // Declared, not sent.
        let body = encode(b"hello world", &[5], None, &[]);
        let (v, _) = run(&trailer_headers("11", "x-amz-checksum-crc32"), body);
        assert_eq!(
            read(v.unwrap()).0.unwrap_err().code,
            S3ErrorCode::InvalidRequest
        );

        // Decoded length mismatch.
        let body = encode(
            b"hello world",
            &[5],
            None,
            &[("x-amz-checksum-crc32", "DUoRhQ==")],
        );
        let (v, _) = run(&trailer_headers("12", "x-amz-checksum-crc32"), body);
        assert_eq!(
            read(v.unwrap()).0.unwrap_err().code,
            S3ErrorCode::IncompleteBody
        );
    }

    #[test]
    fn streaming_needs_decoded_length() {
        let (v, _) = run(
            &[("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")],
            Vec::new(),
        );
        assert_eq!(v.err().unwrap().code, S3ErrorCode::MissingContentLength);
    }

    #[test]
    fn aws_streaming_example_end_to_end() {
        let p = example_streaming_parts();
        let auth = authenticate(&p, &keys(), example_time()).unwrap();
        let v = auth
            .into_body(&p, axum::body::Body::from(example_streaming_body()))
            .unwrap();
        assert_eq!(v.length, Some(66560));
        let (r, c) = read(v);
        let out = r.unwrap();
        assert_eq!(out.len(), 66560);
        assert!(out.iter().all(|&b| b == b'a'));
        assert_eq!(c, None);

        // A changed byte in the second chunk fails the stream.
        let mut body = example_streaming_body();
        body[66000] = b'b'; // inside the second chunk's data
        let auth = authenticate(&p, &keys(), example_time()).unwrap();
        let v = auth.into_body(&p, axum::body::Body::from(body)).unwrap();
        let (r, c) = read(v);
        assert_eq!(r.unwrap_err().code, S3ErrorCode::SignatureDoesNotMatch);
        assert_eq!(c, None);
    }

    fn signed_trailer_body(checksum: &str) -> Result<(Vec<u8>, Option<VerifiedChecksum>), S3Error> {
        let headers = [
            ("host", "localhost"),
            ("x-amz-date", DATE),
            (
                "x-amz-content-sha256",
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            ),
            ("x-amz-decoded-content-length", "11"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
        ];
        let signed = [
            "host",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-decoded-content-length",
            "x-amz-trailer",
        ];
        let p = sign_request("PUT", "/bucket/key", &headers, &signed, DATE);
        let auth = authenticate(&p, &keys(), example_time()).unwrap();
        assert_eq!(auth.payload, PayloadMode::StreamingSignedTrailer);
        let body = encode(
            b"hello world",
            &[4],
            Some(&auth.chain),
            &[("x-amz-checksum-crc32c", checksum)],
        );
        let (r, c) = read(auth.into_body(&p, axum::body::Body::from(body)).unwrap());
        r.map(|out| (out, c))
    }

    #[test]
    fn signed_trailer_end_to_end() {
        let (out, c) = signed_trailer_body("yZRlqg==").unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(
            c.unwrap(),
            VerifiedChecksum {
                algorithm: "CRC32C".into(),
                value: "yZRlqg==".into()
            }
        );
        // Correctly signed, but the checksum is wrong.
        assert_eq!(
            signed_trailer_body("yZRlqw==").unwrap_err().code,
            S3ErrorCode::BadDigest
        );
    }

    #[test]
    fn body_error_recovers_s3_error() {
        let e = std::io::Error::other(S3Error::new(S3ErrorCode::BadDigest, "x"));
        assert_eq!(body_error(&e).code, S3ErrorCode::BadDigest);
        let e = std::io::Error::other("socket closed");
        assert_eq!(body_error(&e).code, S3ErrorCode::IncompleteBody);
    }
}
