//! Authentication of S3 requests (AWS Signature Version 4) and the verified request body.
//!
//! `authenticate` checks the `Authorization` header against the caller's secret: canonical
//! request from exactly the client's SignedHeaders, ±15 minute clock window, constant-time
//! comparison. `Authenticated::into_body` then wraps the raw HTTP body in a stream that verifies
//! itself as it is read: signed SHA-256 payloads, aws-chunked bodies with per-chunk signatures,
//! unsigned bodies with `x-amz-checksum-*` trailers, and `x-amz-checksum-*` headers. A failed
//! check surfaces as an `io::Error` wrapping an [`S3Error`] from the stream, at the latest at its
//! end — before the caller commits anything.
//! Owns: SigV4 and payload verification. Must not touch: routing, storage, metadata.

// HELPER-A: implement sigv4.rs, chunked.rs, payload.rs and the bodies below. The pub interface
// in this file is what the rest of the crate uses; keep it.

pub mod chunked;
pub mod payload;
pub mod sigv4;

use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::Stream;

use crate::s3::error::{S3Error, S3Result};

/// Looks up the secret key of an access key id.
pub trait SecretLookup: Send + Sync {
    fn secret_for(&self, access_key: &str) -> Option<String>;
}

/// Who made the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub access_key: String,
}

/// How the payload is protected, from `x-amz-content-sha256`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// A hex SHA-256 the body must match.
    Signed([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned, checksum trailer.
    StreamingUnsignedTrailer,
}

/// A request whose headers passed signature verification.
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub payload: PayloadMode,
    /// What the body verifier needs to check chunk signatures (signing key, scope, seed
    /// signature, request time).
    pub(crate) chain: sigv4::SignatureChain,
}

/// The checksum the client sent for the body (header or trailer), once verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChecksum {
    /// CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.
    pub algorithm: String,
    /// Base64 value, as S3 returns it.
    pub value: String,
}

/// Filled in when the body stream has been read to its end and every check passed.
#[derive(Debug, Default)]
pub struct BodyOutcome {
    pub checksum: OnceLock<Option<VerifiedChecksum>>,
}

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The request body as a verifying stream of decoded payload bytes.
pub struct VerifiedBody {
    pub stream: BodyStream,
    /// Payload length after aws-chunked decoding, when known up front
    /// (`x-amz-decoded-content-length` or `Content-Length`).
    pub length: Option<u64>,
    /// Decoded `Content-MD5`, checked by the caller against the MD5 it computes anyway.
    pub content_md5: Option<[u8; 16]>,
    pub outcome: Arc<BodyOutcome>,
}

/// Checks the request's SigV4 `Authorization` header. `now` is the server's clock.
pub fn authenticate(
    parts: &http::request::Parts,
    secrets: &dyn SecretLookup,
    now: time::OffsetDateTime,
) -> S3Result<Authenticated> {
    sigv4::authenticate(parts, secrets, now)
}

impl Authenticated {
    /// Wraps the raw body. Fails early on malformed checksum headers (InvalidDigest,
    /// InvalidRequest) or a missing length (MissingContentLength).
    pub fn into_body(
        self,
        parts: &http::request::Parts,
        body: axum::body::Body,
    ) -> S3Result<VerifiedBody> {
        payload::verified_body(self, parts, body)
    }
}

/// The S3 error carried by a body stream failure, or IncompleteBody/InternalError otherwise.
pub fn body_error(err: &std::io::Error) -> S3Error {
    if let Some(e) = err.get_ref().and_then(|e| e.downcast_ref::<S3Error>()) {
        return e.clone();
    }
    S3Error::new(
        crate::s3::error::S3ErrorCode::IncompleteBody,
        format!("reading the request body failed: {err}"),
    )
}
