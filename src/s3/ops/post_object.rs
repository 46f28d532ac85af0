//! Browser form uploads (POST Object).

use std::sync::Arc;

use axum::response::Response;

use crate::s3::S3State;
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};

pub async fn post_object(
    _state: &Arc<S3State>,
    _bucket: &str,
    _parts: http::request::Parts,
    _body: axum::body::Body,
) -> S3Result<Response> {
    Err(S3Error::new(
        S3ErrorCode::NotImplemented,
        "PostObject is not implemented by this gateway",
    ))
}
