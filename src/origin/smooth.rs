//! The Smooth answers over any [`FragmentSource`]: `…/Manifest` and
//! `…/QualityLevels(B)/Fragments(TRACK=T)` (and `FragmentInfo`), on demand and live alike.
//!
//! - An on-demand manifest is its `.ismc` served as a file (ranges, the file's validators, always
//!   revalidated); a live one is built in memory and may be cached for half a fragment.
//! - A fragment carries the source's validators: an on-demand file's are known before the read
//!   (stamp, offset, length), so a HEAD or a matching `If-None-Match`/`If-Modified-Since` reads
//!   nothing; a live answer's ETag is a hash of its bytes (its `tfrf` grows until final).
//! - A live fragment that is not available yet is 412 with an empty body, as IIS answers; a live
//!   point's 404/500 have empty bodies too, an on-demand presentation's the server's short text.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::files::{bytes_response, file_response, not_modified, not_modified_response, set};
use super::server::status_response;
use super::source::{FragmentSource, Located, SmoothManifest, SourceError, SourceFragment, Validators};
use super::url::FragmentRequest;
use crate::format::TrackKind;

/// Which answers the errors get: a live point's are empty, an on-demand presentation's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OnDemand,
    Live,
}

/// A fragment answer before it becomes a response.
#[derive(Debug)]
pub enum FragmentAnswer {
    /// The bytes as read.
    Read(SourceFragment),
    /// Not read: the known validators answer (a HEAD, or a revalidation that matched).
    Known { kind: TrackKind, validators: Validators },
}

/// Locates the fragment `req` names in `source` and reads it, unless its known validators make
/// the bytes unnecessary (`head`, or `headers` revalidating a copy that is still current).
/// Blocking for an on-demand source.
pub fn fragment_answer(
    source: &dyn FragmentSource,
    req: &FragmentRequest,
    head: bool,
    headers: &HeaderMap,
) -> Result<FragmentAnswer, SourceError> {
    let at = source.locate(req)?;
    read_unless_known(source, at, head, headers)
}

/// The second half of [`fragment_answer`], for a fragment already located.
pub fn read_unless_known(
    source: &dyn FragmentSource,
    at: Located,
    head: bool,
    headers: &HeaderMap,
) -> Result<FragmentAnswer, SourceError> {
    if let Some(v) = &at.known {
        if head || not_modified(headers, &v.etag, v.mtime) {
            return Ok(FragmentAnswer::Known { kind: at.kind, validators: v.clone() });
        }
    }
    source.read(at).map(FragmentAnswer::Read)
}

/// The response for a fragment answer (or why not): `cache` is the fragments' `Cache-Control`.
pub fn fragment_response(
    method: &Method,
    headers: &HeaderMap,
    found: Result<FragmentAnswer, SourceError>,
    cache: &str,
    flavor: Flavor,
) -> Response {
    let answer = match found {
        Ok(a) => a,
        Err(e) => return error_response(&e, flavor),
    };
    // Kind, ETag, Last-Modified, the bytes (`None`: not read) and their length.
    let (kind, etag, mtime, bytes, len) = match answer {
        FragmentAnswer::Read(f) => {
            let etag = f.etag.unwrap_or_else(|| format!("\"f{:x}\"", crate::format::fnv1a64(&f.bytes)));
            let len = f.bytes.len() as u64;
            (f.kind, etag, f.mtime, Some(f.bytes), len)
        }
        FragmentAnswer::Known { kind, validators: v } => (kind, v.etag, v.mtime, None, v.len),
    };
    if not_modified(headers, &etag, mtime) {
        return not_modified_response(&etag, cache, mtime);
    }
    let ctype = fragment_type(kind);
    match bytes {
        Some(bytes) => bytes_response(method, bytes, ctype, &etag, cache, mtime),
        None => {
            let mut r = bytes_response(method, Vec::new(), ctype, &etag, cache, mtime);
            set(r.headers_mut(), header::CONTENT_LENGTH, &len.to_string());
            r
        }
    }
}

/// The response for a Smooth client manifest (or why not).
pub async fn manifest_response(
    method: &Method,
    headers: &HeaderMap,
    found: Result<SmoothManifest, SourceError>,
    flavor: Flavor,
) -> Response {
    match found {
        Ok(SmoothManifest::File { path, stamp }) => file_response(method, headers, &path, stamp, "text/xml").await,
        Ok(SmoothManifest::Built { xml, max_age }) => {
            let etag = format!("\"l{:x}\"", crate::format::fnv1a64(&xml));
            let cache = format!("public, max-age={max_age}");
            if not_modified(headers, &etag, None) {
                return not_modified_response(&etag, &cache, None);
            }
            bytes_response(method, xml, "text/xml", &etag, &cache, None)
        }
        Err(e) => error_response(&e, flavor),
    }
}

/// 404 (nothing there), 412 (a live fragment not there yet, empty), 500 (unusable files).
pub fn error_response(e: &SourceError, flavor: Flavor) -> Response {
    let status = match e {
        SourceError::NotFound(what) => {
            tracing::debug!("404: {what}");
            StatusCode::NOT_FOUND
        }
        SourceError::NotYet => return empty(StatusCode::PRECONDITION_FAILED),
        SourceError::Broken(what) => {
            tracing::warn!("500: {what}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    match flavor {
        Flavor::OnDemand => status_response(status),
        Flavor::Live => empty(status),
    }
}

/// The content type of a fragment: a TTML document in an ISO BMFF fragment is `application/mp4`
/// (RFC 4337; what IIS answers for text fragments).
pub fn fragment_type(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Audio => "audio/mp4",
        TrackKind::Video => "video/mp4",
        TrackKind::Text => "application/mp4",
    }
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    set(r.headers_mut(), header::CACHE_CONTROL, "no-store");
    set(r.headers_mut(), header::CONTENT_LENGTH, "0");
    r
}
