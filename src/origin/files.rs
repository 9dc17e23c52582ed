//! Plain-file responses: content types, validators (ETag, Last-Modified, 304) and single byte ranges
//! (206/416), with the body streamed from disk in chunks (never loaded whole).

use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::catalog::Stamp;

/// `Cache-Control` of manifests, pages and plain files: revalidate every time (cheap with ETags).
pub const CACHE_REVALIDATE: &str = "no-cache";
/// `Cache-Control` of fragments: a fragment URL names bytes that never change.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";

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

/// True when the request's `If-None-Match` names `etag` (or `*`).
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// A 304 with the validators repeated.
pub fn not_modified_response(etag: &str, cache: &'static str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    set(r.headers_mut(), header::ETAG, etag);
    set(r.headers_mut(), header::CACHE_CONTROL, cache);
    r
}

/// An in-memory body with the usual headers (HEAD gets the headers and no body).
pub fn bytes_response(
    method: &Method,
    bytes: impl Into<bytes::Bytes>,
    ctype: &str,
    etag: &str,
    cache: &'static str,
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
    r
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
    if not_modified(headers, &etag) {
        return not_modified_response(&etag, CACHE_REVALIDATE);
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
    if let Some(t) = stamp.mtime {
        set(h, header::LAST_MODIFIED, &httpdate::fmt_http_date(t));
    }
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
    }

    #[test]
    fn etag_matching() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"y\""));
        assert!(not_modified(&h, "\"y\""));
        assert!(!not_modified(&h, "\"z\""));
    }
}
