//! Bucket operations: ListBuckets, CreateBucket (also with Object Lock), HeadBucket,
//! DeleteBucket, GetBucketLocation.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;

use super::{RequestCtx, require_bucket};
use crate::meta::{Bucket, ObjectLockConfig, Versioning};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::xml::{MAX_XML_BODY, XmlWriter};
use crate::s3::{S3State, empty_response, host, iso8601, now_ms, read_small_body, xml_response};

pub async fn list_buckets(state: &Arc<S3State>) -> S3Result<Response> {
    let buckets = state.meta.list_buckets().await?;
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    w.open("Owner")
        .elem("ID", "chunkworks")
        .elem("DisplayName", "chunkworks")
        .close("Owner");
    w.open("Buckets");
    for b in &buckets {
        w.open("Bucket")
            .elem("Name", &b.name)
            .elem("CreationDate", iso8601(b.created_ms))
            .close("Bucket");
    }
    w.close("Buckets");
    Ok(xml_response(w.finish("ListAllMyBucketsResult")))
}

pub async fn create_bucket(
    state: &Arc<S3State>,
    bucket: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    host::check_bucket_name(bucket)?;
    let headers = req.headers().clone();
    let (_, _, body) = req.into_body()?;
    let config = read_small_body(body, MAX_XML_BODY).await?;
    if !config.iter().all(u8::is_ascii_whitespace) {
        // CreateBucketConfiguration: only the location constraint matters, and it must be ours.
        let text = String::from_utf8_lossy(&config);
        if let Some(start) = text.find("<LocationConstraint>") {
            let rest = &text[start + "<LocationConstraint>".len()..];
            let region = rest.split('<').next().unwrap_or_default().trim();
            if !region.is_empty() && region != state.region {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!(
                        "this gateway's region is {}; LocationConstraint {region} is not served",
                        state.region
                    ),
                ));
            }
        } else if !text.contains("CreateBucketConfiguration") {
            return Err(S3Error::new(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed",
            ));
        }
    }
    let mut record = Bucket::new(bucket, now_ms());
    if headers
        .get("x-amz-bucket-object-lock-enabled")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        record.versioning = Versioning::Enabled;
        record.object_lock = Some(ObjectLockConfig::default());
    }
    state.meta.create_bucket(&record).await?;
    let mut r = empty_response(StatusCode::OK);
    if let Ok(v) = format!("/{bucket}").parse() {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(r)
}

pub async fn head_bucket(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let mut r = empty_response(StatusCode::OK);
    if let Ok(v) = state.region.parse() {
        r.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(r)
}

pub async fn delete_bucket(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    state.meta.delete_bucket(bucket).await?;
    state.cors.invalidate(bucket);
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub async fn get_bucket_location(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    // AWS answers an empty constraint for us-east-1.
    let region = if state.region == "us-east-1" {
        ""
    } else {
        state.region.as_str()
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
        crate::s3::xml::escape(region)
    );
    Ok(xml_response(body))
}
