//! Records the metadata store keeps. Plain data: no I/O, no HTTP, no crypto.

use serde::{Deserialize, Serialize};

/// A bucket as the S3 API sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    #[serde(default)]
    pub versioning: Versioning,
    /// Object Lock: set at creation (`x-amz-bucket-object-lock-enabled`) or later on a
    /// versioned bucket; never turned off again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLockConfig>,
    /// Bucket tags (PutBucketTagging), in the order the client sent them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// CORS rules (PutBucketCors); `None` when the bucket has no CORS configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
}

impl Bucket {
    /// A new bucket: unversioned, without Object Lock, tags or CORS configuration.
    pub fn new(name: impl Into<String>, created_ms: i64) -> Self {
        Self {
            name: name.into(),
            created_ms,
            versioning: Versioning::Unversioned,
            object_lock: None,
            tags: Vec::new(),
            cors: None,
        }
    }
}

/// A bucket's versioning state. A bucket that was ever `Enabled` can only be `Suspended`,
/// never `Unversioned` again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

/// Retention mode of S3 Object Lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    /// Can be shortened or removed with `x-amz-bypass-governance-retention: true`.
    Governance,
    /// Nobody can shorten or remove it, nor delete the version before it ends.
    Compliance,
}

/// A bucket's Object Lock configuration (lock is enabled when present).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// Applied to new object versions that name no retention themselves.
    pub default_retention: Option<DefaultRetention>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    /// Exactly one of `days` / `years` is set.
    pub days: Option<u32>,
    pub years: Option<u32>,
}

/// The retention of one object version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    /// Unix milliseconds.
    pub retain_until_ms: i64,
}

/// One rule of a bucket's CORS configuration, as validated by the S3 layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins, each with at most one `*` wildcard.
    pub allowed_origins: Vec<String>,
    /// Upper-case methods: GET, PUT, POST, DELETE, HEAD.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*` wildcard.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may expose to scripts.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

/// Where one shard file of one stored blob lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRef {
    /// Shard index, 0..k are data shards, k..k+m parity.
    pub index: u8,
    /// Name of the location (config `[[locations]].name`).
    pub location: String,
}

/// One stored blob: the shard files holding one S3 part (or the whole body of a
/// single-part object). `blob_id` is the random id in the backend path
/// `shards/<blob_id>/<part>.<shard>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    /// S3 part number (1 for single-part objects).
    pub part_number: u32,
    /// Random hex id of this upload of the part; names its shard files and is bound into the
    /// AEAD associated data.
    pub blob_id: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Hex MD5 of the part's plaintext.
    pub md5_hex: String,
    /// Erasure-coding policy this part was written with.
    pub k: u8,
    pub m: u8,
    pub chunk_size: u32,
    /// Where each shard lives, ordered by shard index.
    pub shards: Vec<ShardRef>,
    /// Checksum sent by the client for this part (`x-amz-checksum-*`), if any.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// Shard indexes whose files were not written (a location was down): the part is
    /// degraded until the healer rebuilds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<u8>,
}

/// An `x-amz-checksum-*` value as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// Upper-case algorithm name as S3 spells it: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
    pub algorithm: String,
    /// Base64 value.
    pub value: String,
    /// "FULL_OBJECT" or "COMPOSITE" (multipart objects).
    pub kind: String,
}

/// Everything needed to read one object version back: the manifest of DESIGN.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub bucket: String,
    pub key: String,
    /// Random hex id of this object version.
    pub version_id: String,
    pub size: u64,
    /// ETag without quotes: hex MD5, or `<hex>-<N>` for multipart objects.
    pub etag: String,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
    /// Standard headers kept verbatim: content-type, content-encoding, content-disposition,
    /// cache-control, expires, content-language; lower-case names.
    pub headers: Vec<(String, String)>,
    /// `x-amz-meta-*` pairs, names lower-case without the prefix.
    pub user_meta: Vec<(String, String)>,
    pub checksum: Option<Checksum>,
    /// DEK wrapped by the master key `key_id`; base64.
    pub wrapped_dek: String,
    pub key_id: String,
    /// Parts in order; a single-part object has exactly one, a zero-byte object one of size 0.
    pub parts: Vec<StoredPart>,
    /// Number of parts the client uploaded (0 for a single PUT); drives the `-N` ETag form.
    pub multipart_count: u32,
    /// Written while the bucket's versioning was `Enabled`: its S3 version id is `version_id`.
    /// Otherwise it is the bucket's "null" version (S3 version id `null`), which the next
    /// unversioned write of the key replaces.
    #[serde(default)]
    pub versioned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// Object tags (`x-amz-tagging`, PutObjectTagging), in the order the client sent them.
    /// Metadata like the rest: sealed into the manifest copies, never stored in plaintext.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

/// The S3 version id of a version: its own id when written with versioning enabled, else
/// `null`.
pub fn s3_version_id(versioned: bool, version_id: &str) -> &str {
    if versioned { version_id } else { NULL_VERSION }
}

/// The version id S3 gives versions written while versioning was off or suspended.
pub const NULL_VERSION: &str = "null";

impl ObjectRecord {
    pub fn s3_version_id(&self) -> &str {
        s3_version_id(self.versioned, &self.version_id)
    }

    /// Locked against permanent deletion at `now_ms`: a legal hold, a compliance retention
    /// that has not ended, or a governance retention that has not ended unless bypassed.
    pub fn is_locked(&self, now_ms: i64, bypass_governance: bool) -> bool {
        self.legal_hold
            || self.retention.as_ref().is_some_and(|r| {
                r.retain_until_ms > now_ms
                    && (r.mode == RetentionMode::Compliance || !bypass_governance)
            })
    }

    /// Some shard file of some part was never written: redundancy is below the policy.
    pub fn is_degraded(&self) -> bool {
        self.parts.iter().any(|p| !p.missing_shards.is_empty())
    }
}

/// An in-progress multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    /// The version id the completed object will get.
    pub version_id: String,
    pub initiated_ms: i64,
    pub headers: Vec<(String, String)>,
    pub user_meta: Vec<(String, String)>,
    /// Checksum algorithm the client declared at create time, if any.
    pub checksum_algorithm: Option<String>,
    pub wrapped_dek: String,
    pub key_id: String,
    /// Object Lock settings the completed object gets (from the create request's headers or
    /// the bucket's default retention at create time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// Tags from `x-amz-tagging` at create time, carried to the completed object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    pub upload_id: String,
    pub part: StoredPart,
    pub last_modified_ms: i64,
}

/// A shard file that is no longer referenced and may be deleted from its location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanBlob {
    pub blob_id: String,
    pub part_number: u32,
    pub shards: Vec<ShardRef>,
}

/// Parameters of a key listing (ListObjects v1/v2 share this).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub prefix: String,
    /// Return only keys strictly greater than this.
    pub after: Option<String>,
    pub limit: usize,
}

/// Parameters of a multipart-upload listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadListQuery {
    pub prefix: String,
    /// Resume after this (key, upload id) pair; upload id may be empty to skip the whole key.
    pub after: Option<(String, String)>,
    pub limit: usize,
}

/// A delete marker: the latest version of a key in a versioned bucket after a DELETE without
/// version id. Has no data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMarker {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    /// As [`ObjectRecord::versioned`]: false makes it the "null" version.
    pub versioned: bool,
    pub last_modified_ms: i64,
}

impl DeleteMarker {
    pub fn s3_version_id(&self) -> &str {
        s3_version_id(self.versioned, &self.version_id)
    }
}

/// One entry of a version listing (or a version look-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionEntry {
    Object(Box<ObjectRecord>),
    DeleteMarker(DeleteMarker),
}

impl VersionEntry {
    pub fn key(&self) -> &str {
        match self {
            VersionEntry::Object(o) => &o.key,
            VersionEntry::DeleteMarker(d) => &d.key,
        }
    }
    pub fn s3_version_id(&self) -> &str {
        match self {
            VersionEntry::Object(o) => o.s3_version_id(),
            VersionEntry::DeleteMarker(d) => d.s3_version_id(),
        }
    }
    pub fn last_modified_ms(&self) -> i64 {
        match self {
            VersionEntry::Object(o) => o.last_modified_ms,
            VersionEntry::DeleteMarker(d) => d.last_modified_ms,
        }
    }
}

/// A version listing entry with whether it is the key's latest version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedVersion {
    pub entry: VersionEntry,
    pub is_latest: bool,
}

/// Parameters of a version listing (ListObjectVersions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionListQuery {
    pub prefix: String,
    /// Resume after this key; with a version id, after that version of the key (the key's
    /// remaining, older versions come first).
    pub after_key: Option<String>,
    pub after_version: Option<String>,
    pub limit: usize,
}
/// What a conditional write (S3 `If-None-Match: *` / `If-Match` on PUT and
/// CompleteMultipartUpload) requires of the current version of its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteCondition {
    /// No object may exist at the key.
    IfAbsent,
    /// An object must exist at the key with this ETag (unquoted).
    IfEtagMatches(String),
}

impl WriteCondition {
    /// Checks the condition against the current version (`None`: no object).
    pub fn check(&self, current: Option<&ObjectRecord>) -> Result<(), crate::meta::MetaError> {
        use crate::meta::MetaError;
        match (self, current) {
            (WriteCondition::IfAbsent, None) => Ok(()),
            (WriteCondition::IfAbsent, Some(_)) => Err(MetaError::PreconditionFailed),
            (WriteCondition::IfEtagMatches(_), None) => Err(MetaError::NoSuchKey),
            (WriteCondition::IfEtagMatches(etag), Some(cur)) if *etag == cur.etag => Ok(()),
            (WriteCondition::IfEtagMatches(_), Some(_)) => Err(MetaError::PreconditionFailed),
        }
    }
}
