//! Request classification: method + bucket/key + query → [`Operation`]. Pure: no I/O.

use std::collections::BTreeMap;

use http::Method;

use super::error::{S3Error, S3ErrorCode, S3Result};

/// Query parameters, decoded. Keys without `=` map to "".
pub type Query = BTreeMap<String, String>;

/// Every S3 operation the gateway understands, with its addressing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket {
        bucket: String,
    },
    HeadBucket {
        bucket: String,
    },
    DeleteBucket {
        bucket: String,
    },
    GetBucketLocation {
        bucket: String,
    },
    GetBucketVersioning {
        bucket: String,
    },
    PutBucketVersioning {
        bucket: String,
    },
    ListObjectVersions {
        bucket: String,
    },
    GetObjectLockConfiguration {
        bucket: String,
    },
    PutObjectLockConfiguration {
        bucket: String,
    },
    GetObjectRetention {
        bucket: String,
        key: String,
    },
    PutObjectRetention {
        bucket: String,
        key: String,
    },
    GetObjectLegalHold {
        bucket: String,
        key: String,
    },
    PutObjectLegalHold {
        bucket: String,
        key: String,
    },
    ListObjects {
        bucket: String,
    },
    ListObjectsV2 {
        bucket: String,
    },
    ListMultipartUploads {
        bucket: String,
    },
    DeleteObjects {
        bucket: String,
    },
    PutObject {
        bucket: String,
        key: String,
    },
    GetObject {
        bucket: String,
        key: String,
    },
    HeadObject {
        bucket: String,
        key: String,
    },
    DeleteObject {
        bucket: String,
        key: String,
    },
    CreateMultipartUpload {
        bucket: String,
        key: String,
    },
    UploadPart {
        bucket: String,
        key: String,
        upload_id: String,
        part_number: u32,
    },
    CompleteMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    AbortMultipartUpload {
        bucket: String,
        key: String,
        upload_id: String,
    },
    ListParts {
        bucket: String,
        key: String,
        upload_id: String,
    },
    CopyObject {
        bucket: String,
        key: String,
    },
    UploadPartCopy {
        bucket: String,
        key: String,
        upload_id: String,
        part_number: u32,
    },
    GetObjectAttributes {
        bucket: String,
        key: String,
    },
    GetObjectTagging {
        bucket: String,
        key: String,
    },
    PutObjectTagging {
        bucket: String,
        key: String,
    },
    DeleteObjectTagging {
        bucket: String,
        key: String,
    },
    GetBucketTagging {
        bucket: String,
    },
    PutBucketTagging {
        bucket: String,
    },
    DeleteBucketTagging {
        bucket: String,
    },
    GetBucketCors {
        bucket: String,
    },
    PutBucketCors {
        bucket: String,
    },
    DeleteBucketCors {
        bucket: String,
    },
    /// A browser's CORS preflight (`OPTIONS`); answered without authentication.
    CorsPreflight {
        bucket: String,
    },
    /// A browser form upload (`POST /bucket`, multipart/form-data); authenticated by the
    /// signed policy in the form, not by an Authorization header.
    PostObject {
        bucket: String,
    },
    /// Known to S3, not offered here: answered with NotImplemented after authentication.
    Unsupported {
        name: &'static str,
    },
}

/// Bucket subresources that select another operation; none of them is supported yet.
const UNSUPPORTED_BUCKET: &[(&str, &str)] = &[
    ("accelerate", "BucketAccelerate"),
    ("acl", "BucketAcl"),
    ("analytics", "BucketAnalytics"),
    ("encryption", "BucketEncryption"),
    ("intelligent-tiering", "BucketIntelligentTiering"),
    ("inventory", "BucketInventory"),
    ("lifecycle", "BucketLifecycle"),
    ("logging", "BucketLogging"),
    ("metrics", "BucketMetrics"),
    ("notification", "BucketNotification"),
    ("ownershipControls", "BucketOwnershipControls"),
    ("policy", "BucketPolicy"),
    ("policyStatus", "BucketPolicyStatus"),
    ("publicAccessBlock", "PublicAccessBlock"),
    ("replication", "BucketReplication"),
    ("requestPayment", "BucketRequestPayment"),
    ("website", "BucketWebsite"),
];

const UNSUPPORTED_OBJECT: &[(&str, &str)] = &[
    ("acl", "ObjectAcl"),
    ("attributes", "GetObjectAttributes"),
    ("restore", "RestoreObject"),
    ("select", "SelectObjectContent"),
    ("torrent", "GetObjectTorrent"),
];

fn unsupported(table: &[(&str, &'static str)], query: &Query) -> Option<&'static str> {
    table
        .iter()
        .find(|(q, _)| query.contains_key(*q))
        .map(|(_, name)| *name)
}

/// Classifies a request addressed to `bucket` / `key` (both already extracted from path or
/// host and percent-decoded).
pub fn classify(
    method: &Method,
    bucket: Option<&str>,
    key: Option<&str>,
    query: &Query,
    headers: &http::HeaderMap,
) -> S3Result<Operation> {
    let Some(bucket) = bucket.map(str::to_string) else {
        return match *method {
            Method::GET => Ok(Operation::ListBuckets),
            _ => Err(S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                "method not allowed on the service",
            )),
        };
    };
    if *method == Method::OPTIONS {
        return Ok(Operation::CorsPreflight { bucket });
    }
    let Some(key) = key.filter(|k| !k.is_empty()).map(str::to_string) else {
        if let Some(op) = bucket_subresource(method, &bucket, query) {
            return op;
        }
        if let Some(name) = unsupported(UNSUPPORTED_BUCKET, query) {
            return Ok(Operation::Unsupported { name });
        }
        return match *method {
            Method::PUT if query.contains_key("versioning") => {
                Ok(Operation::PutBucketVersioning { bucket })
            }
            Method::PUT if query.contains_key("object-lock") => {
                Ok(Operation::PutObjectLockConfiguration { bucket })
            }
            Method::GET if query.contains_key("object-lock") => {
                Ok(Operation::GetObjectLockConfiguration { bucket })
            }
            Method::GET if query.contains_key("versions") => {
                Ok(Operation::ListObjectVersions { bucket })
            }
            Method::PUT => Ok(Operation::CreateBucket { bucket }),
            Method::HEAD => Ok(Operation::HeadBucket { bucket }),
            Method::DELETE => Ok(Operation::DeleteBucket { bucket }),
            Method::GET if query.contains_key("location") => {
                Ok(Operation::GetBucketLocation { bucket })
            }
            Method::GET if query.contains_key("versioning") => {
                Ok(Operation::GetBucketVersioning { bucket })
            }
            Method::GET if query.contains_key("uploads") => {
                Ok(Operation::ListMultipartUploads { bucket })
            }
            Method::GET if query.get("list-type").map(String::as_str) == Some("2") => {
                Ok(Operation::ListObjectsV2 { bucket })
            }
            Method::GET => Ok(Operation::ListObjects { bucket }),
            Method::POST if query.contains_key("delete") => Ok(Operation::DeleteObjects { bucket }),
            Method::POST => Ok(Operation::PostObject { bucket }),
            _ => Err(S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                "method not allowed on a bucket",
            )),
        };
    };
    let upload_id = query.get("uploadId").cloned();
    match (method.clone(), upload_id) {
        (Method::PUT, Some(upload_id)) => {
            let part_number = parse_part_number(query.get("partNumber"))?;
            if headers.contains_key("x-amz-copy-source") {
                return Ok(Operation::UploadPartCopy {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                });
            }
            Ok(Operation::UploadPart {
                bucket,
                key,
                upload_id,
                part_number,
            })
        }
        (Method::POST, Some(upload_id)) => Ok(Operation::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        }),
        (Method::DELETE, Some(upload_id)) => Ok(Operation::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        }),
        (Method::GET, Some(upload_id)) => Ok(Operation::ListParts {
            bucket,
            key,
            upload_id,
        }),
        (Method::GET, None) if query.contains_key("attributes") => {
            Ok(Operation::GetObjectAttributes { bucket, key })
        }
        (method, None) => {
            if query.contains_key("tagging") {
                return match method {
                    Method::GET => Ok(Operation::GetObjectTagging { bucket, key }),
                    Method::PUT => Ok(Operation::PutObjectTagging { bucket, key }),
                    Method::DELETE => Ok(Operation::DeleteObjectTagging { bucket, key }),
                    _ => Err(S3Error::new(
                        S3ErrorCode::MethodNotAllowed,
                        "method not allowed on object tagging",
                    )),
                };
            }
            if let Some(name) = unsupported(UNSUPPORTED_OBJECT, query) {
                return Ok(Operation::Unsupported { name });
            }
            match method {
                Method::PUT if query.contains_key("retention") => {
                    Ok(Operation::PutObjectRetention { bucket, key })
                }
                Method::GET if query.contains_key("retention") => {
                    Ok(Operation::GetObjectRetention { bucket, key })
                }
                Method::PUT if query.contains_key("legal-hold") => {
                    Ok(Operation::PutObjectLegalHold { bucket, key })
                }
                Method::GET if query.contains_key("legal-hold") => {
                    Ok(Operation::GetObjectLegalHold { bucket, key })
                }
                Method::PUT if headers.contains_key("x-amz-copy-source") => {
                    Ok(Operation::CopyObject { bucket, key })
                }
                Method::PUT => Ok(Operation::PutObject { bucket, key }),
                Method::GET => Ok(Operation::GetObject { bucket, key }),
                Method::HEAD => Ok(Operation::HeadObject { bucket, key }),
                Method::DELETE => Ok(Operation::DeleteObject { bucket, key }),
                Method::POST if query.contains_key("uploads") => {
                    Ok(Operation::CreateMultipartUpload { bucket, key })
                }
                _ => Err(S3Error::new(
                    S3ErrorCode::MethodNotAllowed,
                    "method not allowed on an object",
                )),
            }
        }
        (_, Some(_)) => Err(S3Error::new(
            S3ErrorCode::MethodNotAllowed,
            "method not allowed on an upload",
        )),
    }
}

/// The bucket subresources this gateway serves (`?tagging`, `?cors`).
fn bucket_subresource(method: &Method, bucket: &str, query: &Query) -> Option<S3Result<Operation>> {
    let bucket = bucket.to_string();
    let op = if query.contains_key("tagging") {
        match *method {
            Method::GET => Operation::GetBucketTagging { bucket },
            Method::PUT => Operation::PutBucketTagging { bucket },
            Method::DELETE => Operation::DeleteBucketTagging { bucket },
            _ => return Some(Err(not_allowed_on_subresource())),
        }
    } else if query.contains_key("cors") {
        match *method {
            Method::GET => Operation::GetBucketCors { bucket },
            Method::PUT => Operation::PutBucketCors { bucket },
            Method::DELETE => Operation::DeleteBucketCors { bucket },
            _ => return Some(Err(not_allowed_on_subresource())),
        }
    } else {
        return None;
    };
    Some(Ok(op))
}

fn not_allowed_on_subresource() -> S3Error {
    S3Error::new(
        S3ErrorCode::MethodNotAllowed,
        "The specified method is not allowed against this resource.",
    )
}

fn parse_part_number(value: Option<&String>) -> S3Result<u32> {
    value
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

/// Parses a raw query string into decoded pairs.
pub fn parse_query(raw: Option<&str>) -> Query {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, bucket: Option<&str>, key: Option<&str>, q: &str) -> Operation {
        let mut headers = http::HeaderMap::new();
        if q.contains("copy") {
            headers.insert("x-amz-copy-source", "b/k".parse().unwrap());
        }
        classify(&method, bucket, key, &parse_query(Some(q)), &headers).unwrap()
    }

    #[test]
    fn table() {
        use Operation::*;
        let b = || "b".to_string();
        let k = || "k".to_string();
        let cases = vec![
            (op(Method::GET, None, None, ""), ListBuckets),
            (
                op(Method::PUT, Some("b"), None, ""),
                CreateBucket { bucket: b() },
            ),
            (
                op(Method::GET, Some("b"), None, "list-type=2&prefix=a"),
                ListObjectsV2 { bucket: b() },
            ),
            (
                op(Method::GET, Some("b"), None, "prefix=a"),
                ListObjects { bucket: b() },
            ),
            (
                op(Method::GET, Some("b"), None, "location"),
                GetBucketLocation { bucket: b() },
            ),
            (
                op(Method::GET, Some("b"), None, "uploads"),
                ListMultipartUploads { bucket: b() },
            ),
            (
                op(Method::POST, Some("b"), None, "delete"),
                DeleteObjects { bucket: b() },
            ),
            (
                op(Method::GET, Some("b"), None, "website"),
                Unsupported {
                    name: "BucketWebsite",
                },
            ),
            (
                op(Method::PUT, Some("b"), Some("k"), ""),
                PutObject {
                    bucket: b(),
                    key: k(),
                },
            ),
            (
                op(Method::PUT, Some("b"), Some("k"), "copy"),
                CopyObject {
                    bucket: b(),
                    key: k(),
                },
            ),
            (
                op(
                    Method::PUT,
                    Some("b"),
                    Some("k"),
                    "copy&partNumber=2&uploadId=u",
                ),
                UploadPartCopy {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                    part_number: 2,
                },
            ),
            (
                op(Method::GET, Some("b"), Some("k"), "attributes"),
                GetObjectAttributes {
                    bucket: b(),
                    key: k(),
                },
            ),
            (
                op(Method::POST, Some("b"), Some("k"), "uploads"),
                CreateMultipartUpload {
                    bucket: b(),
                    key: k(),
                },
            ),
            (
                op(Method::PUT, Some("b"), Some("k"), "partNumber=3&uploadId=u"),
                UploadPart {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                    part_number: 3,
                },
            ),
            (
                op(Method::POST, Some("b"), Some("k"), "uploadId=u"),
                CompleteMultipartUpload {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                },
            ),
            (
                op(Method::GET, Some("b"), Some("k"), "uploadId=u"),
                ListParts {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                },
            ),
            (
                op(Method::GET, Some("b"), Some("k"), "tagging"),
                GetObjectTagging {
                    bucket: b(),
                    key: k(),
                },
            ),
            (
                op(Method::DELETE, Some("b"), None, "tagging"),
                DeleteBucketTagging { bucket: b() },
            ),
            (
                op(Method::PUT, Some("b"), None, "cors"),
                PutBucketCors { bucket: b() },
            ),
            (
                op(Method::OPTIONS, Some("b"), Some("k"), ""),
                CorsPreflight { bucket: b() },
            ),
            (
                op(Method::POST, Some("b"), None, ""),
                PostObject { bucket: b() },
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn part_number_bounds() {
        let h = http::HeaderMap::new();
        for bad in ["0", "10001", "x", "-1"] {
            let q = parse_query(Some(&format!("partNumber={bad}&uploadId=u")));
            let e = classify(&Method::PUT, Some("b"), Some("k"), &q, &h).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        }
    }
}
