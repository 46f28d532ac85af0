//! Conditional request headers as S3 applies them (RFC 7232 precedence):
//! `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since` on GetObject and
//! HeadObject, their `x-amz-copy-source-if-*` forms on CopyObject and UploadPartCopy, and the
//! write conditions (`If-None-Match: *`, `If-Match`) of PutObject and CompleteMultipartUpload.
//! Pure header parsing and evaluation; no I/O.

use http::HeaderMap;

use super::error::{S3Error, S3ErrorCode, S3Result};
use crate::meta::WriteCondition;

/// The four read conditions of one request, parsed. Dates are whole Unix seconds; a date that
/// does not parse is ignored, as RFC 7232 says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<i64>,
    if_unmodified_since: Option<i64>,
}

/// What the conditions say about an object version.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    /// 304 on GET/HEAD (412 on a copy source); carries the header that decided.
    NotModified(&'static str),
    /// 412; carries the header that failed, for the error body's `Condition`.
    Failed(&'static str),
}

impl Preconditions {
    /// The plain headers of GetObject/HeadObject.
    pub fn for_get(headers: &HeaderMap) -> Self {
        Self::parse(
            headers,
            "if-match",
            "if-none-match",
            "if-modified-since",
            "if-unmodified-since",
        )
    }

    /// The `x-amz-copy-source-if-*` headers of a copy.
    pub fn for_copy_source(headers: &HeaderMap) -> Self {
        Self::parse(
            headers,
            "x-amz-copy-source-if-match",
            "x-amz-copy-source-if-none-match",
            "x-amz-copy-source-if-modified-since",
            "x-amz-copy-source-if-unmodified-since",
        )
    }

    fn parse(
        headers: &HeaderMap,
        if_match: &str,
        if_none_match: &str,
        if_modified_since: &str,
        if_unmodified_since: &str,
    ) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
        };
        let date = |name: &str| {
            text(name)
                .and_then(|v| httpdate::parse_http_date(&v).ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64)
        };
        Self {
            if_match: text(if_match),
            if_none_match: text(if_none_match),
            if_modified_since: date(if_modified_since),
            if_unmodified_since: date(if_unmodified_since),
        }
    }

    /// Evaluates the conditions for a version with `etag` (unquoted) last modified at
    /// `last_modified_ms`. HTTP dates have whole seconds, so the comparison is in seconds.
    pub fn evaluate(&self, etag: &str, last_modified_ms: i64) -> Verdict {
        let modified = last_modified_ms.div_euclid(1000);
        match &self.if_match {
            Some(list) if !etag_listed(list, etag) => return Verdict::Failed("If-Match"),
            Some(_) => {}
            None => {
                if self
                    .if_unmodified_since
                    .is_some_and(|since| modified > since)
                {
                    return Verdict::Failed("If-Unmodified-Since");
                }
            }
        }
        match &self.if_none_match {
            Some(list) if etag_listed(list, etag) => Verdict::NotModified("If-None-Match"),
            Some(_) => Verdict::Proceed,
            None if self
                .if_modified_since
                .is_some_and(|since| modified <= since) =>
            {
                Verdict::NotModified("If-Modified-Since")
            }
            None => Verdict::Proceed,
        }
    }

    /// For a copy source every failed condition is a 412.
    pub fn check_copy_source(&self, etag: &str, last_modified_ms: i64) -> S3Result<()> {
        match self.evaluate(etag, last_modified_ms) {
            Verdict::Proceed => Ok(()),
            Verdict::NotModified(header) | Verdict::Failed(header) => {
                Err(precondition_failed(&format!("x-amz-copy-source-{header}")))
            }
        }
    }
}

/// Whether a comma-separated `If-Match` / `If-None-Match` list names `etag` (or is `*`).
/// Weak validators compare like strong ones (S3 ETags are never weak).
fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|item| item == "*" || item.trim_start_matches("W/").trim_matches('"') == etag)
}

/// 412 PreconditionFailed naming the failed `condition` header, as AWS answers.
pub fn precondition_failed(condition: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
    .with_extra("Condition", condition)
}

/// The write condition of a PutObject or CompleteMultipartUpload: `If-None-Match: *` (the key
/// must be free) or `If-Match: "<etag>"` (the current version must have that ETag). AWS accepts
/// only `*` in a write's If-None-Match; anything else is refused as not implemented.
pub fn write_condition(headers: &HeaderMap) -> S3Result<Option<WriteCondition>> {
    let text = |name: &str| -> S3Result<Option<String>> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map(|s| s.trim().to_string()).map_err(|_| {
                    S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        format!("header {name} is not valid text"),
                    )
                })
            })
            .transpose()
    };
    let if_none_match = text("if-none-match")?;
    let if_match = text("if-match")?;
    match (if_none_match, if_match) {
        (None, None) => Ok(None),
        (Some(v), None) if v == "*" => Ok(Some(WriteCondition::IfAbsent)),
        (None, Some(v)) if !v.is_empty() && v != "*" && !v.contains(',') => Ok(Some(
            WriteCondition::IfEtagMatches(v.trim_matches('"').to_string()),
        )),
        _ => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "A header you provided implies functionality that is not implemented",
        )),
    }
}

/// The 412 answer of a failed write condition.
pub fn write_condition_failed(condition: &WriteCondition) -> S3Error {
    precondition_failed(match condition {
        WriteCondition::IfAbsent => "If-None-Match",
        WriteCondition::IfEtagMatches(_) => "If-Match",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    const T: i64 = 1_700_000_000_500; // 2023-11-14T22:13:20.5Z
    const AT: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const BEFORE: &str = "Tue, 14 Nov 2023 22:13:19 GMT";

    fn verdict(pairs: &[(&'static str, &str)]) -> Verdict {
        Preconditions::for_get(&headers(pairs)).evaluate("abc", T)
    }

    #[test]
    fn rfc7232_precedence() {
        use Verdict::*;
        assert_eq!(verdict(&[]), Proceed);
        assert_eq!(verdict(&[("if-match", "\"abc\"")]), Proceed);
        assert_eq!(verdict(&[("if-match", "\"x\", \"abc\"")]), Proceed);
        assert_eq!(verdict(&[("if-match", "*")]), Proceed);
        assert_eq!(verdict(&[("if-match", "\"x\"")]), Failed("If-Match"));
        assert_eq!(verdict(&[("if-unmodified-since", AT)]), Proceed);
        assert_eq!(
            verdict(&[("if-unmodified-since", BEFORE)]),
            Failed("If-Unmodified-Since")
        );
        // If-Match true wins over a false If-Unmodified-Since.
        assert_eq!(
            verdict(&[("if-match", "\"abc\""), ("if-unmodified-since", BEFORE)]),
            Proceed
        );
        assert_eq!(
            verdict(&[("if-none-match", "\"abc\"")]),
            NotModified("If-None-Match")
        );
        assert_eq!(
            verdict(&[("if-none-match", "*")]),
            NotModified("If-None-Match")
        );
        assert_eq!(verdict(&[("if-none-match", "\"x\"")]), Proceed);
        assert_eq!(
            verdict(&[("if-modified-since", AT)]),
            NotModified("If-Modified-Since")
        );
        assert_eq!(verdict(&[("if-modified-since", BEFORE)]), Proceed);
        // If-None-Match decides alone when present.
        assert_eq!(
            verdict(&[("if-none-match", "\"x\""), ("if-modified-since", AT)]),
            Proceed
        );
        assert_eq!(
            verdict(&[("if-none-match", "\"abc\""), ("if-modified-since", BEFORE)]),
            NotModified("If-None-Match")
        );
        // A 412 comes before a 304.
        assert_eq!(
            verdict(&[("if-match", "\"x\""), ("if-none-match", "\"abc\"")]),
            Failed("If-Match")
        );
        // Unparseable dates are ignored.
        assert_eq!(verdict(&[("if-modified-since", "yesterday")]), Proceed);
    }

    #[test]
    fn copy_source_conditions_fail_with_412() {
        let p = Preconditions::for_copy_source(&headers(&[(
            "x-amz-copy-source-if-none-match",
            "\"abc\"",
        )]));
        let e = p.check_copy_source("abc", T).unwrap_err();
        assert_eq!(e.code, S3ErrorCode::PreconditionFailed);
        assert_eq!(
            e.extra,
            [("Condition", "x-amz-copy-source-If-None-Match".to_string())]
        );
        assert!(p.check_copy_source("other", T).is_ok());
    }

    #[test]
    fn write_conditions() {
        assert_eq!(write_condition(&headers(&[])).unwrap(), None);
        assert_eq!(
            write_condition(&headers(&[("if-none-match", "*")])).unwrap(),
            Some(WriteCondition::IfAbsent)
        );
        assert_eq!(
            write_condition(&headers(&[("if-match", "\"abc\"")])).unwrap(),
            Some(WriteCondition::IfEtagMatches("abc".into()))
        );
        for bad in [
            &[("if-none-match", "\"abc\"")][..],
            &[("if-none-match", "*"), ("if-match", "\"abc\"")][..],
        ] {
            assert_eq!(
                write_condition(&headers(bad)).unwrap_err().code,
                S3ErrorCode::NotImplemented
            );
        }
    }
}
