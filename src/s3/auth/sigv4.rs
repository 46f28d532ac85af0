//! SigV4 header authentication: canonical request, string to sign, signature check.

use super::{Authenticated, SecretLookup};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

/// State the aws-chunked verifier needs to check chunk and trailer signatures.
#[derive(Clone, Debug)]
pub struct SignatureChain {}

pub fn authenticate(
    _parts: &http::request::Parts,
    _secrets: &dyn SecretLookup,
    _now: time::OffsetDateTime,
) -> S3Result<Authenticated> {
    Err(S3Error::new(S3ErrorCode::NotImplemented, "todo"))
}
