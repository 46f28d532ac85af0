//! CORS: Put/Get/DeleteBucketCors, the unauthenticated preflight (`OPTIONS`), and the CORS
//! response headers on actual requests that carry an `Origin`.
//!
//! Rules are matched as S3 does: the first rule whose AllowedOrigin (at most one `*` wildcard)
//! matches the Origin, whose AllowedMethod lists the (requested) method and — for a preflight —
//! whose AllowedHeader patterns cover every requested header (case-insensitively) wins.
//!
//! Every request with an `Origin` needs its bucket's rules, so they are cached per bucket for
//! [`CACHE_TTL`]. This gateway's own changes (Put/DeleteBucketCors, DeleteBucket) drop the entry
//! at once; the TTL bounds how long another replica sharing the metadata store keeps stale rules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;

use super::RequestCtx;
use super::read_xml_body;
use super::require_bucket;
use crate::meta::{CorsRule, MetaError};
use crate::s3::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::xml::{self, XmlWriter};
use crate::s3::{S3State, empty_response, xml_response};

/// Most rules one configuration may hold, as AWS limits it.
const MAX_RULES: usize = 100;
/// Largest CORS configuration document AWS accepts (64 KB).
const MAX_CORS_BODY: usize = 64 * 1024;
/// Methods a rule may allow.
const CORS_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
/// How long a cached bucket configuration is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Most buckets cached at once; the cache is emptied when full (cheap, and rare).
const CACHE_CAPACITY: usize = 4096;

type Rules = Option<Arc<Vec<CorsRule>>>;

/// Per-bucket CORS rules recently read from the metadata store.
#[derive(Debug, Default)]
pub struct CorsCache {
    entries: Mutex<HashMap<String, (Instant, Rules)>>,
}

impl CorsCache {
    fn get(&self, bucket: &str) -> Option<Rules> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(bucket)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, rules)| rules.clone())
    }
    fn put(&self, bucket: &str, rules: Rules) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(bucket.to_string(), (Instant::now(), rules));
    }
    /// Forgets `bucket`'s rules (after this gateway changed or deleted them).
    pub fn invalidate(&self, bucket: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
    }
}

/// The bucket's rules: `Ok(None)` without a configuration, `Err(NoSuchBucket)` without bucket.
async fn bucket_rules(state: &S3State, bucket: &str) -> S3Result<Rules> {
    if let Some(rules) = state.cors.get(bucket) {
        return Ok(rules);
    }
    let record = state
        .meta
        .get_bucket(bucket)
        .await?
        .ok_or(MetaError::NoSuchBucket)?;
    let rules = record.cors.map(Arc::new);
    state.cors.put(bucket, rules.clone());
    Ok(rules)
}

#[derive(Debug, Deserialize)]
struct CorsConfiguration {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<CorsRuleXml>,
}

#[derive(Debug, Deserialize)]
struct CorsRuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age_seconds: Option<String>,
}

fn malformed() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Parses and checks a `<CORSConfiguration>` document as AWS does.
pub fn parse_cors_configuration(body: &[u8]) -> S3Result<Vec<CorsRule>> {
    let doc: CorsConfiguration = xml::parse(body)?;
    if doc.rules.is_empty() || doc.rules.len() > MAX_RULES {
        return Err(malformed());
    }
    doc.rules.into_iter().map(check_rule).collect()
}

fn check_rule(rule: CorsRuleXml) -> S3Result<CorsRule> {
    if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
        return Err(malformed());
    }
    for method in &rule.allowed_methods {
        if !CORS_METHODS.contains(&method.as_str()) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                ),
            ));
        }
    }
    for origin in &rule.allowed_origins {
        if origin.matches('*').count() > 1 {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("AllowedOrigin \"{origin}\" can not have more than one wildcard."),
            ));
        }
    }
    for header in &rule.allowed_headers {
        if header.matches('*').count() > 1 {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("AllowedHeader \"{header}\" can not have more than one wildcard."),
            ));
        }
    }
    let max_age_seconds = rule
        .max_age_seconds
        .map(|s| s.trim().parse::<u32>().map_err(|_| malformed()))
        .transpose()?;
    Ok(CorsRule {
        id: rule.id,
        allowed_origins: rule.allowed_origins,
        allowed_methods: rule.allowed_methods,
        allowed_headers: rule.allowed_headers,
        expose_headers: rule.expose_headers,
        max_age_seconds,
    })
}

fn cors_xml(rules: &[CorsRule]) -> String {
    let mut w = XmlWriter::new("CORSConfiguration");
    for rule in rules {
        w.open("CORSRule");
        if let Some(id) = &rule.id {
            w.elem("ID", id);
        }
        for h in &rule.allowed_headers {
            w.elem("AllowedHeader", h);
        }
        for m in &rule.allowed_methods {
            w.elem("AllowedMethod", m);
        }
        for o in &rule.allowed_origins {
            w.elem("AllowedOrigin", o);
        }
        for h in &rule.expose_headers {
            w.elem("ExposeHeader", h);
        }
        if let Some(age) = rule.max_age_seconds {
            w.elem("MaxAgeSeconds", age.to_string());
        }
        w.close("CORSRule");
    }
    w.finish("CORSConfiguration")
}

pub async fn get_bucket_cors(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    let record = state
        .meta
        .get_bucket(bucket)
        .await?
        .ok_or(MetaError::NoSuchBucket)?;
    match record.cors {
        Some(rules) => Ok(xml_response(cors_xml(&rules))),
        None => Err(S3Error::new(
            S3ErrorCode::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
        )
        .with_extra("BucketName", bucket)),
    }
}

pub async fn put_bucket_cors(
    state: &Arc<S3State>,
    bucket: &str,
    req: RequestCtx,
) -> S3Result<Response> {
    require_bucket(state, bucket).await?;
    let raw = read_xml_body(req, MAX_CORS_BODY).await?;
    let rules = parse_cors_configuration(&raw)?;
    state
        .meta
        .update_bucket(bucket, Box::new(move |b| b.cors = Some(rules)))
        .await?;
    state.cors.invalidate(bucket);
    Ok(empty_response(StatusCode::OK))
}

pub async fn delete_bucket_cors(state: &Arc<S3State>, bucket: &str) -> S3Result<Response> {
    state
        .meta
        .update_bucket(bucket, Box::new(|b| b.cors = None))
        .await?;
    state.cors.invalidate(bucket);
    Ok(empty_response(StatusCode::NO_CONTENT))
}

/// Whether `value` matches `pattern` with at most one `*` standing for any run of characters.
fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match p.split_once('*') {
        None => p == v,
        Some((prefix, suffix)) => {
            v.len() >= prefix.len() + suffix.len() && v.starts_with(prefix) && v.ends_with(suffix)
        }
    }
}

impl CorsRule {
    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin, false))
    }
    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }
    fn allows_header(&self, header: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|h| wildcard_match(h, header, true))
    }
}

/// The first rule allowing `origin`, `method` and every header of `headers`.
fn matching_rule<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allows_origin(origin)
            && r.allows_method(method)
            && headers.iter().all(|h| r.allows_header(h))
    })
}

fn forbidden(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::AccessForbidden, message)
}

/// Sets the CORS headers a matching `rule` grants `origin`.
fn grant(headers: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let wildcard = rule.allowed_origins.iter().any(|o| o == "*");
    let allow_origin = if wildcard { "*" } else { origin };
    if let Ok(v) = HeaderValue::from_str(allow_origin) {
        headers.insert("access-control-allow-origin", v);
    }
    if !wildcard {
        headers.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&rule.allowed_methods.join(", ")) {
        headers.insert("access-control-allow-methods", v);
    }
    if !rule.expose_headers.is_empty()
        && let Ok(v) = HeaderValue::from_str(&rule.expose_headers.join(", "))
    {
        headers.insert("access-control-expose-headers", v);
    }
    if let Some(age) = rule.max_age_seconds {
        headers.insert("access-control-max-age", HeaderValue::from(age));
    }
    headers.insert(
        http::header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        ),
    );
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Answers a preflight `OPTIONS` request (unauthenticated: browsers can't sign it).
pub async fn preflight(state: &S3State, bucket: &str, headers: &HeaderMap) -> S3Result<Response> {
    let Some(origin) = header_text(headers, "origin") else {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            "Insufficient information. Origin request header needed.",
        ));
    };
    let Some(method) = header_text(headers, "access-control-request-method") else {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            "Invalid Access-Control-Request-Method: null",
        ));
    };
    if !CORS_METHODS.contains(&method) {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            format!("Invalid Access-Control-Request-Method: {method}"),
        ));
    }
    let requested: Vec<String> = header_text(headers, "access-control-request-headers")
        .map(|v| {
            v.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let rules = match bucket_rules(state, bucket).await {
        Ok(Some(rules)) => rules,
        Ok(None) => {
            return Err(forbidden(
                "CORSResponse: CORS is not enabled for this bucket.",
            ));
        }
        Err(e) if e.code == S3ErrorCode::NoSuchBucket => {
            return Err(forbidden("CORSResponse: Bucket not found"));
        }
        Err(e) => return Err(e),
    };
    let Some(rule) = matching_rule(&rules, origin, method, &requested) else {
        return Err(forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ));
    };
    let mut r = empty_response(StatusCode::OK);
    grant(r.headers_mut(), rule, origin);
    if !requested.is_empty()
        && let Ok(v) = HeaderValue::from_str(&requested.join(", "))
    {
        r.headers_mut().insert("access-control-allow-headers", v);
    }
    Ok(r)
}

/// Adds the CORS headers to the answer of an actual (non-preflight) request from `origin` to
/// `bucket`, when a rule allows the origin and method. Errors reading the rules leave the
/// answer as it is: CORS headers are a courtesy to browsers, never a reason to fail.
pub async fn apply(
    state: &S3State,
    bucket: &str,
    origin: &str,
    method: &Method,
    response: &mut Response,
) {
    if *method == Method::OPTIONS {
        return;
    }
    let Ok(Some(rules)) = bucket_rules(state, bucket).await else {
        return;
    };
    if let Some(rule) = matching_rule(&rules, origin, method.as_str(), &[]) {
        grant(response.headers_mut(), rule, origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "https://a.example", false));
        assert!(wildcard_match(
            "https://*.example.nl",
            "https://www.example.nl",
            false
        ));
        assert!(!wildcard_match(
            "https://*.example.nl",
            "https://example.nl",
            false
        ));
        assert!(!wildcard_match("https://a.nl", "https://b.nl", false));
        assert!(wildcard_match("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard_match("ab*ba", "aba", false));
    }

    #[test]
    fn configuration_checks() {
        let ok = parse_cors_configuration(
            b"<CORSConfiguration><CORSRule><ID>r1</ID><AllowedOrigin>https://*.nl</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule></CORSConfiguration>",
        )
        .unwrap();
        assert_eq!(ok[0].allowed_methods, ["GET", "PUT"]);
        assert_eq!(ok[0].max_age_seconds, Some(300));
        let round = parse_cors_configuration(cors_xml(&ok).as_bytes()).unwrap();
        assert_eq!(round, ok);
        for (bad, code) in [
            (
                "<CORSConfiguration></CORSConfiguration>",
                S3ErrorCode::MalformedXML,
            ),
            (
                "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
                S3ErrorCode::MalformedXML,
            ),
            (
                "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>",
                S3ErrorCode::InvalidRequest,
            ),
            (
                "<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
                S3ErrorCode::InvalidRequest,
            ),
        ] {
            assert_eq!(
                parse_cors_configuration(bad.as_bytes()).unwrap_err().code,
                code,
                "{bad}"
            );
        }
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            CorsRule {
                allowed_origins: vec!["https://a.nl".into()],
                allowed_methods: vec!["GET".into()],
                ..CorsRule::default()
            },
            CorsRule {
                id: Some("second".into()),
                allowed_origins: vec!["*".into()],
                allowed_methods: vec!["GET".into(), "PUT".into()],
                allowed_headers: vec!["content-*".into()],
                ..CorsRule::default()
            },
        ];
        let m = |o: &str, m: &str, h: &[&str]| {
            let h: Vec<String> = h.iter().map(|s| s.to_string()).collect();
            matching_rule(&rules, o, m, &h).map(|r| r.id.clone())
        };
        assert_eq!(m("https://a.nl", "GET", &[]), Some(None));
        assert_eq!(m("https://a.nl", "PUT", &[]), Some(Some("second".into())));
        assert_eq!(
            m("https://b.nl", "GET", &["content-type"]),
            Some(Some("second".into()))
        );
        assert_eq!(m("https://b.nl", "GET", &["x-amz-date"]), None);
        assert_eq!(m("https://b.nl", "DELETE", &[]), None);
    }
}
