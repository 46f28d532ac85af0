//! Browser form uploads (POST Object): `POST /bucket` with a `multipart/form-data` body, as
//! an HTML form or `generate_presigned_post` sends it.
//!
//! No Authorization header: the form carries a base64 JSON policy (expiration and conditions)
//! and `x-amz-signature`, the SigV4 HMAC of that policy ([`crate::s3::auth::sigv4`] checks it).
//! The fields before the `file` part are read (bounded by [`MAX_FIELDS_BYTES`]) and checked
//! against the policy; then the file part is streamed into the engine writer as it arrives,
//! with `content-length-range` enforced on the way, and committed like a PutObject. Fields after
//! the file are ignored, as S3 does.

use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use super::object::commit_if;
use super::tagging::TagTarget;
use super::{object_metadata, quoted, require_bucket};
use crate::meta::ObjectRecord;
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::xml::XmlWriter;
use crate::s3::{S3State, empty_response, host, now_ms};

/// Largest total size of the form fields before the file (names and values).
pub const MAX_FIELDS_BYTES: usize = 64 * 1024;
/// Largest header block of one form part.
const MAX_PART_HEADER_BYTES: usize = 8 * 1024;
/// Most fields a form may have before the file.
const MAX_FIELDS: usize = 200;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

fn malformed(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::MalformedPOSTRequest, message)
}

fn not_multipart() -> S3Error {
    malformed("The body of your POST request is not well-formed multipart/form-data.")
}

fn policy_denied(reason: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {reason}"),
    )
}

fn invalid_policy(reason: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {reason}"),
    )
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type.
fn boundary(headers: &HeaderMap) -> S3Result<String> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(not_multipart)?;
    let mut params = ct.split(';');
    if !params
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
    {
        return Err(not_multipart());
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(not_multipart)
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let mut from = 0;
    while from <= last_start {
        let at = from
            + hay[from..=last_start]
                .iter()
                .position(|&b| b == needle[0])?;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A `multipart/form-data` body read incrementally: small parts whole, the file as a stream.
struct FormReader {
    body: ByteStream,
    buf: BytesMut,
    /// `\r\n--boundary`: what ends every part.
    delimiter: Vec<u8>,
}

/// Name and filename of one form part, from its Content-Disposition.
struct PartHead {
    name: String,
    filename: Option<String>,
}

impl FormReader {
    fn new(body: ByteStream, boundary: &str) -> Self {
        // The first boundary is not preceded by CRLF; pretending it is lets one delimiter
        // search find every boundary.
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.extend_from_slice(b"\r\n");
        Self {
            body,
            buf,
            delimiter: format!("\r\n--{boundary}").into_bytes(),
        }
    }

    /// Reads one more piece of the body into the buffer; false at its end.
    async fn fill(&mut self) -> S3Result<bool> {
        match self.body.next().await {
            Some(Ok(piece)) => {
                self.buf.extend_from_slice(&piece);
                Ok(true)
            }
            Some(Err(e)) => Err(S3Error::new(
                S3ErrorCode::IncompleteBody,
                format!("reading the request body failed: {e}"),
            )),
            None => Ok(false),
        }
    }

    /// Consumes everything up to and including the next delimiter, which must come within
    /// `limit` bytes; returns what preceded it.
    async fn until_delimiter(&mut self, limit: usize) -> S3Result<Bytes> {
        loop {
            if let Some(at) = find(&self.buf, &self.delimiter) {
                if at > limit {
                    return Err(malformed(
                        "Your POST request fields exceed the maximum allowed size.",
                    ));
                }
                let value = self.buf.split_to(at).freeze();
                self.buf.advance(self.delimiter.len());
                return Ok(value);
            }
            if self.buf.len() > limit + self.delimiter.len() {
                return Err(malformed(
                    "Your POST request fields exceed the maximum allowed size.",
                ));
            }
            if !self.fill().await? {
                return Err(not_multipart());
            }
        }
    }

    /// After a delimiter: true when a part follows, false at the closing `--`.
    async fn part_follows(&mut self) -> S3Result<bool> {
        while self.buf.len() < 2 {
            if !self.fill().await? {
                return Err(not_multipart());
            }
        }
        if self.buf.starts_with(b"--") {
            return Ok(false);
        }
        // Transport padding (spaces, tabs) may follow the boundary before its CRLF.
        loop {
            if let Some(at) = find(&self.buf, b"\r\n") {
                if !self.buf[..at].iter().all(|b| *b == b' ' || *b == b'\t') {
                    return Err(not_multipart());
                }
                self.buf.advance(at + 2);
                return Ok(true);
            }
            if self.buf.len() > 256 || !self.fill().await? {
                return Err(not_multipart());
            }
        }
    }

    /// Reads the header block of the next part.
    async fn part_head(&mut self) -> S3Result<PartHead> {
        let block = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                let block = self.buf.split_to(at).freeze();
                self.buf.advance(4);
                break block;
            }
            if self.buf.starts_with(b"\r\n") {
                // A part without headers.
                self.buf.advance(2);
                break Bytes::new();
            }
            if self.buf.len() > MAX_PART_HEADER_BYTES || !self.fill().await? {
                return Err(not_multipart());
            }
        };
        let text = std::str::from_utf8(&block).map_err(|_| not_multipart())?;
        let mut head = None;
        for line in text.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                head = Some(parse_disposition(value)?);
            }
        }
        let (name, filename) = head.ok_or_else(not_multipart)?;
        Ok(PartHead { name, filename })
    }

    /// The rest of the current part as a stream, ending at the next delimiter; more than `max`
    /// bytes fail with EntityTooLarge, fewer than `min` with EntityTooSmall (both before the
    /// stream ends, so the writer never completes).
    fn file_stream(self, min: u64, max: u64) -> ByteStream {
        struct State {
            reader: FormReader,
            total: u64,
            done: bool,
        }
        let fail = |e: S3Error| std::io::Error::other(e);
        let state = State {
            reader: self,
            total: 0,
            done: false,
        };
        Box::pin(futures::stream::unfold(state, move |mut s| async move {
            if s.done {
                return None;
            }
            loop {
                let keep = s.reader.delimiter.len() - 1;
                let (piece, last) = match find(&s.reader.buf, &s.reader.delimiter) {
                    Some(at) => (s.reader.buf.split_to(at).freeze(), true),
                    None if s.reader.buf.len() > keep => {
                        let safe = s.reader.buf.len() - keep;
                        (s.reader.buf.split_to(safe).freeze(), false)
                    }
                    None => (Bytes::new(), false),
                };
                s.total += piece.len() as u64;
                if s.total > max {
                    s.done = true;
                    return Some((Err(fail(too_large(max))), s));
                }
                if last {
                    s.done = true;
                    if s.total < min {
                        return Some((Err(fail(too_small(min))), s));
                    }
                    return Some((Ok(piece), s));
                }
                if !piece.is_empty() {
                    return Some((Ok(piece), s));
                }
                match s.reader.fill().await {
                    Ok(true) => {}
                    Ok(false) => {
                        s.done = true;
                        return Some((Err(fail(not_multipart())), s));
                    }
                    Err(e) => {
                        s.done = true;
                        return Some((Err(fail(e)), s));
                    }
                }
            }
        }))
    }
}

fn too_large(max: u64) -> S3Error {
    S3Error::new(
        S3ErrorCode::EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed size",
    )
    .with_extra("MaxSizeAllowed", max.to_string())
}

fn too_small(min: u64) -> S3Error {
    S3Error::new(
        S3ErrorCode::EntityTooSmall,
        "Your proposed upload is smaller than the minimum allowed size",
    )
    .with_extra("MinSizeAllowed", min.to_string())
}

/// `form-data; name="field"; filename="a.txt"` → (name, filename).
fn parse_disposition(value: &str) -> S3Result<(String, Option<String>)> {
    let mut params = Vec::new();
    let mut chars = value.chars().peekable();
    // Split on `;` outside quotes, unescaping quoted strings.
    let mut current = String::new();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ';' if !quoted => params.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    params.push(current);
    let mut it = params.into_iter();
    if !it
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("form-data"))
    {
        return Err(not_multipart());
    }
    let mut name = None;
    let mut filename = None;
    for p in it {
        if let Some((k, v)) = p.split_once('=') {
            match k.trim().to_ascii_lowercase().as_str() {
                "name" => name = Some(v.trim().to_string()),
                "filename" => filename = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Ok((name.ok_or_else(not_multipart)?, filename))
}

/// The form fields before the file, names lower-cased (S3 treats them case-insensitively).
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Deserialize)]
struct PolicyDocument {
    expiration: Option<String>,
    #[serde(default)]
    conditions: Vec<serde_json::Value>,
}

/// What a policy allows, once its conditions have been checked against the form.
#[derive(Debug)]
struct Allowed {
    length_range: Option<(u64, u64)>,
}

/// Renders a condition as AWS quotes it in error messages: `["eq", "$key", "a"]`.
fn render_condition(parts: &[String]) -> String {
    let quoted: Vec<String> = parts
        .iter()
        .map(|p| serde_json::to_string(p).unwrap_or_default())
        .collect();
    format!("[{}]", quoted.join(", "))
}

fn condition_number(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Form fields no policy condition needs to mention.
fn exempt_field(name: &str) -> bool {
    matches!(
        name,
        "policy" | "x-amz-signature" | "file" | "awsaccesskeyid" | "signature"
    ) || name.starts_with("x-ignore-")
}

/// Checks the decoded policy against the form (with `key` after `${filename}` substitution)
/// and `bucket`, as S3 does: expiration, every condition, and no form field left uncovered.
fn check_policy(
    policy: &[u8],
    form: &Form,
    bucket: &str,
    key: &str,
    now: time::OffsetDateTime,
) -> S3Result<Allowed> {
    let doc: PolicyDocument =
        serde_json::from_slice(policy).map_err(|_| invalid_policy("Invalid JSON."))?;
    let expiration = doc
        .expiration
        .ok_or_else(|| invalid_policy("Policy missing expiration."))?;
    let expires =
        time::OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339)
            .map_err(|_| invalid_policy(format!("Invalid 'expiration' value: '{expiration}'")))?;
    if expires < now {
        return Err(policy_denied("Policy expired."));
    }
    let value_of = |field: &str| -> Option<String> {
        match field {
            "bucket" => Some(bucket.to_string()),
            "key" => Some(key.to_string()),
            f => form.get(f).map(str::to_string),
        }
    };
    let mut covered = std::collections::HashSet::new();
    let mut allowed = Allowed { length_range: None };
    for condition in &doc.conditions {
        match condition {
            serde_json::Value::Object(map) => {
                for (field, expected) in map {
                    let expected = expected.as_str().ok_or_else(|| {
                        invalid_policy("Invalid Simple-Condition: value must be a string.")
                    })?;
                    let field = field.to_ascii_lowercase();
                    if value_of(&field).as_deref() != Some(expected) {
                        return Err(policy_denied(format!(
                            "Policy Condition failed: {}",
                            render_condition(&["eq".into(), format!("${field}"), expected.into()])
                        )));
                    }
                    covered.insert(field);
                }
            }
            serde_json::Value::Array(items) => {
                let op = items
                    .first()
                    .and_then(|v| v.as_str())
                    .map(str::to_ascii_lowercase)
                    .ok_or_else(|| {
                        invalid_policy(
                            "Invalid condition: the first element must name the operation.",
                        )
                    })?;
                if op == "content-length-range" {
                    let (Some(min), Some(max)) = (
                        items.get(1).and_then(condition_number),
                        items.get(2).and_then(condition_number),
                    ) else {
                        return Err(invalid_policy(
                            "Invalid content-length-range: expecting two non-negative integers.",
                        ));
                    };
                    if items.len() != 3 {
                        return Err(invalid_policy("Invalid content-length-range."));
                    }
                    allowed.length_range = Some((min, max));
                    continue;
                }
                let (Some(field), Some(expected), 3) = (
                    items.get(1).and_then(|v| v.as_str()),
                    items.get(2).and_then(|v| v.as_str()),
                    items.len(),
                ) else {
                    return Err(invalid_policy(format!(
                        "Invalid condition {condition}: expecting [operation, \"$field\", value]."
                    )));
                };
                let Some(name) = field.strip_prefix('$') else {
                    return Err(invalid_policy(format!(
                        "Invalid condition {condition}: the field must start with '$'."
                    )));
                };
                let name = name.to_ascii_lowercase();
                let actual = value_of(&name);
                let ok = match op.as_str() {
                    "eq" => actual.as_deref() == Some(expected),
                    // Content-Type may list several values; each must match (as S3 checks).
                    "starts-with" if name == "content-type" => actual
                        .as_deref()
                        .is_some_and(|v| v.split(',').all(|t| t.trim().starts_with(expected))),
                    "starts-with" => actual.as_deref().is_some_and(|v| v.starts_with(expected)),
                    _ => {
                        return Err(invalid_policy(format!(
                            "Invalid condition: unknown operation '{op}'."
                        )));
                    }
                };
                if !ok {
                    return Err(policy_denied(format!(
                        "Policy Condition failed: {}",
                        render_condition(&[op.clone(), field.to_string(), expected.to_string()])
                    )));
                }
                covered.insert(name);
            }
            _ => {
                return Err(invalid_policy(
                    "Invalid condition: expecting an object or an array.",
                ));
            }
        }
    }
    if let Some((name, _)) = form
        .fields
        .iter()
        .find(|(n, _)| !exempt_field(n) && !covered.contains(n))
    {
        return Err(policy_denied(format!("Extra input fields: {name}")));
    }
    Ok(allowed)
}

/// Form fields kept with the object (Content-Type, Cache-Control, x-amz-meta-*, ...), as
/// headers so that PutObject's rules apply unchanged.
fn metadata_headers(form: &Form) -> S3Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, value) in &form.fields {
        let keep =
            super::STORED_HEADERS.contains(&name.as_str()) || name.starts_with("x-amz-meta-");
        if !keep {
            continue;
        }
        let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) else {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("form field {name} is not a valid header"),
            ));
        };
        headers.append(n, v);
    }
    Ok(headers)
}

fn required<'a>(form: &'a Form, name: &str) -> S3Result<&'a str> {
    form.get(name).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."),
        )
    })
}

pub async fn post_object(
    state: &Arc<S3State>,
    bucket: &str,
    parts: http::request::Parts,
    body: Body,
) -> S3Result<Response> {
    let boundary = boundary(&parts.headers)?;
    require_bucket(state, bucket).await?;
    let stream: ByteStream = Box::pin(
        body.into_data_stream()
            .map(|r| r.map_err(std::io::Error::other)),
    );
    let mut reader = FormReader::new(stream, &boundary);
    // Preamble up to the first boundary.
    reader.until_delimiter(MAX_PART_HEADER_BYTES).await?;
    let mut form = Form { fields: Vec::new() };
    let mut form_bytes = 0;
    let file = loop {
        if !reader.part_follows().await? {
            break None;
        }
        let head = reader.part_head().await?;
        let name = head.name.to_ascii_lowercase();
        if name == "file" {
            break Some(head);
        }
        let value = reader
            .until_delimiter(MAX_FIELDS_BYTES.saturating_sub(form_bytes))
            .await?;
        form_bytes += name.len() + value.len();
        if form.fields.len() >= MAX_FIELDS {
            return Err(malformed("Your POST request has too many fields."));
        }
        let value = String::from_utf8(value.to_vec())
            .map_err(|_| malformed("POST form fields must be UTF-8 text."))?;
        form.fields.push((name, value));
    };
    let Some(file) = file else {
        return Err(S3Error::new(
            S3ErrorCode::IncorrectNumberOfFilesInPostRequest,
            "POST requires exactly one file upload per request.",
        ));
    };

    // Authentication: the signed policy.
    let policy_b64 = form.get("policy").ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "Access Denied: anonymous uploads are not allowed; the form needs a signed policy",
        )
    })?;
    let algorithm = required(&form, "x-amz-algorithm")?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!(
                "Unsupported x-amz-algorithm \"{algorithm}\"; only AWS4-HMAC-SHA256 is accepted"
            ),
        ));
    }
    let credential = required(&form, "x-amz-credential")?;
    required(&form, "x-amz-date")?;
    let signature = required(&form, "x-amz-signature")?;
    crate::s3::auth::sigv4::verify_post_policy(
        state.secrets.as_ref(),
        credential,
        policy_b64,
        signature,
    )?;
    let policy = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| invalid_policy("policy is not valid base64."))?;

    let key_field = required(&form, "key")?;
    let filename = file.filename.clone().unwrap_or_default();
    let key = key_field.replace("${filename}", &filename);
    if key.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "User key must have a length greater than 0.",
        ));
    }
    host::check_key(&key)?;
    let allowed = check_policy(
        &policy,
        &form,
        bucket,
        &key,
        time::OffsetDateTime::now_utc(),
    )?;
    let meta_headers = metadata_headers(&form)?;
    let (headers, user_meta) = object_metadata(&meta_headers)?;
    let tags = match form.get("tagging") {
        Some(doc) => super::tagging::parse_tagging_xml(doc.as_bytes(), TagTarget::Object)?,
        None => Vec::new(),
    };

    // Form uploads name no lock headers: the bucket's versioning and default retention apply.
    let settings =
        super::versioning::new_version_settings(state, bucket, &HeaderMap::new()).await?;
    let (min, max) = allowed.length_range.unwrap_or((0, state.max_put_size));
    let max = max.min(state.max_put_size);
    let version = state.engine.new_version();
    let written = state
        .engine
        .write_part(&version.dek, 1, reader.file_stream(min, max), None, max)
        .await?;
    let record = ObjectRecord {
        bucket: bucket.to_string(),
        key: key.clone(),
        version_id: version.version_id,
        size: written.part.size,
        etag: hex::encode(written.md5),
        last_modified_ms: now_ms(),
        headers,
        user_meta,
        checksum: None,
        wrapped_dek: version.wrapped_dek,
        key_id: version.key_id,
        parts: vec![written.part],
        multipart_count: 0,
        tags,
        versioned: settings.versioned,
        retention: settings.retention.clone(),
        legal_hold: settings.legal_hold,
    };
    commit_if(state, &record, None).await?;
    Ok(success_response(
        &parts.headers,
        &form,
        bucket,
        &key,
        &record.etag,
    ))
}

/// The object's URL as S3 reports it in `Location`.
fn object_url(request_headers: &HeaderMap, bucket: &str, key: &str) -> String {
    let host = request_headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, PATH_SET).to_string();
    format!("http://{host}/{}/{}", encode(bucket), encode(key))
}

/// Characters escaped in an object URL path (unreserved characters and `/` stay).
const PATH_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// `success_action_redirect` → 303 to it; `success_action_status` 200 or 201 (with the
/// PostResponse document); 204 otherwise, as S3 answers.
fn success_response(
    request_headers: &HeaderMap,
    form: &Form,
    bucket: &str,
    key: &str,
    etag: &str,
) -> Response {
    let location = object_url(request_headers, bucket, key);
    let etag_header = quoted(etag);
    let redirect = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let mut r = if let Some(url) = redirect {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("bucket", bucket)
            .append_pair("key", key)
            .append_pair("etag", &etag_header)
            .finish();
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut r = empty_response(StatusCode::SEE_OTHER);
        if let Ok(v) = HeaderValue::from_str(&format!("{url}{sep}{query}")) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    } else {
        match form.get("success_action_status") {
            Some("200") => empty_response(StatusCode::OK),
            Some("201") => {
                let mut w = XmlWriter::new("PostResponse");
                w.elem("Location", &location)
                    .elem("Bucket", bucket)
                    .elem("Key", key)
                    .elem("ETag", &etag_header);
                let mut r = crate::s3::xml_response(w.finish("PostResponse"));
                *r.status_mut() = StatusCode::CREATED;
                r
            }
            _ => empty_response(StatusCode::NO_CONTENT),
        }
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag_header) {
        h.insert(http::header::ETAG, v);
    }
    if !h.contains_key(http::header::LOCATION)
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        h.insert(http::header::LOCATION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> Form {
        Form {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn now() -> time::OffsetDateTime {
        time::macros::datetime!(2026-12-04 12:00 UTC)
    }

    #[test]
    fn finds_delimiters() {
        assert_eq!(find(b"abc\r\n--xy", b"\r\n--xy"), Some(3));
        assert_eq!(find(b"\r\r\n--x", b"\r\n--x"), Some(1));
        assert_eq!(find(b"\r\n--", b"\r\n--x"), None);
    }

    #[test]
    fn disposition() {
        let (n, f) =
            parse_disposition(r#" form-data; name="file"; filename="a;\"b\".txt""#).unwrap();
        assert_eq!((n.as_str(), f.as_deref()), ("file", Some(r#"a;"b".txt"#)));
        assert!(parse_disposition("attachment; name=x").is_err());
    }

    #[test]
    fn policy_conditions() {
        let f = form(&[
            ("key", "uploads/${filename}"),
            ("content-type", "image/png"),
            ("x-amz-meta-a", "1"),
        ]);
        let policy = br#"{"expiration":"2026-12-05T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key","uploads/"],["starts-with","$Content-Type","image/"],["eq","$x-amz-meta-a","1"],["content-length-range",1,10]]}"#;
        let allowed = check_policy(policy, &f, "b", "uploads/x.png", now()).unwrap();
        assert_eq!(allowed.length_range, Some((1, 10)));
        let denied =
            |p: &[u8], f: &Form| check_policy(p, f, "b", "uploads/x.png", now()).unwrap_err();
        let e = denied(
            br#"{"expiration":"2026-12-05T00:00:00Z","conditions":[{"bucket":"other"}]}"#,
            &form(&[]),
        );
        assert_eq!(e.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            e.message,
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "other"]"#
        );
        let e = denied(
            br#"{"expiration":"2026-12-04T11:00:00Z","conditions":[]}"#,
            &form(&[]),
        );
        assert_eq!(e.message, "Invalid according to Policy: Policy expired.");
        let e = denied(
            br#"{"expiration":"2026-12-05T00:00:00Z","conditions":[]}"#,
            &form(&[("x-amz-meta-b", "2")]),
        );
        assert_eq!(
            e.message,
            "Invalid according to Policy: Extra input fields: x-amz-meta-b"
        );
        let e = denied(b"{not json", &form(&[]));
        assert_eq!(e.code, S3ErrorCode::InvalidPolicyDocument);
        let e = denied(
            br#"{"expiration":"2026-12-05T00:00:00Z","conditions":[["matches","$key","x"]]}"#,
            &form(&[]),
        );
        assert_eq!(e.code, S3ErrorCode::InvalidPolicyDocument);
    }

    /// Reads the fields and the file of `body` delivered in pieces of `piece` bytes.
    async fn read_form(
        body: &[u8],
        piece: usize,
        min: u64,
        max: u64,
    ) -> S3Result<(Vec<(String, String)>, Vec<u8>)> {
        let pieces: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut reader = FormReader::new(Box::pin(futures::stream::iter(pieces)), "b0undary");
        reader.until_delimiter(MAX_PART_HEADER_BYTES).await?;
        let mut fields = Vec::new();
        loop {
            if !reader.part_follows().await? {
                return Ok((fields, Vec::new()));
            }
            let head = reader.part_head().await?;
            if head.name == "file" {
                break;
            }
            let value = reader.until_delimiter(MAX_FIELDS_BYTES).await?;
            fields.push((head.name, String::from_utf8(value.to_vec()).unwrap()));
        }
        let mut file = Vec::new();
        let mut stream = reader.file_stream(min, max);
        while let Some(piece) = stream.next().await {
            file.extend_from_slice(&piece.map_err(|e| crate::s3::auth::body_error(&e))?);
        }
        Ok((fields, file))
    }

    #[tokio::test]
    async fn form_parts_survive_any_split() {
        // File bytes that look like partial boundaries must come through unchanged (a client
        // picks a boundary that never occurs whole in the content).
        let content: Vec<u8> = b"\r\n--b0undar\r\n-\r\n--b0undarX\r\n--b0unda".repeat(40);
        let mut body = Vec::new();
        body.extend_from_slice(b"preamble\r\n--b0undary\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nup/${filename}\r\n");
        body.extend_from_slice(b"--b0undary  \r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n\r\n--b0undary\r\n");
        body.extend_from_slice(b"Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(&content);
        body.extend_from_slice(b"\r\n--b0undary\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--b0undary--\r\n");
        for piece in [1, 2, 3, 7, 13, 64, 4096, body.len()] {
            let (fields, file) = read_form(&body, piece, 0, u64::MAX).await.unwrap();
            assert_eq!(
                fields,
                [
                    ("key".to_string(), "up/${filename}".to_string()),
                    ("policy".to_string(), String::new())
                ],
                "piece {piece}"
            );
            assert_eq!(file, content, "piece {piece}");
        }
        let len = content.len() as u64;
        let e = read_form(&body, 5, 0, len - 1).await.unwrap_err();
        assert_eq!(e.code, S3ErrorCode::EntityTooLarge);
        let e = read_form(&body, 5, len + 1, u64::MAX).await.unwrap_err();
        assert_eq!(e.code, S3ErrorCode::EntityTooSmall);
        assert!(read_form(&body, 5, len, len).await.is_ok());
        // Cut off inside the file: no silent truncation.
        let cut = &body[..body.len() - 80 - content.len() / 2];
        let e = read_form(cut, 9, 0, u64::MAX).await.unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedPOSTRequest);
    }
}
