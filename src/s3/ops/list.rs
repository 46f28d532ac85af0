//! ListObjects (v1) and ListObjectsV2: prefix, delimiter, markers, pagination, url encoding.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine as _;

use super::{quoted, require_bucket};
use crate::meta::{ListQuery, ObjectRecord};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::router::Query;
use crate::s3::xml::XmlWriter;
use crate::s3::{S3State, iso8601, xml_response};

/// Keys fetched from the store per round while grouping.
const BATCH: usize = 1000;
/// S3's maximum (and default) page size.
pub const MAX_KEYS: usize = 1000;

enum Entry {
    Object(Box<ObjectRecord>),
    Prefix(String),
}

struct Page {
    entries: Vec<Entry>,
    truncated: bool,
    /// Resume point for the next page: keys strictly greater than this are listed next.
    next_after: Option<String>,
}

/// Lists keys under `prefix` after `after`, grouping by `delimiter`, up to `max` entries.
async fn collect(
    state: &S3State,
    bucket: &str,
    prefix: &str,
    delimiter: &str,
    mut after: Option<String>,
    max: usize,
) -> S3Result<Page> {
    let mut entries = Vec::new();
    // A marker inside (or equal to) a common prefix means that prefix was already returned:
    // S3 does not repeat it, so paging by a NextMarker that is a prefix makes progress.
    let mut last_prefix: Option<String> = None;
    let marker = after.clone();
    loop {
        if entries.len() > max {
            break;
        }
        let batch = state
            .meta
            .list_objects(
                bucket,
                &ListQuery {
                    prefix: prefix.to_string(),
                    after: after.clone(),
                    limit: BATCH,
                },
            )
            .await?;
        let exhausted = batch.len() < BATCH;
        for record in batch {
            after = Some(record.key.clone());
            let rest = &record.key[prefix.len()..];
            let group = (!delimiter.is_empty())
                .then(|| rest.find(delimiter))
                .flatten()
                .map(|i| format!("{prefix}{}", &rest[..i + delimiter.len()]));
            match group {
                Some(p) if last_prefix.as_deref() == Some(p.as_str()) => continue,
                Some(p) if marker.as_deref().is_some_and(|m| m.starts_with(&p)) => {
                    after = Some(format!("{p}\u{10FFFF}"));
                    last_prefix = Some(p);
                    continue;
                }
                Some(p) => {
                    last_prefix = Some(p.clone());
                    // Skip the rest of this group: nothing sorts between p+U+10FFFF and the
                    // next group that could still start with p.
                    after = Some(format!("{p}\u{10FFFF}"));
                    entries.push(Entry::Prefix(p));
                    if entries.len() > max {
                        break;
                    }
                    // The store may still return keys of this group in this batch; they are
                    // skipped by the last_prefix check above.
                }
                None => {
                    entries.push(Entry::Object(Box::new(record)));
                    if entries.len() > max {
                        break;
                    }
                }
            }
        }
        if exhausted {
            break;
        }
    }
    let truncated = entries.len() > max;
    entries.truncate(max);
    let next_after = match entries.last() {
        Some(Entry::Object(r)) if truncated => Some(r.key.clone()),
        Some(Entry::Prefix(p)) if truncated => Some(format!("{p}\u{10FFFF}")),
        _ => None,
    };
    Ok(Page {
        entries,
        truncated,
        next_after,
    })
}

fn encode_key(s: &str, url: bool) -> String {
    if !url {
        return s.to_string();
    }
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

pub async fn list_objects(
    state: &Arc<S3State>,
    bucket: &str,
    q: &Query,
    v2: bool,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let get = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    let prefix = get("prefix");
    let delimiter = get("delimiter");
    let url = match q.get("encoding-type").map(String::as_str) {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            ));
        }
    };
    let max = match q.get("max-keys") {
        None => MAX_KEYS,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Provided max-keys not an integer or within integer range",
                )
            })?
            .min(MAX_KEYS as i64) as usize,
    };
    let token = q.get("continuation-token");
    let start_after = get("start-after");
    let marker = get("marker");
    let after = if v2 {
        match token {
            Some(t) => Some(decode_token(t)?),
            None => (!start_after.is_empty()).then(|| start_after.to_string()),
        }
    } else {
        (!marker.is_empty()).then(|| marker.to_string())
    };
    let page = if max == 0 {
        Page {
            entries: vec![],
            truncated: false,
            next_after: None,
        }
    } else {
        collect(state, bucket, prefix, delimiter, after, max).await?
    };

    let root = "ListBucketResult";
    let mut w = XmlWriter::new(root);
    w.elem("Name", bucket)
        .elem("Prefix", encode_key(prefix, url));
    if v2 {
        if let Some(t) = token {
            w.elem("ContinuationToken", t);
        }
        if !start_after.is_empty() {
            w.elem("StartAfter", encode_key(start_after, url));
        }
        w.elem("KeyCount", page.entries.len().to_string());
    } else {
        w.elem("Marker", encode_key(marker, url));
    }
    w.elem("MaxKeys", max.to_string());
    if !delimiter.is_empty() {
        w.elem("Delimiter", encode_key(delimiter, url));
    }
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", page.truncated.to_string());
    if let Some(next) = &page.next_after {
        if v2 {
            w.elem("NextContinuationToken", encode_token(next));
        } else {
            let shown = next.strip_suffix('\u{10FFFF}').unwrap_or(next);
            w.elem("NextMarker", encode_key(shown, url));
        }
    }
    let fetch_owner = !v2 || q.get("fetch-owner").is_some_and(|v| v == "true");
    for entry in &page.entries {
        if let Entry::Object(r) = entry {
            w.open("Contents")
                .elem("Key", encode_key(&r.key, url))
                .elem("LastModified", iso8601(r.last_modified_ms))
                .elem("ETag", quoted(&r.etag))
                .elem("Size", r.size.to_string());
            if let Some(c) = &r.checksum {
                w.elem("ChecksumAlgorithm", &c.algorithm)
                    .elem("ChecksumType", &c.kind);
            }
            if fetch_owner {
                w.open("Owner")
                    .elem("ID", "chunkworks")
                    .elem("DisplayName", "chunkworks")
                    .close("Owner");
            }
            w.elem("StorageClass", "STANDARD").close("Contents");
        }
    }
    for entry in &page.entries {
        if let Entry::Prefix(p) = entry {
            w.open("CommonPrefixes")
                .elem("Prefix", encode_key(p, url))
                .close("CommonPrefixes");
        }
    }
    Ok(xml_response(w.finish(root)))
}

fn encode_token(after: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_url_encoding() {
        for s in ["a/b", "ünï/\u{10FFFF}", ""] {
            assert_eq!(decode_token(&encode_token(s)).unwrap(), s);
        }
        assert!(decode_token("!!").is_err());
        assert_eq!(encode_key("a b+c/ü", true), "a%20b%2Bc/%C3%BC");
        assert_eq!(encode_key("a b", false), "a b");
    }
}
