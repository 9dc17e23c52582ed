//! What viewers get from a publishing point over HTTP: the live manifest (cacheable for at most
//! half a fragment), fragments with their `tfrf` (a listed fragment never changes its media, so it
//! may be cached like an on-demand one), and 412 with an empty body for a fragment that is not
//! available yet, as IIS answers.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::response::Response;

use super::point::Plan;
use super::{LiveError, Point, Served};
use crate::format::TrackKind;
use crate::origin::files::{bytes_response, set};
use crate::origin::url::FragmentRequest;

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    set(r.headers_mut(), header::CACHE_CONTROL, "no-store");
    set(r.headers_mut(), header::CONTENT_LENGTH, "0");
    r
}

fn error(e: &LiveError) -> Response {
    match e {
        LiveError::NotFound(_) => empty(StatusCode::NOT_FOUND),
        other => {
            tracing::warn!("live: {other}");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// `GET …/NAME.isml/Manifest`.
pub async fn manifest(point: Arc<Point>, method: &Method) -> Response {
    // Built from memory (no I/O), once per change of the event.
    let found = point.manifest_xml();
    match found {
        Ok(Some((xml, age))) => {
            let etag = format!("\"l{:x}\"", crate::format::fnv1a64(&xml));
            bytes_response(method, xml, "text/xml", &etag, &format!("public, max-age={age}"), None)
        }
        Ok(None) => empty(StatusCode::NOT_FOUND),
        Err(e) => error(&e),
    }
}

/// `GET …/NAME.isml/QualityLevels(B)/Fragments(NAME=T)` (and `FragmentInfo`).
pub async fn fragment(point: Arc<Point>, method: &Method, req: FragmentRequest, cache: &str) -> Response {
    // Decided in memory (a cached answer or 412 needs no I/O); only a read goes to a worker.
    let found = match point.plan_fragment(&req) {
        Ok(Plan::Ready(s)) => Ok(s),
        Ok(Plan::Read(r)) => tokio::task::spawn_blocking(move || point.read_fragment(r))
            .await
            .unwrap_or_else(|_| Err(LiveError::Invalid("worker failed".into()))),
        Err(e) => Err(e),
    };
    match found {
        Ok(Served::Bytes { bytes, kind }) => {
            let ctype = if kind == TrackKind::Audio { "audio/mp4" } else { "video/mp4" };
            let etag = format!("\"f{:x}\"", crate::format::fnv1a64(&bytes));
            bytes_response(method, bytes, ctype, &etag, cache, None)
        }
        Ok(Served::NotYet) => empty(StatusCode::PRECONDITION_FAILED),
        Err(e) => error(&e),
    }
}
