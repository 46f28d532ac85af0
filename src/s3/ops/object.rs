//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderValue, StatusCode};

use super::{
    RequestCtx, check_object_target, object_metadata, quoted, release_orphans, require_bucket,
    versioning,
};
use crate::meta::{Checksum, MetaError, ObjectRecord, WriteCondition};
use crate::s3::auth::VerifiedBody;
use crate::s3::conditions::{self, Preconditions, Verdict};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::range::{self, RangeRequest};
use crate::s3::xml::{self, MAX_XML_BODY, XmlWriter};
use crate::s3::{S3State, empty_response, http_date, now_ms, xml_response};

/// Checks Content-MD5 and turns the verified checksum into its stored form.
pub fn body_digests(body: &VerifiedBody, md5: &[u8; 16], kind: &str) -> S3Result<Option<Checksum>> {
    if let Some(expected) = body.content_md5
        && &expected != md5
    {
        return Err(S3Error::new(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(body
        .outcome
        .checksum
        .get()
        .cloned()
        .flatten()
        .map(|c| Checksum {
            algorithm: c.algorithm,
            value: c.value,
            kind: kind.to_string(),
        }))
}

/// Declared body length, required by S3 for uploads.
pub fn declared_length(body: &VerifiedBody, max: u64) -> S3Result<u64> {
    let len = body.length.ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the Content-Length HTTP header.",
        )
    })?;
    if len > max {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            format!("Your proposed upload exceeds the maximum allowed size of {max} bytes"),
        ));
    }
    Ok(len)
}

pub fn checksum_header(r: &mut Response, c: &Checksum) {
    let name = format!("x-amz-checksum-{}", c.algorithm.to_ascii_lowercase());
    if let (Ok(n), Ok(v)) = (
        http::HeaderName::try_from(name),
        HeaderValue::from_str(&c.value),
    ) {
        r.headers_mut().insert(n, v);
    }
    if let Ok(v) = HeaderValue::from_str(&c.kind) {
        r.headers_mut().insert("x-amz-checksum-type", v);
    }
}

pub async fn put_object(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    check_object_target(state, bucket, key).await?;
    let (headers, user_meta) = object_metadata(req.headers())?;
    let settings = versioning::new_version_settings(state, bucket, req.headers()).await?;
    let condition = conditions::write_condition(req.headers())?;
    if let Some(condition) = &condition {
        // Refuse early rather than after streaming the body; the commit checks again.
        precheck_write(state, bucket, key, condition).await?;
    }
    let tags = super::tagging::tags_from_headers(req.headers())?;
    let version = state.engine.new_version();
    let (written, checksum) = receive_part(
        state,
        req,
        &version.dek,
        1,
        state.max_put_size,
        "FULL_OBJECT",
    )
    .await?;
    let record = ObjectRecord {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: version.version_id,
        size: written.part.size,
        etag: hex::encode(written.md5),
        last_modified_ms: now_ms(),
        headers,
        user_meta,
        checksum: checksum.clone(),
        wrapped_dek: version.wrapped_dek,
        key_id: version.key_id,
        parts: vec![written.part],
        multipart_count: 0,
        versioned: settings.versioned,
        retention: settings.retention.clone(),
        legal_hold: settings.legal_hold,
        tags,
    };
    commit_if(state, &record, condition.as_ref()).await?;
    let mut r = empty_response(StatusCode::OK);
    versioning::version_id_header(&mut r, settings.bucket_versioning, record.s3_version_id());
    r.headers_mut().insert(
        http::header::ETAG,
        HeaderValue::from_str(&quoted(&record.etag)).expect("hex"),
    );
    if let Some(c) = &checksum {
        checksum_header(&mut r, c);
    }
    Ok(r)
}

/// Streams the request body into the shard files of one part and checks its digests. On a
/// digest mismatch the part's shards are removed again. Returns the written part (its checksum
/// field set) and the verified client checksum, stored with `checksum_kind`.
pub async fn receive_part(
    state: &S3State,
    req: RequestCtx,
    dek: &crate::engine::crypto::DataKey,
    part_number: u32,
    max_size: u64,
    checksum_kind: &str,
) -> S3Result<(crate::engine::writer::WrittenPart, Option<Checksum>)> {
    let (_, _, mut body) = req.into_body()?;
    let length = declared_length(&body, max_size)?;
    let stream = std::mem::replace(&mut body.stream, Box::pin(futures::stream::empty()));
    let mut written = state
        .engine
        .write_part(dek, part_number, stream, Some(length), max_size)
        .await?;
    match body_digests(&body, &written.md5, checksum_kind) {
        Ok(checksum) => {
            written.part.checksum = checksum.clone();
            Ok((written, checksum))
        }
        Err(e) => {
            discard(state, &written.part).await;
            Err(e)
        }
    }
}

/// Deletes the shard files of a part that will not be committed.
pub async fn discard(state: &S3State, part: &crate::meta::StoredPart) {
    let orphan = crate::meta::OrphanBlob {
        blob_id: part.blob_id.clone(),
        part_number: part.part_number,
        shards: part.shards.clone(),
    };
    state
        .engine
        .delete_blobs(std::slice::from_ref(&orphan))
        .await;
}

/// Shard files are written; now the manifest copies, then the one metadata transaction, then
/// the old version's shards. On failure the new shards are removed and nothing is visible.
/// `condition` (a conditional write) is checked inside the metadata transaction.
pub async fn commit_if(
    state: &S3State,
    record: &ObjectRecord,
    condition: Option<&WriteCondition>,
) -> S3Result<()> {
    commit_with(state, record, None, condition).await
}

/// Checks a write condition against the current version before any body is read. Not atomic:
/// the commit checks again inside its transaction.
pub async fn precheck_write(
    state: &S3State,
    bucket: &str,
    key: &str,
    condition: &WriteCondition,
) -> S3Result<()> {
    let current = state.meta.get_object(bucket, key).await?;
    condition
        .check(current.as_ref())
        .map_err(|e| condition_error(e, condition))
}

/// The S3 answer to a meta error of a conditional commit.
fn condition_error(e: MetaError, condition: &WriteCondition) -> S3Error {
    match e {
        MetaError::PreconditionFailed => conditions::write_condition_failed(condition),
        other => other.into(),
    }
}

/// Like [`commit_if`], for a multipart upload: the transaction also removes the upload. On a
/// failed commit the parts stay with the upload (the client may retry or abort).
pub async fn commit_parts_record(
    state: &S3State,
    upload_id: &str,
    record: &ObjectRecord,
    condition: Option<&WriteCondition>,
) -> S3Result<()> {
    commit_with(state, record, Some(upload_id), condition).await
}

async fn commit_with(
    state: &S3State,
    record: &ObjectRecord,
    upload_id: Option<&str>,
    condition: Option<&WriteCondition>,
) -> S3Result<()> {
    let result = async {
        state
            .engine
            .write_manifest_copies(record, record.last_modified_ms)
            .await?;
        let committed = match (upload_id, condition) {
            (None, None) => state.meta.put_object(record).await,
            (None, Some(c)) => state.meta.put_object_if(record, c).await,
            (Some(id), None) => state.meta.complete_upload(id, record).await,
            (Some(id), Some(c)) => state.meta.complete_upload_if(id, record, c).await,
        };
        committed.map_err(|e| match condition {
            Some(c) => condition_error(e, c),
            None => e.into(),
        })
    }
    .await;
    match result {
        Ok(orphans) => {
            release_orphans(state, orphans).await;
            Ok(())
        }
        Err(e) => {
            if upload_id.is_none() {
                for part in &record.parts {
                    discard(state, part).await;
                }
            }
            state
                .engine
                .write_tombstones(&record.version_id, now_ms())
                .await;
            Err(e)
        }
    }
}

pub async fn get_object(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
    head: bool,
) -> S3Result<Response> {
    let (record, bucket_versioning) =
        versioning::resolve_read(state, bucket, key, &req.query).await?;
    let headers = req.headers();
    match Preconditions::for_get(headers).evaluate(&record.etag, record.last_modified_ms) {
        Verdict::Proceed => {}
        Verdict::NotModified(_) => return Ok(not_modified(&record)),
        Verdict::Failed(header) => return Err(conditions::precondition_failed(header)),
    }
    let range_header = headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, range) = match req.query.get("partNumber") {
        Some(n) => match part_range(&record, n, range_header)? {
            r if r.is_empty() => (StatusCode::OK, r),
            r => (StatusCode::PARTIAL_CONTENT, r),
        },
        None => match range::parse(range_header, record.size) {
            RangeRequest::Whole => (StatusCode::OK, 0..record.size),
            RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, r),
            RangeRequest::Unsatisfiable => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                )
                .with_extra(
                    "RangeRequested",
                    range_header.unwrap_or_default().to_string(),
                )
                .with_extra("ActualObjectSize", record.size.to_string()));
            }
        },
    };
    let want_checksum = headers
        .get("x-amz-checksum-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"));

    let body = if head || range.is_empty() {
        Body::empty()
    } else {
        let mut stream = Box::pin(state.engine.read_object(&record, range.clone())?);
        // Fetch the first chunk before answering, so an unreadable object gets an error status
        // rather than a truncated 200.
        let first = match stream.next().await {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(e.into()),
            None => bytes::Bytes::new(),
        };
        let rest = stream.map_err(|e| {
            tracing::error!(error = %e, "object read failed mid-stream");
            std::io::Error::other(e.to_string())
        });
        Body::from_stream(
            futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(rest),
        )
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    let set = |h: &mut http::HeaderMap, name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    };
    set(h, "content-length", &(range.end - range.start).to_string());
    set(h, "etag", &quoted(&record.etag));
    set(h, "last-modified", &http_date(record.last_modified_ms));
    set(h, "accept-ranges", "bytes");
    if !record.headers.iter().any(|(n, _)| n == "content-type") {
        set(h, "content-type", "binary/octet-stream");
    }
    for (name, value) in &record.headers {
        set(h, name, value);
    }
    for (name, value) in &record.user_meta {
        set(h, &format!("x-amz-meta-{name}"), value);
    }
    for (param, header) in RESPONSE_OVERRIDES {
        if let Some(value) = req.query.get(*param) {
            set(h, header, value);
        }
    }
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            h,
            "content-range",
            &format!("bytes {}-{}/{}", range.start, range.end - 1, record.size),
        );
    }
    if record.multipart_count > 0 && req.query.contains_key("partNumber") {
        set(
            h,
            "x-amz-mp-parts-count",
            &record.multipart_count.to_string(),
        );
    }
    super::tagging::set_tagging_count(&mut r, &record.tags);
    if want_checksum
        && status == StatusCode::OK
        && let Some(c) = &record.checksum
    {
        checksum_header(&mut r, c);
    }
    let explicit_version = req.query.contains_key("versionId");
    versioning::version_id_header(
        &mut r,
        if explicit_version {
            crate::meta::Versioning::Enabled
        } else {
            bucket_versioning
        },
        record.s3_version_id(),
    );
    versioning::lock_headers(&mut r, &record);
    Ok(r)
}

/// 304 Not Modified: no body, but the validators a cache needs.
fn not_modified(record: &ObjectRecord) -> Response {
    let mut r = empty_response(StatusCode::NOT_MODIFIED);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&quoted(&record.etag)) {
        h.insert(http::header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(record.last_modified_ms)) {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    r
}

/// `response-*` query parameters of GetObject/HeadObject and the headers they override.
const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// The byte range of part `number` (as numbered at upload) of a multipart object; part 1 of a
/// single-part object is the whole object.
fn part_range(
    record: &ObjectRecord,
    number: &str,
    range_header: Option<&str>,
) -> S3Result<std::ops::Range<u64>> {
    if range_header.is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    let number: u32 = number
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    let mut start = 0;
    for part in &record.parts {
        let matches = if record.multipart_count > 0 {
            part.part_number == number
        } else {
            number == 1
        };
        if matches {
            return Ok(start..start + part.size);
        }
        start += part.size;
    }
    Err(S3Error::new(
        S3ErrorCode::InvalidPartNumber,
        "The requested partnumber is not satisfiable",
    ))
}

pub async fn delete_object(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    let version = versioning::requested_version(&req.query)?;
    let bypass = versioning::bypass_governance(req.headers());
    let outcome = versioning::delete(state, bucket, key, version, bypass).await?;
    let mut r = empty_response(StatusCode::NO_CONTENT);
    versioning::delete_headers(&mut r, &outcome);
    Ok(r)
}

/// Most keys one DeleteObjects request may name.
const MAX_DELETE_KEYS: usize = 1000;

pub async fn delete_objects(
    state: &Arc<S3State>,
    bucket: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let headers = req.headers().clone();
    let raw = super::read_xml_body(req, MAX_XML_BODY).await?;
    let bypass = versioning::bypass_governance(&headers);
    let request: xml::Delete = xml::parse(&raw)?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let mut w = XmlWriter::new("DeleteResult");
    for entry in &request.objects {
        let outcome = match crate::s3::host::check_key(&entry.key) {
            Ok(()) => {
                versioning::delete(
                    state,
                    bucket,
                    &entry.key,
                    entry.version_id.as_deref(),
                    bypass,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(_) if request.quiet => {}
            Ok(done) => {
                w.open("Deleted").elem("Key", &entry.key);
                if let Some(v) = &entry.version_id {
                    w.elem("VersionId", v);
                    if done.delete_marker {
                        w.elem("DeleteMarker", "true");
                    }
                } else if done.delete_marker {
                    w.elem("DeleteMarker", "true");
                    if let Some(v) = &done.version_id {
                        w.elem("DeleteMarkerVersionId", v);
                    }
                }
                w.close("Deleted");
            }
            Err(e) => {
                w.open("Error")
                    .elem("Key", &entry.key)
                    .elem("Code", e.code.as_str())
                    .elem("Message", &e.message)
                    .close("Error");
            }
        }
    }
    Ok(xml_response(w.finish("DeleteResult")))
}
