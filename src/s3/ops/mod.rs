//! Operation handlers, one group per file, and the one dispatch `match` over all operations.
//! Also the boundary mappings of lower-layer errors to S3 errors.

mod attributes;
mod bucket;
mod copy;
pub mod cors;
mod list;
mod multipart;
mod object;
pub mod post_object;
pub mod tagging;
pub mod versioning;

use std::sync::Arc;

use axum::response::Response;
use http::HeaderMap;

use super::auth::{Authenticated, VerifiedBody};
use super::error::{S3Error, S3ErrorCode, S3Result};
use super::router::{Operation, Query};
use super::{S3State, host};
use crate::engine::EngineError;
use crate::meta::{MetaError, Orphans};

/// An authenticated request on its way to a handler.
pub struct RequestCtx {
    pub parts: http::request::Parts,
    pub query: Query,
    pub auth: Authenticated,
    pub body: axum::body::Body,
}

impl RequestCtx {
    /// The verifying body stream (consumes the request body).
    pub fn into_body(self) -> S3Result<(http::request::Parts, Query, VerifiedBody)> {
        let RequestCtx {
            parts,
            query,
            auth,
            body,
        } = self;
        let verified = auth.into_body(&parts, body)?;
        Ok((parts, query, verified))
    }
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }
}

pub async fn dispatch(state: &Arc<S3State>, op: Operation, req: RequestCtx) -> S3Result<Response> {
    let settings_of = match &op {
        Operation::CreateBucket { bucket }
        | Operation::PutBucketVersioning { bucket }
        | Operation::PutObjectLockConfiguration { bucket }
        | Operation::PutBucketTagging { bucket }
        | Operation::DeleteBucketTagging { bucket }
        | Operation::PutBucketCors { bucket }
        | Operation::DeleteBucketCors { bucket } => Some(bucket.clone()),
        _ => None,
    };
    let deleted_bucket = match &op {
        Operation::DeleteBucket { bucket } => Some(bucket.clone()),
        _ => None,
    };
    let response = dispatch_operation(state, op, req).await;
    if response.as_ref().is_ok_and(|r| r.status().is_success()) {
        if let Some(bucket) = settings_of {
            reseal_bucket(state, &bucket).await;
        }
        if let Some(bucket) = deleted_bucket {
            state.engine.delete_bucket_copies(&bucket).await;
        }
    }
    response
}

async fn dispatch_operation(
    state: &Arc<S3State>,
    op: Operation,
    req: RequestCtx,
) -> S3Result<Response> {
    use Operation::*;
    match op {
        ListBuckets => bucket::list_buckets(state).await,
        CreateBucket { bucket } => bucket::create_bucket(state, &bucket, req).await,
        HeadBucket { bucket } => bucket::head_bucket(state, &bucket).await,
        DeleteBucket { bucket } => bucket::delete_bucket(state, &bucket).await,
        GetBucketLocation { bucket } => bucket::get_bucket_location(state, &bucket).await,
        GetBucketVersioning { bucket } => versioning::get_bucket_versioning(state, &bucket).await,
        PutBucketVersioning { bucket } => {
            versioning::put_bucket_versioning(state, &bucket, req).await
        }
        ListObjectVersions { bucket } => {
            versioning::list_object_versions(state, &bucket, &req.query).await
        }
        GetObjectLockConfiguration { bucket } => {
            versioning::get_object_lock_configuration(state, &bucket).await
        }
        PutObjectLockConfiguration { bucket } => {
            versioning::put_object_lock_configuration(state, &bucket, req).await
        }
        GetObjectRetention { bucket, key } => {
            versioning::get_object_retention(state, &bucket, &key, &req.query).await
        }
        PutObjectRetention { bucket, key } => {
            versioning::put_object_retention(state, &bucket, &key, req).await
        }
        GetObjectLegalHold { bucket, key } => {
            versioning::get_object_legal_hold(state, &bucket, &key, &req.query).await
        }
        PutObjectLegalHold { bucket, key } => {
            versioning::put_object_legal_hold(state, &bucket, &key, req).await
        }
        ListObjects { bucket } => list::list_objects(state, &bucket, &req.query, false).await,
        ListObjectsV2 { bucket } => list::list_objects(state, &bucket, &req.query, true).await,
        ListMultipartUploads { bucket } => {
            multipart::list_uploads(state, &bucket, &req.query).await
        }
        DeleteObjects { bucket } => object::delete_objects(state, &bucket, req).await,
        PutObject { bucket, key } => object::put_object(state, &bucket, &key, req).await,
        GetObject { bucket, key } => object::get_object(state, &bucket, &key, req, false).await,
        HeadObject { bucket, key } => object::get_object(state, &bucket, &key, req, true).await,
        DeleteObject { bucket, key } => object::delete_object(state, &bucket, &key, req).await,
        CreateMultipartUpload { bucket, key } => multipart::create(state, &bucket, &key, req).await,
        UploadPart {
            bucket,
            key,
            upload_id,
            part_number,
        } => multipart::upload_part(state, &bucket, &key, &upload_id, part_number, req).await,
        CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::complete(state, &bucket, &key, &upload_id, req).await,
        AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        } => multipart::abort(state, &bucket, &key, &upload_id).await,
        ListParts {
            bucket,
            key,
            upload_id,
        } => multipart::list_parts(state, &bucket, &key, &upload_id, &req.query).await,
        CopyObject { bucket, key } => copy::copy_object(state, &bucket, &key, req).await,
        UploadPartCopy {
            bucket,
            key,
            upload_id,
            part_number,
        } => copy::upload_part_copy(state, &bucket, &key, &upload_id, part_number, req).await,
        GetObjectAttributes { bucket, key } => {
            attributes::get_object_attributes(state, &bucket, &key, req).await
        }
        GetObjectTagging { bucket, key } => {
            tagging::get_object_tagging(state, &bucket, &key, &req.query).await
        }
        PutObjectTagging { bucket, key } => {
            tagging::put_object_tagging(state, &bucket, &key, req).await
        }
        DeleteObjectTagging { bucket, key } => {
            tagging::delete_object_tagging(state, &bucket, &key, &req.query).await
        }
        GetBucketTagging { bucket } => tagging::get_bucket_tagging(state, &bucket).await,
        PutBucketTagging { bucket } => tagging::put_bucket_tagging(state, &bucket, req).await,
        DeleteBucketTagging { bucket } => tagging::delete_bucket_tagging(state, &bucket).await,
        GetBucketCors { bucket } => cors::get_bucket_cors(state, &bucket).await,
        PutBucketCors { bucket } => cors::put_bucket_cors(state, &bucket, req).await,
        DeleteBucketCors { bucket } => cors::delete_bucket_cors(state, &bucket).await,
        CorsPreflight { .. } | PostObject { .. } => Err(S3Error::internal(
            "an unauthenticated operation reached the authenticated dispatch",
        )),
        Unsupported { name } => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            format!("{name} is not implemented by this gateway"),
        )),
    }
}

impl From<MetaError> for S3Error {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::NoSuchBucket => S3Error::new(
                S3ErrorCode::NoSuchBucket,
                "The specified bucket does not exist",
            ),
            MetaError::BucketExists => S3Error::new(
                S3ErrorCode::BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it.",
            ),
            MetaError::BucketNotEmpty => S3Error::new(
                S3ErrorCode::BucketNotEmpty,
                "The bucket you tried to delete is not empty",
            ),
            MetaError::NoSuchUpload => S3Error::new(
                S3ErrorCode::NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
            ),
            MetaError::NoSuchVersion => S3Error::new(
                S3ErrorCode::NoSuchVersion,
                "The specified version does not exist.",
            ),
            MetaError::ObjectLocked(why) => S3Error::new(
                S3ErrorCode::AccessDenied,
                format!("Access Denied because object protected by object lock ({why})"),
            ),
            MetaError::InvalidBucketState(why) => {
                S3Error::new(S3ErrorCode::InvalidBucketState, why)
            }
            MetaError::IsDeleteMarker => S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                "The specified method is not allowed against this resource.",
            ),
            MetaError::PreconditionFailed => super::conditions::precondition_failed("If-Match"),
            MetaError::NoSuchKey => {
                S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
            }
            MetaError::Internal(detail) => S3Error::internal(detail),
        }
    }
}

impl From<EngineError> for S3Error {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Input(io) => super::auth::body_error(&io),
            EngineError::TooLarge { max } => S3Error::new(
                S3ErrorCode::EntityTooLarge,
                format!("Your proposed upload exceeds the maximum allowed size of {max} bytes"),
            ),
            EngineError::Unreadable { .. } | EngineError::Write(_) | EngineError::Location(_) => {
                tracing::error!(error = %e, "storage unavailable");
                S3Error::new(
                    S3ErrorCode::ServiceUnavailable,
                    "Not enough storage locations are available to serve this request",
                )
            }
            EngineError::Key(_) | EngineError::Internal(_) => S3Error::internal(e),
        }
    }
}

/// After a bucket's settings changed (created, versioning, Object Lock, tags, CORS): seal the
/// current bucket record to the locations, so `recover-index` brings the settings back.
pub async fn reseal_bucket(state: &S3State, bucket: &str) {
    match state.meta.get_bucket(bucket).await {
        Ok(Some(b)) => state.engine.write_bucket_copies(&b, super::now_ms()).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "reading a bucket to seal its settings failed"),
    }
}

/// Reads a small XML request body (at most `limit` bytes) through the verifying stream and
/// checks its `Content-MD5`, if sent.
pub async fn read_xml_body(req: RequestCtx, limit: usize) -> S3Result<bytes::Bytes> {
    let (_, _, body) = req.into_body()?;
    let content_md5 = body.content_md5;
    let raw = super::read_small_body(body, limit).await?;
    if let Some(expected) = content_md5 {
        use md5::Digest;
        let got: [u8; 16] = md5::Md5::digest(&raw).into();
        if got != expected {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(raw)
}

/// Fails with NoSuchBucket unless `bucket` exists.
pub async fn require_bucket(state: &S3State, bucket: &str) -> S3Result<()> {
    match state.meta.get_bucket(bucket).await? {
        Some(_) => Ok(()),
        None => Err(MetaError::NoSuchBucket.into()),
    }
}

/// After a commit: tombstone the manifest copies of the replaced version, delete the orphaned
/// shard files and drop their queue entries. Failures stay queued for garbage collection.
pub async fn release_orphans(state: &S3State, orphans: Orphans) {
    if let Some(version_id) = &orphans.replaced_version {
        state
            .engine
            .write_tombstones(version_id, super::now_ms())
            .await;
    }
    if orphans.entries.is_empty() {
        return;
    }
    let blobs: Vec<_> = orphans.entries.iter().map(|(_, b)| b.clone()).collect();
    if state.engine.delete_blobs(&blobs).await {
        let ids: Vec<i64> = orphans.entries.iter().map(|(id, _)| *id).collect();
        if let Err(e) = state.meta.forget_orphans(&ids).await {
            tracing::warn!(error = %e, "dropping orphan queue entries failed; gc will retry");
        }
    }
}

/// Standard headers kept with an object and returned on GET/HEAD.
pub const STORED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-website-redirect-location",
];

/// Largest total size of user metadata (names + values), as AWS limits it.
const MAX_USER_METADATA: usize = 2048;

/// Header name/value pairs as kept in a manifest.
pub type HeaderPairs = Vec<(String, String)>;

/// The stored standard headers and `x-amz-meta-*` pairs of a request.
pub fn object_metadata(headers: &HeaderMap) -> S3Result<(HeaderPairs, HeaderPairs)> {
    let mut stored = Vec::new();
    let mut user = Vec::new();
    let mut user_size = 0;
    for (name, value) in headers {
        let name = name.as_str();
        let text = || {
            value.to_str().map(str::to_string).map_err(|_| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("header {name} is not valid text"),
                )
            })
        };
        if name == "content-encoding" {
            // `aws-chunked` describes the transfer, not the object: S3 drops it.
            let kept: Vec<String> = text()?
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
                .map(str::to_string)
                .collect();
            if !kept.is_empty() {
                stored.push((name.to_string(), kept.join(",")));
            }
        } else if STORED_HEADERS.contains(&name) {
            stored.push((name.to_string(), text()?));
        } else if let Some(meta) = name.strip_prefix("x-amz-meta-") {
            let value = text()?;
            user_size += meta.len() + value.len();
            user.push((meta.to_string(), value));
        }
    }
    if user_size > MAX_USER_METADATA {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Your metadata headers exceed the maximum allowed metadata size (2 KB)",
        ));
    }
    Ok((stored, user))
}

/// Validates the key and the bucket's existence.
pub async fn check_object_target(state: &S3State, bucket: &str, key: &str) -> S3Result<()> {
    host::check_key(key)?;
    require_bucket(state, bucket).await
}

/// Quoted ETag header value.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}
