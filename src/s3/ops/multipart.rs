//! Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads.
//! Every part gets its own blob (shard files) under the upload's data key; Complete builds the
//! object manifest from the listed parts in one metadata transaction.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use md5::Digest;

use super::object::{checksum_header, commit_parts_record, discard, precheck_write, receive_part};
use super::{
    RequestCtx, check_object_target, object_metadata, quoted, release_orphans, require_bucket,
};
use crate::meta::{MetaError, MultipartUpload, ObjectRecord, UploadListQuery, UploadedPart};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::router::Query;
use crate::s3::xml::{self, MAX_XML_BODY, XmlWriter};
use crate::s3::{S3State, empty_response, iso8601, now_ms, read_small_body, xml_response};

/// Smallest part S3 accepts, except for the last one.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

pub(super) async fn load_upload(
    state: &S3State,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> S3Result<MultipartUpload> {
    match state.meta.get_upload(upload_id).await? {
        Some(u) if u.bucket == bucket && u.key == key => Ok(u),
        _ => Err(MetaError::NoSuchUpload.into()),
    }
}

pub async fn create(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    check_object_target(state, bucket, key).await?;
    let (headers, user_meta) = object_metadata(req.headers())?;
    let tags = super::tagging::tags_from_headers(req.headers())?;
    let checksum_algorithm = req
        .headers()
        .get("x-amz-checksum-algorithm")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_uppercase);
    let settings = super::versioning::new_version_settings(state, bucket, req.headers()).await?;
    let version = state.engine.new_version();
    let upload = MultipartUpload {
        upload_id: crate::engine::random_id(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: version.version_id,
        initiated_ms: now_ms(),
        headers,
        user_meta,
        checksum_algorithm: checksum_algorithm.clone(),
        wrapped_dek: version.wrapped_dek,
        key_id: version.key_id,
        retention: settings.retention,
        legal_hold: settings.legal_hold,
        tags,
    };
    state.meta.create_upload(&upload).await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", bucket)
        .elem("Key", key)
        .elem("UploadId", &upload.upload_id);
    let mut r = xml_response(w.finish("InitiateMultipartUploadResult"));
    if let Some(alg) = checksum_algorithm.and_then(|a| HeaderValue::from_str(&a).ok()) {
        r.headers_mut().insert("x-amz-checksum-algorithm", alg);
    }
    Ok(r)
}

pub async fn upload_part(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    upload_id: &str,
    part_number: u32,
    req: RequestCtx,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let upload = load_upload(state, bucket, key, upload_id).await?;
    let dek = state
        .engine
        .data_key(&upload.version_id, &upload.wrapped_dek, &upload.key_id)?;
    let (written, checksum) =
        receive_part(state, req, &dek, part_number, MAX_PART_SIZE, "COMPOSITE").await?;
    let record = record_part(state, upload_id, written.part).await?;
    let mut r = empty_response(StatusCode::OK);
    r.headers_mut().insert(
        http::header::ETAG,
        HeaderValue::from_str(&quoted(&record.part.md5_hex)).expect("hex"),
    );
    if let Some(c) = &checksum {
        checksum_header(&mut r, c);
        r.headers_mut().remove("x-amz-checksum-type");
    }
    Ok(r)
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Records a written part with its upload (replacing an earlier upload of the part number,
/// whose shards are released). When the upload is gone meanwhile, the part's shards are
/// removed again.
pub(super) async fn record_part(
    state: &S3State,
    upload_id: &str,
    part: crate::meta::StoredPart,
) -> S3Result<UploadedPart> {
    let record = UploadedPart {
        upload_id: upload_id.to_string(),
        part,
        last_modified_ms: now_ms(),
    };
    match state.meta.put_part(&record).await {
        Ok(orphans) => {
            release_orphans(state, orphans).await;
            Ok(record)
        }
        Err(e) => {
            discard(state, &record.part).await;
            Err(e.into())
        }
    }
}

pub async fn complete(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    upload_id: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    let settings =
        super::versioning::new_version_settings(state, bucket, &http::HeaderMap::new()).await?;
    let upload = load_upload(state, bucket, key, upload_id).await?;
    let condition = crate::s3::conditions::write_condition(req.headers())?;
    if let Some(condition) = &condition {
        precheck_write(state, bucket, key, condition).await?;
    }
    let (_, _, body) = req.into_body()?;
    let raw = read_small_body(body, MAX_XML_BODY).await?;
    let request: xml::CompleteMultipartUpload = xml::parse(&raw)?;
    if request.parts.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    if request
        .parts
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartOrder,
            "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        ));
    }
    let uploaded = all_parts(state, upload_id).await?;
    let invalid_part = || {
        S3Error::new(
            S3ErrorCode::InvalidPart,
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        )
    };
    let mut parts = Vec::with_capacity(request.parts.len());
    let mut md5s = md5::Md5::new();
    for (i, listed) in request.parts.iter().enumerate() {
        let found = uploaded
            .iter()
            .find(|p| p.part.part_number == listed.part_number)
            .filter(|p| p.part.md5_hex == unquote(&listed.etag))
            .ok_or_else(invalid_part)?;
        if let (Some((alg, value)), Some(stored)) = (listed.checksum(), &found.part.checksum)
            && (stored.algorithm != alg || stored.value != value)
        {
            return Err(invalid_part());
        }
        if i + 1 < request.parts.len() && found.part.size < MIN_PART_SIZE {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with_extra("PartNumber", listed.part_number.to_string())
            .with_extra("ProposedSize", found.part.size.to_string())
            .with_extra("MinSizeAllowed", MIN_PART_SIZE.to_string()));
        }
        md5s.update(hex::decode(&found.part.md5_hex).map_err(S3Error::internal)?);
        parts.push(found.part.clone());
    }
    let count = parts.len() as u32;
    let etag = format!("{}-{count}", hex::encode(md5s.finalize()));
    // Declared at create and carried by every part: the object gets S3's composite checksum.
    let checksum = upload.checksum_algorithm.as_deref().and_then(|alg| {
        let values: Option<Vec<&str>> = parts
            .iter()
            .map(|p| {
                p.checksum
                    .as_ref()
                    .filter(|c| c.algorithm == alg)
                    .map(|c| c.value.as_str())
            })
            .collect();
        let value = crate::s3::auth::payload::composite_checksum(alg, values?.into_iter())?;
        Some(crate::meta::Checksum {
            algorithm: alg.to_string(),
            value,
            kind: "COMPOSITE".into(),
        })
    });
    let record = ObjectRecord {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: upload.version_id.clone(),
        size: parts.iter().map(|p| p.size).sum(),
        etag,
        last_modified_ms: now_ms(),
        headers: upload.headers.clone(),
        user_meta: upload.user_meta.clone(),
        checksum: checksum.clone(),
        wrapped_dek: upload.wrapped_dek.clone(),
        key_id: upload.key_id.clone(),
        parts,
        multipart_count: count,
        versioned: settings.versioned,
        retention: upload.retention.clone(),
        legal_hold: upload.legal_hold,
        tags: upload.tags.clone(),
    };
    commit_parts_record(state, upload_id, &record, condition.as_ref()).await?;
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", format!("/{bucket}/{key}"))
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("ETag", quoted(&record.etag));
    if let Some(c) = &checksum {
        w.elem(&format!("Checksum{}", c.algorithm), &c.value)
            .elem("ChecksumType", &c.kind);
    }
    let mut r = xml_response(w.finish("CompleteMultipartUploadResult"));
    super::versioning::version_id_header(
        &mut r,
        settings.bucket_versioning,
        record.s3_version_id(),
    );
    Ok(r)
}

async fn all_parts(state: &S3State, upload_id: &str) -> S3Result<Vec<UploadedPart>> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = state.meta.list_parts(upload_id, after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.part.part_number;
        out.extend(batch);
    }
    Ok(out)
}

pub async fn abort(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    load_upload(state, bucket, key, upload_id).await?;
    let orphans = state.meta.abort_upload(upload_id).await?;
    release_orphans(state, orphans).await;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

fn parse_max(q: &Query, name: &str) -> S3Result<usize> {
    match q.get(name) {
        None => Ok(1000),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.min(1000) as usize)
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("{name} must be a non-negative integer"),
                )
            }),
    }
}

pub async fn list_parts(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    upload_id: &str,
    q: &Query,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let upload = load_upload(state, bucket, key, upload_id).await?;
    let max = parse_max(q, "max-parts")?;
    let marker: u32 = match q.get("part-number-marker") {
        None => 0,
        Some(v) => v.parse().map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "part-number-marker must be an integer",
            )
        })?,
    };
    let mut parts = state.meta.list_parts(upload_id, marker, max + 1).await?;
    let truncated = parts.len() > max;
    parts.truncate(max);
    let mut w = XmlWriter::new("ListPartsResult");
    w.elem("Bucket", bucket)
        .elem("Key", key)
        .elem("UploadId", upload_id);
    w.open("Initiator")
        .elem("ID", "chunkworks")
        .elem("DisplayName", "chunkworks")
        .close("Initiator");
    w.open("Owner")
        .elem("ID", "chunkworks")
        .elem("DisplayName", "chunkworks")
        .close("Owner");
    w.elem("StorageClass", "STANDARD");
    w.elem("PartNumberMarker", marker.to_string());
    if let Some(last) = parts.last() {
        w.elem("NextPartNumberMarker", last.part.part_number.to_string());
    }
    w.elem("MaxParts", max.to_string())
        .elem("IsTruncated", truncated.to_string());
    if let Some(alg) = &upload.checksum_algorithm {
        w.elem("ChecksumAlgorithm", alg);
    }
    for p in &parts {
        w.open("Part")
            .elem("PartNumber", p.part.part_number.to_string())
            .elem("LastModified", iso8601(p.last_modified_ms))
            .elem("ETag", quoted(&p.part.md5_hex))
            .elem("Size", p.part.size.to_string());
        if let Some(c) = &p.part.checksum {
            w.elem(&format!("Checksum{}", c.algorithm), &c.value);
        }
        w.close("Part");
    }
    Ok(xml_response(w.finish("ListPartsResult")))
}

pub async fn list_uploads(state: &Arc<S3State>, bucket: &str, q: &Query) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let max = parse_max(q, "max-uploads")?;
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let delimiter = q.get("delimiter").cloned().unwrap_or_default();
    let key_marker = q.get("key-marker").cloned().unwrap_or_default();
    let upload_marker = q.get("upload-id-marker").cloned().unwrap_or_default();
    let after = (!key_marker.is_empty()).then(|| (key_marker.clone(), upload_marker.clone()));
    let uploads = state
        .meta
        .list_uploads(
            bucket,
            &UploadListQuery {
                prefix: prefix.clone(),
                after,
                limit: max + 1,
            },
        )
        .await?;
    let truncated = uploads.len() > max;
    let mut shown: Vec<&MultipartUpload> = uploads.iter().take(max).collect();
    let mut prefixes: Vec<String> = Vec::new();
    if !delimiter.is_empty() {
        shown.retain(|u| match u.key[prefix.len()..].find(&delimiter) {
            Some(i) => {
                let p = format!(
                    "{prefix}{}",
                    &u.key[prefix.len()..prefix.len() + i + delimiter.len()]
                );
                if prefixes.last() != Some(&p) {
                    prefixes.push(p);
                }
                false
            }
            None => true,
        });
    }
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", bucket)
        .elem("KeyMarker", &key_marker)
        .elem("UploadIdMarker", &upload_marker)
        .elem("Prefix", &prefix);
    if !delimiter.is_empty() {
        w.elem("Delimiter", &delimiter);
    }
    if truncated && let Some(last) = uploads.get(max - 1) {
        w.elem("NextKeyMarker", &last.key)
            .elem("NextUploadIdMarker", &last.upload_id);
    }
    w.elem("MaxUploads", max.to_string())
        .elem("IsTruncated", truncated.to_string());
    for u in shown {
        w.open("Upload")
            .elem("Key", &u.key)
            .elem("UploadId", &u.upload_id)
            .open("Initiator")
            .elem("ID", "chunkworks")
            .elem("DisplayName", "chunkworks")
            .close("Initiator")
            .open("Owner")
            .elem("ID", "chunkworks")
            .elem("DisplayName", "chunkworks")
            .close("Owner")
            .elem("StorageClass", "STANDARD")
            .elem("Initiated", iso8601(u.initiated_ms))
            .close("Upload");
    }
    for p in prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", &p)
            .close("CommonPrefixes");
    }
    Ok(xml_response(w.finish("ListMultipartUploadsResult")))
}
