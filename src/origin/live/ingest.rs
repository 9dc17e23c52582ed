//! The HTTP side of ingest: `POST …/NAME.isml/Streams(ID)` (or `…/Events(EID)/Streams(ID)`),
//! chunked or with a Content-Length. Who may push: loopback, the networks of `--ingest-allow`,
//! or, when `--ingest-token` is set, only requests carrying it (`Authorization: Bearer T` or
//! `?token=T`). The body is read piece by piece (never buffered whole) into a [`Session`]; an
//! empty body is an encoder's probe and is answered 200. A POST that sends nothing for
//! `--ingest-timeout` is ended; a malformed body gets 400 for that POST only.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;

use super::session::Session;
use super::{Live, LiveError, Point, MAX_POSTS_PER_POINT};
use crate::origin::url::{IngestIds, PresentationPath};

/// Everything a POST handler needs.
pub struct Post {
    pub pres: PresentationPath,
    pub ids: IngestIds,
    pub peer: Option<SocketAddr>,
    pub headers: HeaderMap,
    pub query: Option<String>,
    pub body: Body,
}

fn answer(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8".parse().expect("static"));
    r
}

/// Whether the request carries the token.
fn has_token(token: &str, headers: &HeaderMap, query: Option<&str>) -> bool {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == token);
    let in_query = query.is_some_and(|q| q.split('&').any(|kv| kv.strip_prefix("token=") == Some(token)));
    bearer || in_query
}

/// Decrements a counter when dropped.
struct Slot<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn take<'a>(counter: &'a std::sync::atomic::AtomicUsize, max: usize) -> Option<Slot<'a>> {
    if counter.fetch_add(1, Ordering::SeqCst) >= max {
        counter.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    Some(Slot(counter))
}

/// Handles one POST to the end of its body; `resolve` opens the point the URL names (blocking).
pub async fn handle(
    live: Arc<Live>,
    post: Post,
    resolve: impl FnOnce() -> Result<Arc<Point>, LiveError> + Send + 'static,
) -> Response {
    let who = post.peer.map_or_else(|| "?".to_string(), |p| p.to_string());
    let allowed = match &live.config.token {
        Some(t) => has_token(t, &post.headers, post.query.as_deref()),
        None => post.peer.is_some_and(|p| live.address_allowed(p.ip())),
    };
    if !allowed {
        tracing::warn!("ingest from {who} to {} refused (see --ingest-allow, --ingest-token)", post.pres.url_path());
        return answer(StatusCode::FORBIDDEN, "ingest not allowed from here (see --ingest-allow, --ingest-token)");
    }
    let point = match tokio::task::spawn_blocking(resolve).await {
        Ok(Ok(p)) => p,
        Ok(Err(LiveError::NotFound(_))) => return answer(StatusCode::NOT_FOUND, "no such publishing point (.isml)"),
        Ok(Err(e)) => {
            tracing::warn!("{}: {e}", post.pres.url_path());
            return answer(StatusCode::INTERNAL_SERVER_ERROR, "the publishing point cannot be opened");
        }
        Err(_) => return answer(StatusCode::INTERNAL_SERVER_ERROR, "worker failed"),
    };
    let Some(_all) = take(&live.posts, live.config.max_posts) else {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "too many ingest streams (--ingest-max)");
    };
    let Some(_one) = take(&point.posts, MAX_POSTS_PER_POINT) else {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "too many ingest streams to this point");
    };
    let stream = match &post.ids.event {
        Some(e) => format!("{e}.{}", post.ids.stream),
        None => post.ids.stream.clone(),
    };
    let mut session = Some(Session::new(Arc::clone(&point), &stream));
    let mut body = post.body;
    let timeout = live.config.timeout;
    loop {
        let frame = match tokio::time::timeout(timeout, body.frame()).await {
            Err(_) => {
                tracing::warn!(
                    "{}: stream {stream} from {who} sent nothing for {}s: ended",
                    point.name,
                    timeout.as_secs()
                );
                return answer(StatusCode::REQUEST_TIMEOUT, "ingest stream stalled");
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                // The encoder went away mid-stream: what arrived is kept; it may reconnect.
                tracing::info!("{}: stream {stream} from {who} dropped: {e}", point.name);
                return answer(StatusCode::BAD_REQUEST, "connection dropped");
            }
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else { continue };
        if data.is_empty() {
            continue;
        }
        let mut s = session.take().expect("session is put back after each piece");
        let (s, r) = match tokio::task::spawn_blocking(move || {
            let r = s.feed(&data);
            (s, r)
        })
        .await
        {
            Ok(x) => x,
            Err(_) => return answer(StatusCode::INTERNAL_SERVER_ERROR, "worker failed"),
        };
        if let Err(e) = r {
            tracing::warn!("ingest from {who}: {e}");
            return answer(StatusCode::BAD_REQUEST, &e.to_string());
        }
        session = Some(s);
    }
    let s = session.expect("session");
    if let Err(e) = s.finish() {
        tracing::warn!("ingest from {who}: {e}");
        return answer(StatusCode::BAD_REQUEST, &e.to_string());
    }
    if s.counts.bytes > 0 {
        tracing::info!(
            "{}: stream {stream} from {who} {}: {} fragments, {} resent, {} bytes",
            point.name,
            if s.ended() { "ended" } else { "closed without an end of stream" },
            s.counts.fragments,
            s.counts.duplicates,
            s.counts.bytes
        );
    }
    answer(StatusCode::OK, "ok")
}
