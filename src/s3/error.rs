//! S3 errors: the code table, HTTP statuses and the XML error body. The only place that knows
//! S3 error codes; lower layers' errors are mapped here (`From` impls at the bottom).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

/// The S3 error codes this gateway answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationHeaderMalformed,
    BadDigest,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    KeyTooLongError,
    MalformedXML,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotImplemented,
    PreconditionFailed,
    RequestTimeTooSkewed,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
    InvalidChunkSizeError,
    NoSuchVersion,
    InvalidBucketState,
    ObjectLockConfigurationNotFoundError,
    NoSuchObjectLockConfiguration,
    AuthorizationQueryParametersError,
    InvalidTag,
    NoSuchTagSet,
    NoSuchCORSConfiguration,
    /// A CORS preflight no rule allows.
    AccessForbidden,
    /// A request S3 can't interpret at all (e.g. a preflight without Origin).
    BadRequest,
    MalformedPOSTRequest,
    InvalidPolicyDocument,
    IncorrectNumberOfFilesInPostRequest,
}

impl S3ErrorCode {
    pub fn as_str(self) -> &'static str {
        use S3ErrorCode::*;
        match self {
            AccessDenied => "AccessDenied",
            AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            BadDigest => "BadDigest",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            BucketNotEmpty => "BucketNotEmpty",
            EntityTooLarge => "EntityTooLarge",
            EntityTooSmall => "EntityTooSmall",
            IncompleteBody => "IncompleteBody",
            InternalError => "InternalError",
            InvalidAccessKeyId => "InvalidAccessKeyId",
            InvalidArgument => "InvalidArgument",
            InvalidBucketName => "InvalidBucketName",
            InvalidDigest => "InvalidDigest",
            InvalidPart => "InvalidPart",
            InvalidPartNumber => "InvalidPartNumber",
            InvalidPartOrder => "InvalidPartOrder",
            InvalidRange => "InvalidRange",
            InvalidRequest => "InvalidRequest",
            KeyTooLongError => "KeyTooLongError",
            MalformedXML => "MalformedXML",
            MethodNotAllowed => "MethodNotAllowed",
            MissingContentLength => "MissingContentLength",
            MissingSecurityHeader => "MissingSecurityHeader",
            NoSuchBucket => "NoSuchBucket",
            NoSuchKey => "NoSuchKey",
            NoSuchUpload => "NoSuchUpload",
            NotImplemented => "NotImplemented",
            PreconditionFailed => "PreconditionFailed",
            RequestTimeTooSkewed => "RequestTimeTooSkewed",
            ServiceUnavailable => "ServiceUnavailable",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            InvalidChunkSizeError => "InvalidChunkSizeError",
            NoSuchVersion => "NoSuchVersion",
            InvalidBucketState => "InvalidBucketState",
            ObjectLockConfigurationNotFoundError => "ObjectLockConfigurationNotFoundError",
            NoSuchObjectLockConfiguration => "NoSuchObjectLockConfiguration",
            AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            InvalidTag => "InvalidTag",
            NoSuchTagSet => "NoSuchTagSet",
            NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            AccessForbidden => "AccessForbidden",
            BadRequest => "BadRequest",
            MalformedPOSTRequest => "MalformedPOSTRequest",
            InvalidPolicyDocument => "InvalidPolicyDocument",
            IncorrectNumberOfFilesInPostRequest => "IncorrectNumberOfFilesInPostRequest",
        }
    }

    pub fn status(self) -> StatusCode {
        use S3ErrorCode::*;
        match self {
            AccessDenied
            | AccessForbidden
            | InvalidAccessKeyId
            | RequestTimeTooSkewed
            | SignatureDoesNotMatch => StatusCode::FORBIDDEN,
            AuthorizationHeaderMalformed
            | AuthorizationQueryParametersError
            | BadDigest
            | EntityTooLarge
            | EntityTooSmall
            | IncompleteBody
            | InvalidArgument
            | InvalidBucketName
            | InvalidDigest
            | InvalidPart
            | InvalidPartOrder
            | InvalidRequest
            | KeyTooLongError
            | MalformedXML
            | MissingSecurityHeader
            | XAmzContentSHA256Mismatch
            | InvalidChunkSizeError
            | InvalidTag
            | BadRequest
            | MalformedPOSTRequest
            | InvalidPolicyDocument
            | IncorrectNumberOfFilesInPostRequest => StatusCode::BAD_REQUEST,
            BucketAlreadyOwnedByYou | BucketNotEmpty | InvalidBucketState => StatusCode::CONFLICT,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            InvalidRange | InvalidPartNumber => StatusCode::RANGE_NOT_SATISFIABLE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            MissingContentLength => StatusCode::LENGTH_REQUIRED,
            NoSuchBucket
            | NoSuchKey
            | NoSuchUpload
            | NoSuchVersion
            | ObjectLockConfigurationNotFoundError
            | NoSuchObjectLockConfiguration
            | NoSuchTagSet
            | NoSuchCORSConfiguration => StatusCode::NOT_FOUND,
            NotImplemented => StatusCode::NOT_IMPLEMENTED,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An S3 error answer. `resource` and `request_id` are filled in by the service layer.
#[derive(Clone, Debug)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    pub resource: String,
    pub request_id: String,
    /// HEAD answers carry no body.
    pub head: bool,
    /// Extra XML elements some codes carry (e.g. RequestTimeTooSkewed's ServerTime).
    pub extra: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            resource: String::new(),
            request_id: String::new(),
            head: false,
            extra: Vec::new(),
        }
    }
    pub fn with_extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            S3ErrorCode::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }
    pub fn to_xml(&self) -> String {
        use crate::s3::xml::escape;
        let mut s = String::with_capacity(256);
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        s.push_str(self.code.as_str());
        s.push_str("</Code><Message>");
        s.push_str(&escape(&self.message));
        s.push_str("</Message>");
        for (name, value) in &self.extra {
            s.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        s.push_str("<Resource>");
        s.push_str(&escape(&self.resource));
        s.push_str("</Resource><RequestId>");
        s.push_str(&escape(&self.request_id));
        s.push_str("</RequestId></Error>");
        s
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut resp = if self.head {
            Response::new(axum::body::Body::empty())
        } else {
            Response::new(axum::body::Body::from(self.to_xml()))
        };
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        if !self.head {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
        }
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            h.insert("x-amz-request-id", v);
        }
        if matches!(
            self.code,
            S3ErrorCode::ServiceUnavailable | S3ErrorCode::InternalError
        ) {
            h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

pub type S3Result<T> = Result<T, S3Error>;
