//! Object and bucket tagging: Put/Get/DeleteObjectTagging, Put/Get/DeleteBucketTagging, and
//! the `x-amz-tagging` header of PutObject and CreateMultipartUpload ([`parse_tagging_header`],
//! also meant for CopyObject's `x-amz-tagging-directive: REPLACE`).
//!
//! Tags are metadata: an object's tags live in its record and therefore in its sealed manifest
//! copies, which a tag change rewrites. AWS's limits apply: at most 10 tags per object and 50
//! per bucket, keys of 1–128 and values of 0–256 Unicode characters, unique keys, no `aws:`
//! prefix.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::RequestCtx;
use super::require_bucket;
use crate::meta::{MetaError, ObjectRecord};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::router::Query;
use crate::s3::xml::{self, XmlWriter};
use crate::s3::{S3State, empty_response, now_ms, xml_response};

/// Tag key/value pairs in the client's order.
pub type Tags = Vec<(String, String)>;

/// Most tags one object may carry.
pub const MAX_OBJECT_TAGS: usize = 10;
/// Most tags one bucket may carry.
pub const MAX_BUCKET_TAGS: usize = 50;
/// Longest tag key, in Unicode characters.
const MAX_KEY_CHARS: usize = 128;
/// Longest tag value, in Unicode characters.
const MAX_VALUE_CHARS: usize = 256;
/// Largest Tagging document accepted (50 tags of maximal size with markup fit easily).
const MAX_TAGGING_BODY: usize = 64 * 1024;

/// Which set of tags is checked: the limits and messages differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagTarget {
    Object,
    Bucket,
}

fn invalid_tag(message: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidTag, message)
}

/// Checks `tags` against AWS's limits for `target`.
pub fn validate_tags(tags: &[(String, String)], target: TagTarget) -> S3Result<()> {
    let (max, too_many) = match target {
        TagTarget::Object => (MAX_OBJECT_TAGS, "Object tags cannot be greater than 10"),
        TagTarget::Bucket => (
            MAX_BUCKET_TAGS,
            "Bucket tag count cannot be greater than 50",
        ),
    };
    if tags.len() > max {
        return Err(invalid_tag(too_many));
    }
    let mut seen = std::collections::HashSet::new();
    for (key, value) in tags {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
        if key.starts_with("aws:") {
            return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
        }
        if !seen.insert(key.as_str()) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// Parses and checks an `x-amz-tagging` header value: URL-encoded `k1=v1&k2=v2`, as object tags.
pub fn parse_tagging_header(value: &str) -> S3Result<Tags> {
    let tags: Tags = form_urlencoded::parse(value.as_bytes())
        .into_owned()
        .collect();
    validate_tags(&tags, TagTarget::Object)?;
    Ok(tags)
}

/// The object tags a request's `x-amz-tagging` header sets (none without the header).
pub fn tags_from_headers(headers: &http::HeaderMap) -> S3Result<Tags> {
    match headers.get("x-amz-tagging") {
        None => Ok(Tags::new()),
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                invalid_tag("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
            })?;
            parse_tagging_header(text)
        }
    }
}

/// Sets `x-amz-tagging-count` on a GET/HEAD answer for an object with tags.
pub fn set_tagging_count(response: &mut Response, tags: &[(String, String)]) {
    if !tags.is_empty() {
        response
            .headers_mut()
            .insert("x-amz-tagging-count", HeaderValue::from(tags.len()));
    }
}

#[derive(Debug, Deserialize)]
struct Tagging {
    #[serde(rename = "TagSet")]
    tag_set: TagSet,
}

#[derive(Debug, Deserialize)]
struct TagSet {
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

/// Parses and checks a `<Tagging>` request document.
pub(super) fn parse_tagging_xml(body: &[u8], target: TagTarget) -> S3Result<Tags> {
    let doc: Tagging = xml::parse(body)?;
    let tags: Tags = doc
        .tag_set
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    validate_tags(&tags, target)?;
    Ok(tags)
}

fn tagging_xml(tags: &[(String, String)]) -> String {
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (key, value) in tags {
        w.open("Tag")
            .elem("Key", key)
            .elem("Value", value)
            .close("Tag");
    }
    w.close("TagSet");
    w.finish("Tagging")
}

fn no_such_key() -> S3Error {
    S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
}

async fn current_object(state: &S3State, bucket: &str, key: &str) -> S3Result<ObjectRecord> {
    require_bucket(state, bucket).await?;
    state
        .meta
        .get_object(bucket, key)
        .await?
        .ok_or_else(no_such_key)
}

/// How often a tag change retries when the object is overwritten under it.
const MAX_TAG_ATTEMPTS: usize = 5;

/// Replaces the tags of the current version of (bucket, key): the sealed manifest copies first
/// (as a commit writes them), then the tags in the record, in a transaction that checks the
/// version is still current (and leaves other fields, e.g. the healer's, alone). A version
/// replaced meanwhile gets its tombstones again (our copy may have overwritten the replacer's
/// tombstone) and the change is retried on the new version, as S3 applies it to whatever
/// version is current.
async fn replace_object_tags(
    state: &S3State,
    bucket: &str,
    key: &str,
    query: &Query,
    tags: Tags,
) -> S3Result<()> {
    if super::versioning::requested_version(query)?.is_some() {
        return replace_version_tags(state, bucket, key, query, tags).await;
    }
    for _ in 0..MAX_TAG_ATTEMPTS {
        let mut record = current_object(state, bucket, key).await?;
        record.tags = tags.clone();
        state
            .engine
            .write_manifest_copies(&record, now_ms())
            .await?;
        let new_tags = tags.clone();
        let updated = state
            .meta
            .update_object_version(
                bucket,
                key,
                &record.version_id,
                Box::new(move |r| r.tags = new_tags),
            )
            .await?;
        if updated.is_some() {
            return Ok(());
        }
        state
            .engine
            .write_tombstones(&record.version_id, now_ms())
            .await;
    }
    Err(S3Error::new(
        S3ErrorCode::ServiceUnavailable,
        "The object kept changing while its tags were updated; please retry",
    ))
}

/// Replaces the tags of the version `versionId` names (current or not): manifest copies
/// re-sealed with the version's own commit time, then the record.
async fn replace_version_tags(
    state: &S3State,
    bucket: &str,
    key: &str,
    query: &Query,
    tags: Tags,
) -> S3Result<()> {
    let (mut record, _) = super::versioning::resolve_read(state, bucket, key, query).await?;
    record.tags = tags.clone();
    state
        .engine
        .write_manifest_copies(&record, record.last_modified_ms)
        .await?;
    state
        .meta
        .update_object_version(
            bucket,
            key,
            &record.version_id,
            Box::new(move |r| r.tags = tags),
        )
        .await?
        .ok_or(MetaError::NoSuchVersion)?;
    Ok(())
}

pub async fn get_object_tagging(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    query: &Query,
) -> S3Result<Response> {
    let (record, versioning) = super::versioning::resolve_read(state, bucket, key, query).await?;
    let mut r = xml_response(tagging_xml(&record.tags));
    super::versioning::version_id_header(&mut r, versioning, record.s3_version_id());
    Ok(r)
}

pub async fn put_object_tagging(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    super::versioning::resolve_read(state, bucket, key, &req.query).await?;
    let query = req.query.clone();
    let raw = super::read_xml_body(req, MAX_TAGGING_BODY).await?;
    let tags = parse_tagging_xml(&raw, TagTarget::Object)?;
    replace_object_tags(state, bucket, key, &query, tags).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete_object_tagging(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    query: &Query,
) -> S3Result<Response> {
    replace_object_tags(state, bucket, key, query, Tags::new()).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub async fn get_bucket_tagging(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    let record = state
        .meta
        .get_bucket(bucket)
        .await?
        .ok_or(MetaError::NoSuchBucket)?;
    if record.tags.is_empty() {
        return Err(
            S3Error::new(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist")
                .with_extra("BucketName", bucket),
        );
    }
    Ok(xml_response(tagging_xml(&record.tags)))
}

pub async fn put_bucket_tagging(
    state: &Arc<S3State>,
    bucket: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let raw = super::read_xml_body(req, MAX_TAGGING_BODY).await?;
    let tags = parse_tagging_xml(&raw, TagTarget::Bucket)?;
    state
        .meta
        .update_bucket(bucket, Box::new(move |b| b.tags = tags))
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub async fn delete_bucket_tagging(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    state
        .meta
        .update_bucket(bucket, Box::new(|b| b.tags.clear()))
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Tags {
        (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
    }

    #[test]
    fn header_is_url_encoded_pairs() {
        let tags = parse_tagging_header("a=1&b%20c=d%26e&empty=").unwrap();
        assert_eq!(
            tags,
            [
                ("a".into(), "1".into()),
                ("b c".into(), "d&e".into()),
                ("empty".into(), String::new())
            ]
        );
        assert!(parse_tagging_header("").unwrap().is_empty());
    }

    #[test]
    fn limits_as_aws() {
        assert!(validate_tags(&pairs(10), TagTarget::Object).is_ok());
        assert_eq!(
            validate_tags(&pairs(11), TagTarget::Object)
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidTag
        );
        assert!(validate_tags(&pairs(50), TagTarget::Bucket).is_ok());
        assert!(validate_tags(&pairs(51), TagTarget::Bucket).is_err());
        let long_key = vec![("é".repeat(128), String::new())];
        assert!(validate_tags(&long_key, TagTarget::Object).is_ok());
        let too_long_key = vec![("é".repeat(129), String::new())];
        assert!(validate_tags(&too_long_key, TagTarget::Object).is_err());
        let too_long_value = vec![("k".into(), "v".repeat(257))];
        assert!(validate_tags(&too_long_value, TagTarget::Object).is_err());
        for bad in ["a=1&a=2", "aws:x=1", "=v"] {
            assert!(parse_tagging_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn xml_round_trip() {
        let tags = parse_tagging_xml(
            b"<Tagging><TagSet><Tag><Key>a&amp;b</Key><Value>1</Value></Tag><Tag><Key>c</Key><Value></Value></Tag></TagSet></Tagging>",
            TagTarget::Object,
        )
        .unwrap();
        assert_eq!(
            tags,
            [("a&b".into(), "1".into()), ("c".into(), String::new())]
        );
        assert!(tagging_xml(&tags).contains("<Tag><Key>a&amp;b</Key><Value>1</Value></Tag>"));
        assert_eq!(
            parse_tagging_xml(b"<Tagging><TagSet>", TagTarget::Object)
                .unwrap_err()
                .code,
            S3ErrorCode::MalformedXML
        );
    }
}
