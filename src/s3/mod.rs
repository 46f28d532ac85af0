//! The S3 protocol front end: request id, addressing, classification, SigV4, dispatch to one
//! handler per operation group, S3 error bodies, CORS response headers. Two operations skip
//! SigV4: the CORS preflight and POST Object (authenticated by its signed policy). Knows HTTP; knows nothing of shards or keys:
//! handlers call the engine and the metadata store through their narrow APIs.

pub mod auth;
pub mod conditions;
pub mod error;
pub mod host;
pub mod ops;
pub mod range;
pub mod router;
pub mod xml;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::HeaderValue;

use crate::engine::Engine;
use crate::meta::MetaStore;
use auth::SecretLookup;
use error::{S3Error, S3ErrorCode, S3Result};

/// What every handler may use.
pub struct S3State {
    pub meta: Arc<dyn MetaStore>,
    pub engine: Arc<Engine>,
    pub secrets: Arc<dyn SecretLookup>,
    pub region: String,
    pub base_domains: Vec<String>,
    pub max_put_size: u64,
    /// Buckets' CORS rules, read on every request with an `Origin`.
    pub cors: ops::cors::CorsCache,
}

/// The S3 service as an axum router (every path goes to one handler).
pub fn service(state: Arc<S3State>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

fn new_request_id() -> String {
    crate::engine::random_id()[..16].to_ascii_uppercase()
}

async fn handle(State(state): State<Arc<S3State>>, req: Request) -> Response {
    let request_id = new_request_id();
    let is_head = req.method() == http::Method::HEAD;
    let resource = req.uri().path().to_string();
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let expects_continue = expects_continue_without_body(req.headers());
    let cors_origin = cors_origin(&state, &req);
    tracing::debug!(%method, path = %resource, request_id, "request start");
    let result = process(&state, req).await;
    let mut response = match result {
        Ok(r) => r,
        Err(mut e) => {
            e.request_id = request_id.clone();
            e.resource = resource.clone();
            e.head = is_head;
            tracing::info!(%method, path = %resource, code = e.code.as_str(), message = %e.message, request_id, "request failed");
            let mut response = e.into_response();
            if expects_continue.is_some() {
                close_connection(&mut response);
            }
            if let Some((bucket, origin)) = &cors_origin {
                ops::cors::apply(&state, bucket, origin, &method, &mut response).await;
            }
            return response;
        }
    };
    if let Some((bucket, origin)) = &cors_origin {
        ops::cors::apply(&state, bucket, origin, &method, &mut response).await;
    }
    if expects_continue == Some(true) {
        close_connection(&mut response);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", v);
    }
    tracing::debug!(%method, path = %resource, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// (bucket, Origin) of a request a browser sent cross-origin to a bucket or object.
fn cors_origin(state: &S3State, req: &Request) -> Option<(String, String)> {
    let origin = req.headers().get(http::header::ORIGIN)?.to_str().ok()?;
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let target = host::resolve(host, req.uri().path(), &state.base_domains).ok()?;
    Some((target.bucket?, origin.to_string()))
}

/// For a request with `Expect: 100-continue`: `Some(empty_body)`. hyper sends `100 Continue`
/// only when a handler reads a non-empty body, so an empty body or an early error gets the final
/// response straight away. botocore then keeps a stale status line for the connection's next
/// `Expect` request and misreads that response (it waits for the connection to close), so such
/// responses close the connection instead of keeping it alive.
fn expects_continue_without_body(headers: &http::HeaderMap) -> Option<bool> {
    let expects = headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    expects.then(|| {
        headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0")
    })
}

fn close_connection(response: &mut Response) {
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
}

async fn process(state: &Arc<S3State>, req: Request) -> S3Result<Response> {
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let target = host::resolve(host, parts.uri.path(), &state.base_domains)?;
    let query = router::parse_query(parts.uri.query());
    let operation = router::classify(
        &parts.method,
        target.bucket.as_deref(),
        target.key.as_deref(),
        &query,
        &parts.headers,
    )?;
    match operation {
        router::Operation::CorsPreflight { bucket } => {
            return ops::cors::preflight(state, &bucket, &parts.headers).await;
        }
        router::Operation::PostObject { bucket } => {
            return ops::post_object::post_object(state, &bucket, parts, body).await;
        }
        _ => {}
    }
    let authenticated = auth::authenticate(
        &parts,
        state.secrets.as_ref(),
        time::OffsetDateTime::now_utc(),
    )?;
    let request = ops::RequestCtx {
        parts,
        query,
        auth: authenticated,
        body,
    };
    ops::dispatch(state, operation, request).await
}

/// Reads a small (XML) request body whole, through the verifying stream, under `limit`.
pub async fn read_small_body(body: auth::VerifiedBody, limit: usize) -> S3Result<Bytes> {
    let mut stream = body.stream;
    let mut buf = BytesMut::new();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| auth::body_error(&e))?;
        if buf.len() + piece.len() > limit {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "request body is too large",
            ));
        }
        buf.extend_from_slice(&piece);
    }
    Ok(buf.freeze())
}

/// An XML 200 response.
pub fn xml_response(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// An empty response with `status`.
pub fn empty_response(status: http::StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// ISO-8601 with milliseconds, as S3 lists timestamps.
pub fn iso8601(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// RFC 7231 date, as S3 sends Last-Modified.
pub fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
    )
}
