//! GetObjectAttributes: what a HEAD tells and more (parts of a multipart object), as XML,
//! selected by the `x-amz-object-attributes` header; parts paged with `x-amz-max-parts` and
//! `x-amz-part-number-marker`.

use std::sync::Arc;

use axum::response::Response;
use http::HeaderValue;

use super::{RequestCtx, require_bucket};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::xml::XmlWriter;
use crate::s3::{S3State, http_date, xml_response};

/// Attribute names AWS defines, in the order the response lists them.
const ATTRIBUTES: &[&str] = &[
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

/// Most parts one response lists (the AWS default and maximum of `x-amz-max-parts`).
const MAX_PARTS: usize = 1000;

fn invalid(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

/// A non-negative integer header; `default` when absent.
fn number_header(headers: &http::HeaderMap, name: &str, default: usize) -> S3Result<usize> {
    match headers.get(name) {
        None => Ok(default),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .ok_or_else(|| invalid(&format!("{name} must be a non-negative integer"))),
    }
}

pub async fn get_object_attributes(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let headers = req.headers();
    let requested: Vec<String> = headers
        .get_all("x-amz-object-attributes")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if requested.is_empty() {
        return Err(invalid(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    if let Some(bad) = requested.iter().find(|a| !ATTRIBUTES.contains(&a.as_str())) {
        return Err(invalid(&format!("Invalid attribute name specified: {bad}")));
    }
    let max_parts = number_header(headers, "x-amz-max-parts", MAX_PARTS)?.min(MAX_PARTS);
    let marker = number_header(headers, "x-amz-part-number-marker", 0)?;
    let (record, bucket_versioning) =
        super::versioning::resolve_read(state, bucket, key, &req.query).await?;

    let wants = |name: &str| requested.iter().any(|a| a == name);
    let mut w = XmlWriter::new("GetObjectAttributesResponse");
    if wants("ETag") {
        // Unquoted here, unlike the ETag header and listings (as AWS answers).
        w.elem("ETag", &record.etag);
    }
    if wants("Checksum")
        && let Some(c) = &record.checksum
    {
        w.open("Checksum")
            .elem(&format!("Checksum{}", c.algorithm), &c.value)
            .elem("ChecksumType", &c.kind)
            .close("Checksum");
    }
    // Only a multipart object has parts to list.
    if wants("ObjectParts") && record.multipart_count > 0 {
        let after: Vec<_> = record
            .parts
            .iter()
            .filter(|p| p.part_number as usize > marker)
            .collect();
        let shown = &after[..after.len().min(max_parts)];
        let truncated = after.len() > shown.len();
        w.open("ObjectParts")
            .elem("PartsCount", record.multipart_count.to_string())
            .elem("PartNumberMarker", marker.to_string());
        if let Some(last) = shown.last() {
            w.elem("NextPartNumberMarker", last.part_number.to_string());
        }
        w.elem("MaxParts", max_parts.to_string())
            .elem("IsTruncated", truncated.to_string());
        for p in shown {
            w.open("Part")
                .elem("PartNumber", p.part_number.to_string())
                .elem("Size", p.size.to_string());
            if let Some(c) = &p.checksum {
                w.elem(&format!("Checksum{}", c.algorithm), &c.value);
            }
            w.close("Part");
        }
        w.close("ObjectParts");
    }
    if wants("StorageClass") {
        w.elem("StorageClass", "STANDARD");
    }
    if wants("ObjectSize") {
        w.elem("ObjectSize", record.size.to_string());
    }
    let mut r = xml_response(w.finish("GetObjectAttributesResponse"));
    if let Ok(v) = HeaderValue::from_str(&http_date(record.last_modified_ms)) {
        r.headers_mut().insert(http::header::LAST_MODIFIED, v);
    }
    super::versioning::version_id_header(&mut r, bucket_versioning, record.s3_version_id());
    Ok(r)
}
