//! Records the metadata store keeps. Plain data: no I/O, no HTTP, no crypto.

use serde::{Deserialize, Serialize};

/// A bucket as the S3 API sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Bucket tags (PutBucketTagging), in the order the client sent them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// CORS rules (PutBucketCors); `None` when the bucket has no CORS configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
}

impl Bucket {
    /// A new bucket without tags or CORS configuration.
    pub fn new(name: impl Into<String>, created_ms: i64) -> Self {
        Self {
            name: name.into(),
            created_ms,
            tags: Vec::new(),
            cors: None,
        }
    }
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
    /// Object tags (`x-amz-tagging`, PutObjectTagging), in the order the client sent them.
    /// Metadata like the rest: sealed into the manifest copies, never stored in plaintext.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

impl ObjectRecord {
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
