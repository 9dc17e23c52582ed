//! Plain-file responses: content types, validators (ETag, Last-Modified, 304) and single byte ranges
//! (206/416), with the body streamed from disk in chunks (never loaded whole).

use std::path::Path;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::catalog::Stamp;

/// `Cache-Control` of manifests, pages and plain files: revalidate every time (cheap with ETags).
pub const CACHE_REVALIDATE: &str = "no-cache";
/// Default `max-age` of fragments, in seconds (`--cache-max-age`).
pub const FRAGMENT_MAX_AGE: u64 = 3600;

/// `Cache-Control` of fragments. Bounded, never `immutable`: re-packaging into the same folder
/// (`--force`) puts other bytes under the same fragment URLs.
pub fn fragment_cache_control(max_age: u64) -> String {
    format!("public, max-age={max_age}")
}

/// The content type ssfpack serves for a file name.
///
/// `.ism` is SMIL (`application/smil+xml`), `.ismc` and a pre-split `Manifest` are the client manifest
/// (`text/xml`, what IIS sends for `…/Manifest`), media files and fragments are `video/mp4` or
/// `audio/mp4`.
pub fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    if lower == "manifest" {
        return "text/xml";
    }
    if lower.starts_with("fragments(") || lower.starts_with("fragmentinfo(") {
        return if lower[lower.find('(').unwrap_or(0)..].starts_with("(audio") { "audio/mp4" } else { "video/mp4" };
    }
    match ext {
        "ism" => "application/smil+xml",
        "ismc" | "xml" => "text/xml",
        "mpd" => "application/dash+xml",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ismv" | "mp4" | "m4v" | "m4s" => "video/mp4",
        "isma" | "m4a" => "audio/mp4",
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// True when a GET/HEAD can be answered 304 (RFC 9110 13.2.2): `If-None-Match` names `etag` (or
/// `*`); or, only when there is no `If-None-Match`, `If-Modified-Since` is a date not before the
/// modification time (to the second, as `Last-Modified` says it).
pub fn not_modified(headers: &HeaderMap, etag: &str, mtime: Option<SystemTime>) -> bool {
    if headers.contains_key(header::IF_NONE_MATCH) {
        return headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*");
    }
    let since = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok());
    match (mtime, since.and_then(|v| httpdate::parse_http_date(v.trim()).ok())) {
        (Some(m), Some(since)) => SystemTime::from(httpdate::HttpDate::from(m)) <= since,
        _ => false,
    }
}

/// A 304 with the validators repeated.
pub fn not_modified_response(etag: &str, cache: &str, mtime: Option<SystemTime>) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    set(r.headers_mut(), header::ETAG, etag);
    set(r.headers_mut(), header::CACHE_CONTROL, cache);
    set_last_modified(r.headers_mut(), mtime);
    r
}

/// An in-memory body with the usual headers (HEAD gets the headers and no body).
pub fn bytes_response(
    method: &Method,
    bytes: impl Into<bytes::Bytes>,
    ctype: &str,
    etag: &str,
    cache: &str,
    mtime: Option<SystemTime>,
) -> Response {
    let bytes = bytes.into();
    let len = bytes.len();
    let body = if method == Method::HEAD { Body::empty() } else { Body::from(bytes) };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    set(h, header::CONTENT_TYPE, ctype);
    set(h, header::CONTENT_LENGTH, &len.to_string());
    set(h, header::ETAG, etag);
    set(h, header::CACHE_CONTROL, cache);
    set_last_modified(h, mtime);
    r
}

fn set_last_modified(h: &mut HeaderMap, mtime: Option<SystemTime>) {
    if let Some(t) = mtime {
        set(h, header::LAST_MODIFIED, &httpdate::fmt_http_date(t));
    }
}

/// A single byte range resolved against a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// No usable `Range` header: the whole file.
    Full,
    /// `[start, end]` inclusive.
    Part(u64, u64),
    /// Syntactically fine but outside the file: 416.
    Unsatisfiable,
}

/// Parses `Range: bytes=…` for a file of `len` bytes. Multiple ranges and anything malformed are
/// ignored (the whole file is sent, as RFC 9110 allows).
pub fn parse_range(value: Option<&str>, len: u64) -> RangeSpec {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => RangeSpec::Unsatisfiable,
            Some(n) if len > 0 => RangeSpec::Part(len.saturating_sub(n), len - 1),
            Some(_) => RangeSpec::Unsatisfiable,
            None => RangeSpec::Full,
        },
        (start, end) => match (num(start), if end.is_empty() { Some(None) } else { num(end).map(Some) }) {
            (Some(s), Some(e)) => {
                let e = e.unwrap_or(u64::MAX).min(len.saturating_sub(1));
                if s >= len {
                    RangeSpec::Unsatisfiable
                } else if e < s {
                    RangeSpec::Full
                } else {
                    RangeSpec::Part(s, e)
                }
            }
            _ => RangeSpec::Full,
        },
    }
}

/// Serves a regular file: conditional requests, `Range`, HEAD, streamed body.
pub async fn file_response(method: &Method, headers: &HeaderMap, path: &Path, stamp: Stamp, ctype: &str) -> Response {
    let etag = stamp.etag(None);
    if not_modified(headers, &etag, stamp.mtime) {
        return not_modified_response(&etag, CACHE_REVALIDATE, stamp.mtime);
    }
    let if_range_ok = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() == etag);
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).filter(|_| if_range_ok);
    let range = parse_range(range_header, stamp.len);
    let (status, start, count) = match range {
        RangeSpec::Full => (StatusCode::OK, 0, stamp.len),
        RangeSpec::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        RangeSpec::Unsatisfiable => {
            let mut r = crate::origin::server::status_response(StatusCode::RANGE_NOT_SATISFIABLE);
            set(r.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{}", stamp.len));
            return r;
        }
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match open_at(path, start).await {
            // A file replaced or rewritten since `stamp` was taken: its new bytes do not match the
            // headers (length, ETag). Answer 404 rather than aborting the connection mid-body.
            Ok(file) if !same_file(&file, stamp).await => {
                return crate::origin::server::status_response(StatusCode::NOT_FOUND)
            }
            // Small files (manifests) are read whole, so a rewrite during the read is a 404 too.
            Ok(mut file) if count <= BUFFERED => {
                let mut buf = Vec::with_capacity(count as usize);
                let read = (&mut file).take(count).read_to_end(&mut buf).await;
                if read.is_err() || buf.len() as u64 != count || !same_file(&file, stamp).await {
                    return crate::origin::server::status_response(StatusCode::NOT_FOUND);
                }
                Body::from(buf)
            }
            Ok(file) => Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file.take(count), 64 * 1024)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return crate::origin::server::status_response(StatusCode::NOT_FOUND)
            }
            Err(e) => {
                tracing::warn!("{}: {e}", path.display());
                return crate::origin::server::status_response(StatusCode::INTERNAL_SERVER_ERROR);
            }
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    set(h, header::CONTENT_TYPE, ctype);
    set(h, header::CONTENT_LENGTH, &count.to_string());
    set(h, header::ACCEPT_RANGES, "bytes");
    set(h, header::ETAG, &etag);
    set(h, header::CACHE_CONTROL, CACHE_REVALIDATE);
    set_last_modified(h, stamp.mtime);
    if status == StatusCode::PARTIAL_CONTENT {
        set(h, header::CONTENT_RANGE, &format!("bytes {start}-{}/{}", start + count - 1, stamp.len));
    }
    r
}

/// Files up to this size are read into memory before answering.
const BUFFERED: u64 = 1 << 20;

async fn same_file(file: &tokio::fs::File, stamp: Stamp) -> bool {
    file.metadata().await.is_ok_and(|m| Stamp::of(&m) == stamp)
}

async fn open_at(path: &Path, start: u64) -> std::io::Result<tokio::fs::File> {
    let mut f = tokio::fs::File::open(path).await?;
    if start > 0 {
        f.seek(std::io::SeekFrom::Start(start)).await?;
    }
    Ok(f)
}

/// Sets a header, skipping values that are not valid header text.
pub fn set(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        assert_eq!(parse_range(None, 10), Full);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Part(0, 3));
        assert_eq!(parse_range(Some("bytes=4-"), 10), Part(4, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Part(0, 9));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), Part(5, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Full);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), Full);
        assert_eq!(parse_range(Some("bytes=a-b"), 10), Full);
        assert_eq!(parse_range(Some("bytes=99999999999999999999999-"), 10), Full);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("Manifest"), "text/xml");
        assert_eq!(content_type("Fragments(video=0)"), "video/mp4");
        assert_eq!(content_type("Fragments(audio_eng=0)"), "audio/mp4");
        assert_eq!(content_type("a.ISMV"), "video/mp4");
        assert_eq!(content_type("a.isma"), "audio/mp4");
        assert_eq!(content_type("a.ism"), "application/smil+xml");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_eq!(content_type("a.mpd"), "application/dash+xml");
        assert_eq!(content_type("index.m3u8"), "application/vnd.apple.mpegurl");
    }

    #[test]
    fn etag_matching() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"y\""));
        assert!(not_modified(&h, "\"y\"", None));
        assert!(!not_modified(&h, "\"z\"", None));
    }

    #[test]
    fn if_modified_since() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_500);
        let at = |date: SystemTime| {
            let mut h = HeaderMap::new();
            set(&mut h, header::IF_MODIFIED_SINCE, &httpdate::fmt_http_date(date));
            h
        };
        let second = std::time::Duration::from_secs(1);
        assert!(not_modified(&at(t), "\"e\"", Some(t)), "the Last-Modified date itself (sub-second mtime)");
        assert!(not_modified(&at(t + second), "\"e\"", Some(t)));
        assert!(!not_modified(&at(t - second), "\"e\"", Some(t)));
        assert!(!not_modified(&at(t), "\"e\"", None));
        let mut both = at(t);
        both.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!not_modified(&both, "\"e\"", Some(t)), "If-None-Match wins");
        let mut bad = HeaderMap::new();
        bad.insert(header::IF_MODIFIED_SINCE, HeaderValue::from_static("yesterday"));
        assert!(!not_modified(&bad, "\"e\"", Some(t)));
    }
}
