//! Payload verification: x-amz-content-sha256 modes, Content-MD5, x-amz-checksum-*.

use super::{Authenticated, VerifiedBody};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

pub fn verified_body(
    _auth: Authenticated,
    _parts: &http::request::Parts,
    _body: axum::body::Body,
) -> S3Result<VerifiedBody> {
    Err(S3Error::new(S3ErrorCode::NotImplemented, "todo"))
}
