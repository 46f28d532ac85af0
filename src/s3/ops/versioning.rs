//! Versioning and Object Lock on the S3 surface: Put/GetBucketVersioning, ListObjectVersions,
//! Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold, and what
//! PUT / GET / DELETE of objects need from them (which version a request addresses, the
//! version and lock settings of a new version, delete markers).
//!
//! The rules themselves (what moves where, what a lock forbids) live in the metadata store's
//! transactions (`MetaStore::put_object`, `put_delete_marker`, `delete_version`,
//! `update_version_lock`); this module parses, validates and answers.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use super::{RequestCtx, release_orphans};
use crate::meta::{
    Bucket, DefaultRetention, DeleteMarker, ListedVersion, LockChange, MetaError, NULL_VERSION,
    ObjectLockConfig, ObjectRecord, Retention, RetentionMode, VersionEntry, VersionListQuery,
    Versioning,
};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::router::Query;
use crate::s3::xml::{self, MAX_XML_BODY, XmlWriter};
use crate::s3::{S3State, empty_response, iso8601, now_ms, xml_response};

const MS_PER_DAY: i64 = 86_400_000;
/// Longest default retention AWS accepts (100 years).
const MAX_RETENTION_DAYS: u32 = 36_500;

pub async fn load_bucket(state: &S3State, bucket: &str) -> S3Result<Bucket> {
    state
        .meta
        .get_bucket(bucket)
        .await?
        .ok_or_else(|| MetaError::NoSuchBucket.into())
}

fn invalid_argument(msg: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, msg)
}

fn malformed() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// A version id from a request: `null` or one of ours (32 hex digits).
pub fn check_version_id(v: &str) -> S3Result<()> {
    if v == NULL_VERSION || (v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(invalid_argument("Invalid version id specified"))
    }
}

/// The `versionId` query parameter, validated.
pub fn requested_version(query: &Query) -> S3Result<Option<&str>> {
    match query.get("versionId").map(String::as_str) {
        None => Ok(None),
        Some(v) => check_version_id(v).map(|()| Some(v)),
    }
}

fn parse_mode(s: &str) -> S3Result<RetentionMode> {
    match s {
        "GOVERNANCE" => Ok(RetentionMode::Governance),
        "COMPLIANCE" => Ok(RetentionMode::Compliance),
        _ => Err(invalid_argument(format!(
            "Unknown wormMode directive: {s} (use GOVERNANCE or COMPLIANCE)"
        ))),
    }
}

fn mode_str(m: RetentionMode) -> &'static str {
    match m {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

fn parse_date_ms(s: &str) -> S3Result<i64> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| invalid_argument(format!("The retain until date is not a valid date: {s}")))
}

/// What a new object version gets from its bucket and its request headers.
#[derive(Clone, Debug)]
pub struct NewVersionSettings {
    pub bucket_versioning: Versioning,
    pub versioned: bool,
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the bucket (NoSuchBucket) and the `x-amz-object-lock-*` headers of a PUT or
/// CreateMultipartUpload. Lock headers need a bucket with Object Lock; without explicit
/// retention the bucket's default applies.
pub async fn new_version_settings(
    state: &S3State,
    bucket: &str,
    headers: &HeaderMap,
) -> S3Result<NewVersionSettings> {
    let b = load_bucket(state, bucket).await?;
    let mode = header(headers, "x-amz-object-lock-mode");
    let until = header(headers, "x-amz-object-lock-retain-until-date");
    let hold = header(headers, "x-amz-object-lock-legal-hold");
    if b.object_lock.is_none() && (mode.is_some() || until.is_some() || hold.is_some()) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Bucket is missing Object Lock Configuration",
        ));
    }
    let now = now_ms();
    let retention = match (mode, until) {
        (Some(m), Some(u)) => {
            let until_ms = parse_date_ms(u)?;
            if until_ms <= now {
                return Err(invalid_argument(
                    "The retain until date must be in the future!",
                ));
            }
            Some(Retention {
                mode: parse_mode(m)?,
                retain_until_ms: until_ms,
            })
        }
        (None, None) => b
            .object_lock
            .as_ref()
            .and_then(|c| c.default_retention.as_ref())
            .map(|d| Retention {
                mode: d.mode,
                retain_until_ms: now + default_days(d) * MS_PER_DAY,
            }),
        _ => {
            return Err(invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let legal_hold = match hold {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(other) => {
            return Err(invalid_argument(format!(
                "Legal Hold must be either of 'ON' or 'OFF', not {other}"
            )));
        }
    };
    Ok(NewVersionSettings {
        bucket_versioning: b.versioning,
        versioned: b.versioning == Versioning::Enabled,
        retention,
        legal_hold,
    })
}

fn default_days(d: &DefaultRetention) -> i64 {
    match (d.days, d.years) {
        (Some(days), _) => i64::from(days),
        (None, Some(years)) => i64::from(years) * 365,
        (None, None) => 0,
    }
}

fn set(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// `x-amz-version-id` on answers about a version, once the bucket has versioning configured
/// (AWS leaves it out for buckets that never had it).
pub fn version_id_header(r: &mut Response, bucket_versioning: Versioning, s3_version_id: &str) {
    if bucket_versioning != Versioning::Unversioned {
        set(r, "x-amz-version-id", s3_version_id);
    }
}

/// The Object Lock headers of GET / HEAD.
pub fn lock_headers(r: &mut Response, record: &ObjectRecord) {
    if let Some(ret) = &record.retention {
        set(r, "x-amz-object-lock-mode", mode_str(ret.mode));
        set(
            r,
            "x-amz-object-lock-retain-until-date",
            &iso8601(ret.retain_until_ms),
        );
    }
    if record.legal_hold {
        set(r, "x-amz-object-lock-legal-hold", "ON");
    }
}

/// The object version a GET / HEAD addresses: the current one, or `versionId`'s. A delete
/// marker answers 404 NoSuchKey (latest) or 405 MethodNotAllowed (by id), as AWS does.
pub async fn resolve_read(
    state: &S3State,
    bucket: &str,
    key: &str,
    query: &Query,
) -> S3Result<(ObjectRecord, Versioning)> {
    let b = load_bucket(state, bucket).await?;
    let no_such_key = || S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.");
    let record = match requested_version(query)? {
        None => state
            .meta
            .get_object(bucket, key)
            .await?
            .ok_or_else(no_such_key)?,
        Some(v) => match state.meta.get_version(bucket, key, v).await? {
            Some(VersionEntry::Object(o)) => *o,
            Some(VersionEntry::DeleteMarker(_)) => return Err(MetaError::IsDeleteMarker.into()),
            None if b.versioning == Versioning::Unversioned && v != NULL_VERSION => {
                return Err(invalid_argument("Invalid version id specified"));
            }
            None => {
                return Err(S3Error::new(
                    S3ErrorCode::NoSuchVersion,
                    "The specified version does not exist.",
                ));
            }
        },
    };
    Ok((record, b.versioning))
}

/// What a delete did, for the response headers and DeleteObjects entries.
#[derive(Clone, Debug, Default)]
pub struct DeleteOutcome {
    /// The S3 version id that was removed, or of the delete marker created.
    pub version_id: Option<String>,
    /// A delete marker was created, or the removed version was one.
    pub delete_marker: bool,
}

/// DeleteObject semantics for every versioning state: without a version id an unversioned
/// bucket removes the key, a versioned one adds a delete marker (a suspended one a `null`
/// marker); with a version id that version is removed for good (unless Object Lock forbids).
pub async fn delete(
    state: &S3State,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    bypass_governance: bool,
) -> S3Result<DeleteOutcome> {
    let b = load_bucket(state, bucket).await?;
    if let Some(v) = version_id {
        check_version_id(v)?;
        let (deleted, orphans) = state
            .meta
            .delete_version(bucket, key, v, bypass_governance)
            .await?;
        release_orphans(state, orphans).await;
        return Ok(DeleteOutcome {
            version_id: Some(v.to_string()),
            delete_marker: matches!(deleted, Some(VersionEntry::DeleteMarker(_))),
        });
    }
    match b.versioning {
        Versioning::Unversioned => {
            let orphans = state.meta.delete_object(bucket, key).await?;
            release_orphans(state, orphans).await;
            Ok(DeleteOutcome::default())
        }
        versioning => {
            let marker = DeleteMarker {
                bucket: bucket.to_string(),
                key: key.to_string(),
                version_id: crate::engine::random_id(),
                versioned: versioning == Versioning::Enabled,
                last_modified_ms: now_ms(),
            };
            let orphans = state.meta.put_delete_marker(&marker).await?;
            release_orphans(state, orphans).await;
            Ok(DeleteOutcome {
                version_id: Some(marker.s3_version_id().to_string()),
                delete_marker: true,
            })
        }
    }
}

pub fn bypass_governance(headers: &HeaderMap) -> bool {
    header(headers, "x-amz-bypass-governance-retention")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// ----- bucket versioning ------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct VersioningConfiguration {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "MfaDelete")]
    mfa_delete: Option<String>,
}

pub async fn put_bucket_versioning(
    state: &Arc<S3State>,
    bucket: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    load_bucket(state, bucket).await?;
    let raw = super::read_xml_body(req, MAX_XML_BODY).await?;
    let config: VersioningConfiguration = xml::parse(&raw)?;
    if config.mfa_delete.as_deref() == Some("Enabled") {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "MFA Delete is not supported by this gateway",
        ));
    }
    let status = match config.status.as_deref() {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => return Err(malformed()),
    };
    state.meta.set_bucket_versioning(bucket, status).await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn get_bucket_versioning(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    let b = load_bucket(state, bucket).await?;
    let mut w = XmlWriter::new("VersioningConfiguration");
    match b.versioning {
        Versioning::Unversioned => {}
        Versioning::Enabled => {
            w.elem("Status", "Enabled");
        }
        Versioning::Suspended => {
            w.elem("Status", "Suspended");
        }
    }
    Ok(xml_response(w.finish("VersioningConfiguration")))
}

// ----- ListObjectVersions -------------------------------------------------------------------

const MAX_KEYS: usize = 1000;

pub async fn list_object_versions(
    state: &Arc<S3State>,
    bucket: &str,
    q: &Query,
) -> S3Result<Response> {
    load_bucket(state, bucket).await?;
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let delimiter = q.get("delimiter").filter(|d| !d.is_empty()).cloned();
    let max_keys = match q.get("max-keys") {
        None => MAX_KEYS,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| {
                invalid_argument("Provided max-keys not an integer or within integer range")
            })?
            .min(MAX_KEYS),
    };
    let key_marker = q.get("key-marker").filter(|k| !k.is_empty()).cloned();
    let version_marker = q
        .get("version-id-marker")
        .filter(|v| !v.is_empty())
        .cloned();
    if version_marker.is_some() && key_marker.is_none() {
        return Err(invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    if let Some(v) = &version_marker {
        check_version_id(v)?;
    }

    let mut entries: Vec<ListedVersion> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut after_key = key_marker.clone();
    let mut after_version = version_marker.clone();
    let mut truncated = false;
    let mut next: Option<(String, String)> = None;
    // Page through the store, folding keys under the delimiter into common prefixes.
    'outer: loop {
        let page = state
            .meta
            .list_versions(
                bucket,
                &VersionListQuery {
                    prefix: prefix.clone(),
                    after_key: after_key.clone(),
                    after_version: after_version.clone(),
                    limit: MAX_KEYS + 1,
                },
            )
            .await?;
        let exhausted = page.len() <= MAX_KEYS;
        for v in page {
            let key = v.entry.key().to_string();
            if let Some(d) = &delimiter
                && let Some(pos) = key[prefix.len()..].find(d.as_str())
            {
                let cp = key[..prefix.len() + pos + d.len()].to_string();
                // A key marker inside (or equal to) this prefix: it was returned on an earlier
                // page (as ListObjects does, so paging by NextKeyMarker makes progress).
                let returned_before = key_marker.as_deref().is_some_and(|m| m.starts_with(&cp));
                if prefixes.last() != Some(&cp) && !returned_before {
                    if entries.len() + prefixes.len() >= max_keys {
                        truncated = true;
                        break 'outer;
                    }
                    prefixes.push(cp.clone());
                    next = Some((cp.clone(), String::new()));
                }
                // skip everything under this prefix
                after_key = Some(format!("{cp}\u{10FFFF}"));
                after_version = None;
                continue 'outer;
            }
            if entries.len() + prefixes.len() >= max_keys {
                truncated = true;
                break 'outer;
            }
            next = Some((key.clone(), v.entry.s3_version_id().to_string()));
            after_key = Some(key);
            after_version = Some(v.entry.s3_version_id().to_string());
            entries.push(v);
        }
        if exhausted {
            break;
        }
    }

    let mut w = XmlWriter::new("ListVersionsResult");
    w.elem("Name", bucket)
        .elem("Prefix", &prefix)
        .elem("KeyMarker", key_marker.as_deref().unwrap_or(""))
        .elem("VersionIdMarker", version_marker.as_deref().unwrap_or(""))
        .elem("MaxKeys", max_keys.to_string());
    if let Some(d) = &delimiter {
        w.elem("Delimiter", d);
    }
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    if truncated && let Some((k, v)) = &next {
        w.elem("NextKeyMarker", k);
        if !v.is_empty() {
            w.elem("NextVersionIdMarker", v);
        }
    }
    for v in &entries {
        let latest = if v.is_latest { "true" } else { "false" };
        match &v.entry {
            VersionEntry::Object(o) => {
                w.open("Version")
                    .elem("Key", &o.key)
                    .elem("VersionId", o.s3_version_id())
                    .elem("IsLatest", latest)
                    .elem("LastModified", iso8601(o.last_modified_ms))
                    .elem("ETag", super::quoted(&o.etag))
                    .elem("Size", o.size.to_string())
                    .elem("StorageClass", "STANDARD");
                w.open("Owner")
                    .elem("ID", "chunkworks")
                    .elem("DisplayName", "chunkworks")
                    .close("Owner");
                w.close("Version");
            }
            VersionEntry::DeleteMarker(d) => {
                w.open("DeleteMarker")
                    .elem("Key", &d.key)
                    .elem("VersionId", d.s3_version_id())
                    .elem("IsLatest", latest)
                    .elem("LastModified", iso8601(d.last_modified_ms));
                w.open("Owner")
                    .elem("ID", "chunkworks")
                    .elem("DisplayName", "chunkworks")
                    .close("Owner");
                w.close("DeleteMarker");
            }
        }
    }
    for p in &prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", p)
            .close("CommonPrefixes");
    }
    Ok(xml_response(w.finish("ListVersionsResult")))
}

/// The object version a GetObjectRetention / GetObjectLegalHold addresses.
async fn lock_target_record(
    state: &S3State,
    bucket: &str,
    key: &str,
    q: &Query,
) -> S3Result<ObjectRecord> {
    let (_, version) = lock_target(state, bucket, key, q).await?;
    load_target(state, bucket, key, &version).await
}

/// Applies a lock change in the metadata store, then re-seals the manifest copies.
async fn change_lock(
    state: &S3State,
    bucket: &str,
    key: &str,
    version: &str,
    change: LockChange,
) -> S3Result<Response> {
    let updated = state
        .meta
        .update_version_lock(bucket, key, version, &change)
        .await?;
    reseal_manifest(state, &updated).await;
    Ok(empty_response(StatusCode::OK))
}

/// Rewrites the manifest copies of a version whose lock state changed, so `recover-index`
/// restores the retention and legal hold in force, not those of the original PUT. The
/// commit time stays the version's own (its place among the key's versions). The metadata
/// store is already updated and stays the truth when a location misses the rewrite.
async fn reseal_manifest(state: &S3State, record: &ObjectRecord) {
    if let Err(e) = state
        .engine
        .write_manifest_copies(record, record.last_modified_ms)
        .await
    {
        tracing::warn!(bucket = %record.bucket, key = %record.key, error = %e,
            "rewriting manifest copies after a lock change failed; the index has the change");
    }
}

// ----- Object Lock configuration ----------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ObjectLockConfiguration {
    #[serde(rename = "ObjectLockEnabled")]
    enabled: Option<String>,
    #[serde(rename = "Rule")]
    rule: Option<LockRule>,
}

#[derive(Debug, Deserialize)]
struct LockRule {
    #[serde(rename = "DefaultRetention")]
    default_retention: Option<XmlDefaultRetention>,
}

#[derive(Debug, Deserialize)]
struct XmlDefaultRetention {
    #[serde(rename = "Mode")]
    mode: Option<String>,
    #[serde(rename = "Days")]
    days: Option<u32>,
    #[serde(rename = "Years")]
    years: Option<u32>,
}

pub async fn put_object_lock_configuration(
    state: &Arc<S3State>,
    bucket: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    load_bucket(state, bucket).await?;
    let raw = super::read_xml_body(req, MAX_XML_BODY).await?;
    let config: ObjectLockConfiguration = xml::parse(&raw)?;
    if config.enabled.as_deref() != Some("Enabled") {
        return Err(malformed());
    }
    let default_retention = match config.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => {
            let mode =
                parse_mode(d.mode.as_deref().unwrap_or_default()).map_err(|_| malformed())?;
            match (d.days, d.years) {
                (Some(0), None) | (None, Some(0)) => {
                    return Err(invalid_argument(
                        "Default retention period must be a positive integer value",
                    ));
                }
                (Some(days), None) if days <= MAX_RETENTION_DAYS => {}
                (None, Some(years)) if years <= MAX_RETENTION_DAYS / 365 => {}
                (Some(_), None) | (None, Some(_)) => {
                    return Err(invalid_argument("Default retention period is too large."));
                }
                _ => return Err(malformed()),
            }
            Some(DefaultRetention {
                mode,
                days: d.days,
                years: d.years,
            })
        }
    };
    state
        .meta
        .set_bucket_object_lock(bucket, &ObjectLockConfig { default_retention })
        .await?;
    Ok(empty_response(StatusCode::OK))
}

pub async fn get_object_lock_configuration(
    state: &Arc<S3State>,
    bucket: &str,
) -> S3Result<Response> {
    let b = load_bucket(state, bucket).await?;
    let Some(config) = b.object_lock else {
        return Err(S3Error::new(
            S3ErrorCode::ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket",
        ));
    };
    let mut w = XmlWriter::new("ObjectLockConfiguration");
    w.elem("ObjectLockEnabled", "Enabled");
    if let Some(d) = &config.default_retention {
        w.open("Rule").open("DefaultRetention");
        w.elem("Mode", mode_str(d.mode));
        if let Some(days) = d.days {
            w.elem("Days", days.to_string());
        }
        if let Some(years) = d.years {
            w.elem("Years", years.to_string());
        }
        w.close("DefaultRetention").close("Rule");
    }
    Ok(xml_response(w.finish("ObjectLockConfiguration")))
}

/// The version a retention / legal-hold request addresses (current when no `versionId`).
async fn lock_target(
    state: &S3State,
    bucket: &str,
    key: &str,
    q: &Query,
) -> S3Result<(Bucket, String)> {
    let b = load_bucket(state, bucket).await?;
    if b.object_lock.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Bucket is missing Object Lock Configuration",
        ));
    }
    let version = match requested_version(q)? {
        Some(v) => v.to_string(),
        None => state
            .meta
            .get_object(bucket, key)
            .await?
            .ok_or_else(|| {
                S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
            })?
            .s3_version_id()
            .to_string(),
    };
    Ok((b, version))
}

async fn load_target(
    state: &S3State,
    bucket: &str,
    key: &str,
    version: &str,
) -> S3Result<ObjectRecord> {
    match state.meta.get_version(bucket, key, version).await? {
        Some(VersionEntry::Object(o)) => Ok(*o),
        Some(VersionEntry::DeleteMarker(_)) => Err(MetaError::IsDeleteMarker.into()),
        None => Err(S3Error::new(
            S3ErrorCode::NoSuchVersion,
            "The specified version does not exist.",
        )),
    }
}

#[derive(Debug, Deserialize)]
struct XmlRetention {
    #[serde(rename = "Mode")]
    mode: Option<String>,
    #[serde(rename = "RetainUntilDate")]
    retain_until: Option<String>,
}

pub async fn put_object_retention(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    let (_, version) = lock_target(state, bucket, key, &req.query).await?;
    let bypass = bypass_governance(req.headers());
    let raw = super::read_xml_body(req, MAX_XML_BODY).await?;
    let x: XmlRetention = xml::parse(&raw)?;
    let retention = match (x.mode, x.retain_until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let until = parse_date_ms(&u)?;
            if until <= now_ms() {
                return Err(invalid_argument(
                    "The retain until date must be in the future!",
                ));
            }
            Some(Retention {
                mode: parse_mode(&m).map_err(|_| malformed())?,
                retain_until_ms: until,
            })
        }
        _ => return Err(malformed()),
    };
    change_lock(
        state,
        bucket,
        key,
        &version,
        LockChange::Retention {
            retention,
            bypass_governance: bypass,
        },
    )
    .await
}

pub async fn get_object_retention(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    q: &Query,
) -> S3Result<Response> {
    let record = lock_target_record(state, bucket, key, q).await?;
    let Some(ret) = record.retention else {
        return Err(S3Error::new(
            S3ErrorCode::NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration",
        ));
    };
    let mut w = XmlWriter::new("Retention");
    w.elem("Mode", mode_str(ret.mode))
        .elem("RetainUntilDate", iso8601(ret.retain_until_ms));
    Ok(xml_response(w.finish("Retention")))
}

#[derive(Debug, Deserialize)]
struct XmlLegalHold {
    #[serde(rename = "Status")]
    status: Option<String>,
}

pub async fn put_object_legal_hold(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    let (_, version) = lock_target(state, bucket, key, &req.query).await?;
    let raw = super::read_xml_body(req, MAX_XML_BODY).await?;
    let x: XmlLegalHold = xml::parse(&raw)?;
    let on = match x.status.as_deref() {
        Some("ON") => true,
        Some("OFF") => false,
        _ => return Err(malformed()),
    };
    change_lock(state, bucket, key, &version, LockChange::LegalHold(on)).await
}

pub async fn get_object_legal_hold(
    state: &Arc<S3State>,
    bucket: &str,
    key: &str,
    q: &Query,
) -> S3Result<Response> {
    let record = lock_target_record(state, bucket, key, q).await?;
    let mut w = XmlWriter::new("LegalHold");
    w.elem("Status", if record.legal_hold { "ON" } else { "OFF" });
    Ok(xml_response(w.finish("LegalHold")))
}

/// Response headers of a DeleteObject.
pub fn delete_headers(r: &mut Response, outcome: &DeleteOutcome) {
    if let Some(v) = &outcome.version_id {
        set(r, "x-amz-version-id", v);
    }
    if outcome.delete_marker {
        set(r, "x-amz-delete-marker", "true");
    }
}
