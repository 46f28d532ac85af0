//! Server-side copies: CopyObject and UploadPartCopy.
//!
//! A copy never reuses the source's shards: the source is read through the engine's reader
//! (verify, decode, decrypt) and streamed into the writer under the destination's data key,
//! so the copy gets its own version id, DEK and blob ids and the two objects' lifetimes are
//! independent. Memory stays bounded by the reader's read-ahead and the writer's queues.
//! The copy of a multipart source is one part, so its ETag is the plain MD5 of the content
//! (as AWS does for a copy made in one request).

use std::sync::Arc;

use axum::response::Response;
use futures::TryStreamExt;
use http::HeaderMap;

use super::multipart::MAX_PART_SIZE;
use super::object::{commit_if, precheck_write};
use super::{RequestCtx, check_object_target, object_metadata, quoted};
use crate::meta::ObjectRecord;
use crate::s3::conditions::{self, Preconditions};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::xml::XmlWriter;
use crate::s3::{S3State, iso8601, now_ms, xml_response};

/// Largest source (or source range) one copy request may copy, as AWS limits it.
pub const MAX_COPY_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The object named by `x-amz-copy-source`.
#[derive(Debug, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    /// `?versionId=` of the source: that version instead of the current one.
    pub version_id: Option<String>,
}

fn invalid_copy_source() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
    )
}

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, the key URL-encoded.
pub fn parse_copy_source(value: &str) -> S3Result<CopySource> {
    let (path, query) = match value.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (value, None),
    };
    let version_id = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == "versionId")
            .map(|(_, v)| v.into_owned())
    });
    let decoded = percent_encoding::percent_decode_str(path.strip_prefix('/').unwrap_or(path))
        .decode_utf8()
        .map_err(|_| invalid_copy_source())?;
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid_copy_source)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid_copy_source());
    }
    Ok(CopySource {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id,
    })
}

/// Resolves the copy source of a request: parsed, existing, and passing the
/// `x-amz-copy-source-if-*` conditions.
async fn load_source(state: &S3State, headers: &HeaderMap) -> S3Result<(CopySource, ObjectRecord)> {
    let value = headers
        .get("x-amz-copy-source")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid_copy_source)?;
    let source = parse_copy_source(value.trim())?;
    let mut query = crate::s3::router::Query::new();
    if let Some(v) = &source.version_id {
        query.insert("versionId".into(), v.clone());
    }
    let (record, _) =
        super::versioning::resolve_read(state, &source.bucket, &source.key, &query).await?;
    Preconditions::for_copy_source(headers)
        .check_copy_source(&record.etag, record.last_modified_ms)?;
    Ok((source, record))
}

fn too_large(size: u64) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        format!(
            "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY_SIZE} (got {size})"
        ),
    )
}

/// Streams `range` of `source` into a new part written under `dek`.
async fn copy_range(
    state: &S3State,
    source: &ObjectRecord,
    range: std::ops::Range<u64>,
    dek: &crate::engine::crypto::DataKey,
    part_number: u32,
) -> S3Result<crate::engine::writer::WrittenPart> {
    let length = range.end - range.start;
    // A read failure travels through the writer as the body's io error; `body_error` recovers
    // the S3 error it wraps.
    let stream = state
        .engine
        .read_object(source, range)?
        .map_err(|e| std::io::Error::other(S3Error::from(e)));
    Ok(state
        .engine
        .write_part(dek, part_number, Box::pin(stream), Some(length), length)
        .await?)
}

/// Whether a copy of an object onto itself changes something AWS counts as a change: the
/// metadata (REPLACE), storage class, website redirect or encryption.
fn changes_object(headers: &HeaderMap, replace: bool) -> bool {
    replace
        || [
            "x-amz-storage-class",
            "x-amz-website-redirect-location",
            "x-amz-server-side-encryption",
        ]
        .iter()
        .any(|h| headers.contains_key(*h))
}

pub async fn copy_object(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    check_object_target(state, bucket, key).await?;
    let headers = req.headers();
    let replace = match headers
        .get("x-amz-metadata-directive")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("COPY") => false,
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => true,
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Unknown metadata directive.",
            ));
        }
    };
    // `If-None-Match: *` / `If-Match` are about the destination (AWS conditional writes).
    let condition = conditions::write_condition(headers)?;
    let (source, src) = load_source(state, headers).await?;
    if let Some(condition) = &condition {
        precheck_write(state, bucket, key, condition).await?;
    }
    if source.bucket == bucket && source.key == key && !changes_object(headers, replace) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    if src.size > MAX_COPY_SIZE {
        return Err(too_large(src.size));
    }
    if src.size > state.max_put_size {
        // The configured object size limit binds copies as it binds PUTs.
        return Err(crate::engine::EngineError::TooLarge {
            max: state.max_put_size,
        }
        .into());
    }
    let settings = super::versioning::new_version_settings(state, bucket, headers).await?;
    // x-amz-tagging-directive: COPY (the default) keeps the source's tags, REPLACE takes
    // x-amz-tagging.
    let tags = match headers
        .get("x-amz-tagging-directive")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => src.tags.clone(),
        Some(v) if v.eq_ignore_ascii_case("COPY") => src.tags.clone(),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => super::tagging::tags_from_headers(headers)?,
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Unknown tagging directive.",
            ));
        }
    };
    let (stored_headers, user_meta) = if replace {
        object_metadata(headers)?
    } else {
        (src.headers.clone(), src.user_meta.clone())
    };
    let version = state.engine.new_version();
    let written = copy_range(state, &src, 0..src.size, &version.dek, 1).await?;
    // The content is identical, so a whole-object checksum still holds; a multipart
    // source's composite checksum describes parts the copy does not have.
    let checksum = src
        .checksum
        .clone()
        .filter(|c| c.kind == "FULL_OBJECT" && src.multipart_count == 0);
    let mut part = written.part;
    part.checksum = checksum.clone();
    let record = ObjectRecord {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: version.version_id,
        size: part.size,
        etag: hex::encode(written.md5),
        last_modified_ms: now_ms(),
        headers: stored_headers,
        user_meta,
        checksum: checksum.clone(),
        wrapped_dek: version.wrapped_dek,
        key_id: version.key_id,
        parts: vec![part],
        multipart_count: 0,
        versioned: settings.versioned,
        retention: settings.retention.clone(),
        legal_hold: settings.legal_hold,
        tags,
    };
    commit_if(state, &record, condition.as_ref()).await?;
    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("LastModified", iso8601(record.last_modified_ms))
        .elem("ETag", quoted(&record.etag));
    if let Some(c) = &checksum {
        w.elem("ChecksumType", &c.kind)
            .elem(&format!("Checksum{}", c.algorithm), &c.value);
    }
    let mut r = xml_response(w.finish("CopyObjectResult"));
    super::versioning::version_id_header(
        &mut r,
        settings.bucket_versioning,
        record.s3_version_id(),
    );
    if let Some(v) = &source.version_id
        && let Ok(v) = http::HeaderValue::from_str(v)
    {
        r.headers_mut().insert("x-amz-copy-source-version-id", v);
    }
    Ok(r)
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against a source of `size` bytes.
pub fn parse_copy_range(value: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = match (number(first), number(last)) {
        (Some(a), Some(b)) if a <= b => (a, b),
        _ => return Err(invalid()),
    };
    if last >= size {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
        .with_extra("RangeRequested", value.trim().to_string())
        .with_extra("ActualObjectSize", size.to_string()));
    }
    Ok(first..last + 1)
}

pub async fn upload_part_copy(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part_number: u32,
    req: RequestCtx,
) -> S3Result<Response> {
    super::require_bucket(state, bucket).await?;
    let upload = super::multipart::load_upload(state, bucket, key, upload_id).await?;
    let headers = req.headers();
    let (_, src) = load_source(state, headers).await?;
    let range = match headers.get("x-amz-copy-source-range") {
        None => 0..src.size,
        Some(v) => parse_copy_range(v.to_str().unwrap_or_default(), src.size)?,
    };
    let length = range.end - range.start;
    if length > MAX_COPY_SIZE.min(MAX_PART_SIZE) {
        return Err(too_large(length));
    }
    let dek = state
        .engine
        .data_key(&upload.version_id, &upload.wrapped_dek, &upload.key_id)?;
    let written = copy_range(state, &src, range, &dek, part_number).await?;
    let record = super::multipart::record_part(state, upload_id, written.part).await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", iso8601(record.last_modified_ms))
        .elem("ETag", quoted(&record.part.md5_hex));
    Ok(xml_response(w.finish("CopyPartResult")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_forms() {
        let want = |b: &str, k: &str, v: Option<&str>| CopySource {
            bucket: b.into(),
            key: k.into(),
            version_id: v.map(Into::into),
        };
        assert_eq!(parse_copy_source("b/k").unwrap(), want("b", "k", None));
        assert_eq!(
            parse_copy_source("/b/dir/a%20b%2Bc%3F.txt").unwrap(),
            want("b", "dir/a b+c?.txt", None)
        );
        assert_eq!(
            parse_copy_source("/b/k?versionId=abc").unwrap(),
            want("b", "k", Some("abc"))
        );
        assert_eq!(parse_copy_source("b/%C3%BC").unwrap(), want("b", "ü", None));
        for bad in ["", "b", "/b", "b/", "/k", "%FF/x"] {
            assert_eq!(
                parse_copy_source(bad).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(parse_copy_range("bytes=0-9", 10).unwrap(), 0..10);
        assert_eq!(parse_copy_range("bytes=3-3", 10).unwrap(), 3..4);
        for bad in [
            "bytes=-1",
            "bytes=2-1",
            "bytes=x-y",
            "bytes=1-",
            "0-1",
            "bytes=0-1,3-4",
        ] {
            assert_eq!(
                parse_copy_range(bad, 10).unwrap_err().code,
                S3ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        assert_eq!(
            parse_copy_range("bytes=0-10", 10).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
    }
}
