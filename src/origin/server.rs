//! The HTTP side of the origin: one axum fallback handler that parses the IIS path grammar
//! ([`super::url`]) and answers: Smooth ([`super::smooth`]) and DASH/HLS ([`super::packaged`])
//! over the presentation's or the point's [`FragmentSource`] (an on-demand one inside
//! `spawn_blocking`: every file access is blocking I/O), pages and plain files from the
//! [`Catalog`]. CORS and the access log are layers around it; connections (timeouts, the
//! connection cap, graceful shutdown) are [`super::conn`]'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

use super::access_log::{self, AccessLog};
use super::cache::FragmentCache;
use super::catalog::{regular_file_stamp, Catalog, CatalogError};
use super::conn::{self, Limits};
use super::files::{self, bytes_response, not_modified, not_modified_response, set, CACHE_REVALIDATE};
use super::live::{self, ingest, Live};
use super::player::{self, PlayerAssets};
use super::smooth::{self, Flavor};
use super::source::{FragmentSource, LiveSource, SourceError, VodSource};
use super::url::{self, Route, UrlError};

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    pub catalog: Catalog,
    pub player: PlayerAssets,
    pub fragments: FragmentCache,
    /// `Cache-Control` of fragments ([`files::fragment_cache_control`]).
    pub fragment_cache_control: String,
    /// The live publishing points (`.isml`).
    pub live: Arc<Live>,
    /// Parsed client manifests and `moov`s of the DASH/HLS answers.
    pub vod: super::source::VodCaches,
}

/// Builds the router: the handler, CORS for any origin (players are often hosted elsewhere), the
/// access log.
pub fn router(state: Arc<AppState>, log: AccessLog) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers(Any)
        .max_age(std::time::Duration::from_secs(86_400));
    Router::new()
        .fallback(handle)
        .with_state(state)
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(log, access_log::middleware))
}

/// A short text response for a status.
pub fn status_response(status: StatusCode) -> Response {
    let text = format!("{} {}\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let len = text.len().to_string();
    let mut r = Response::new(Body::from(text));
    set(r.headers_mut(), header::CONTENT_LENGTH, &len);
    *r.status_mut() = status;
    set(r.headers_mut(), header::CONTENT_TYPE, "text/plain; charset=utf-8");
    set(r.headers_mut(), header::CACHE_CONTROL, "no-store");
    r
}

fn url_error(e: &UrlError) -> Response {
    match e {
        UrlError::BadRequest(_) => status_response(StatusCode::BAD_REQUEST),
        UrlError::NotFound(_) => status_response(StatusCode::NOT_FOUND),
    }
}

fn catalog_error(e: &CatalogError) -> Response {
    match e {
        CatalogError::NotFound(what) => {
            tracing::debug!("404: {what}");
            status_response(StatusCode::NOT_FOUND)
        }
        CatalogError::Broken(what) => {
            tracing::warn!("500: {what}");
            status_response(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn method_not_allowed() -> Response {
    let mut r = status_response(StatusCode::METHOD_NOT_ALLOWED);
    set(r.headers_mut(), header::ALLOW, "GET, HEAD, OPTIONS, POST");
    r
}

/// Runs blocking catalog work off the runtime's worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, CatalogError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(CatalogError::Broken(format!("worker failed: {e}"))))
}

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    if method == Method::POST {
        return match url::parse(uri.path()) {
            Ok(Route::Ingest(pres, ids)) => {
                let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
                let query = uri.query().map(str::to_string);
                let st = state.clone();
                let p = pres.clone();
                let post = ingest::Post { pres, ids, peer, headers, query, body };
                ingest::handle(state.live.clone(), post, move || st.live.point(&st.catalog, &p)).await
            }
            Ok(_) => method_not_allowed(),
            Err(e) => url_error(&e),
        };
    }
    if method == Method::OPTIONS {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        set(r.headers_mut(), header::ALLOW, "GET, HEAD, OPTIONS");
        return r;
    }
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed();
    }
    let route = match url::parse(uri.path()) {
        Ok(r) => r,
        Err(e) => return url_error(&e),
    };
    match route {
        Route::Index => index(&state, &method).await,
        Route::PlayerAsset(segments) => player_asset(&state, &method, &headers, segments).await,
        Route::Player(pres) if pres.is_live() => live_page(&state, &method, &pres, "Manifest").await,
        Route::Player(pres) => {
            let st = state.clone();
            let p = pres.clone();
            match blocking(move || st.catalog.presentation(&p)).await {
                Ok(_) => {
                    let html = player::render_page(&player::Page {
                        title: pres.name(),
                        manifests: &["Manifest".to_string()],
                        js_base: state.player.js_base(),
                    });
                    html_response(&method, html)
                }
                Err(e) => catalog_error(&e),
            }
        }
        Route::Ingest(..) => method_not_allowed(),
        Route::Manifest(pres) => smooth_manifest(&state, &method, &headers, pres).await,
        Route::Fragment(pres, req) => smooth_fragment(&state, &method, &headers, pres, req).await,
        Route::Packaged(pres, format, req) => packaged(&state, &method, &headers, pres, format, req).await,
        Route::KeyFrames(_) => status_response(StatusCode::NOT_FOUND),
        Route::File(segments) => {
            let st = state.clone();
            let name = segments.last().cloned().unwrap_or_default();
            let found = blocking(move || {
                let path = st.catalog.resolve(&segments)?;
                let stamp = regular_file_stamp(&path).ok_or_else(|| CatalogError::NotFound(name.clone()))?;
                Ok((path, stamp))
            })
            .await;
            match found {
                Ok((path, stamp)) => {
                    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    let ctype = files::content_type(file_name);
                    files::file_response(&method, &headers, &path, stamp, ctype).await
                }
                // No such file: `NAME.html` is the page of a point `NAME.isml`, if there is one.
                Err(CatalogError::NotFound(what)) => match point_page_name(&uri) {
                    Some((pres, manifest)) => live_page(&state, &method, &pres, &manifest).await,
                    None => catalog_error(&CatalogError::NotFound(what)),
                },
                Err(e) => catalog_error(&e),
            }
        }
    }
}

/// `…/NAME.html` → the point `…/NAME.isml` it would be the page of, and its manifest URL relative
/// to the page.
fn point_page_name(uri: &axum::http::Uri) -> Option<(url::PresentationPath, String)> {
    let Ok(Route::File(mut segments)) = url::parse(uri.path()) else { return None };
    let last = segments.pop()?;
    let name = last.strip_suffix(".html").filter(|n| !n.is_empty())?;
    let ism = format!("{name}.isml");
    let manifest = format!("{}/Manifest", url::encode_segment(&ism));
    Some((url::PresentationPath { dirs: segments, ism }, manifest))
}

/// The player page of a point (404 when there is no such point).
async fn live_page(state: &Arc<AppState>, method: &Method, pres: &url::PresentationPath, manifest: &str) -> Response {
    match live_point(state, pres).await {
        Ok(point) => {
            let manifests = [manifest.to_string()];
            let page = player::Page { title: pres.name(), manifests: &manifests, js_base: state.player.js_base() };
            html_response(method, player::live::render_live_page(&page, point.status()))
        }
        Err(r) => r,
    }
}

/// The point a URL names, or the response for why not.
async fn live_point(state: &Arc<AppState>, pres: &url::PresentationPath) -> Result<Arc<live::Point>, Response> {
    if let Some(p) = state.live.known(pres) {
        return Ok(p);
    }
    let (st, p) = (state.clone(), pres.clone());
    match tokio::task::spawn_blocking(move || st.live.point(&st.catalog, &p)).await {
        Ok(Ok(point)) => Ok(point),
        Ok(Err(live::LiveError::NotFound(_))) => Err(status_response(StatusCode::NOT_FOUND)),
        Ok(Err(e)) => {
            tracing::warn!("500: {e}");
            Err(status_response(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Err(_) => Err(status_response(StatusCode::INTERNAL_SERVER_ERROR)),
    }
}

/// `…/Manifest` (Smooth), over the presentation's or the point's [`FragmentSource`].
async fn smooth_manifest(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
    pres: url::PresentationPath,
) -> Response {
    if pres.is_live() {
        return match live_point(state, &pres).await {
            // Built from memory (no I/O), once per change of the event.
            Ok(p) => smooth::manifest_response(method, headers, LiveSource(p).smooth_manifest(), Flavor::Live).await,
            Err(r) => r,
        };
    }
    let found = on_demand(state, pres, |src| src.smooth_manifest()).await;
    smooth::manifest_response(method, headers, found, Flavor::OnDemand).await
}

/// `…/QualityLevels(B)/Fragments(TRACK=T)` and `FragmentInfo` (Smooth), over the presentation's
/// or the point's [`FragmentSource`].
async fn smooth_fragment(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
    pres: url::PresentationPath,
    req: url::FragmentRequest,
) -> Response {
    let head = method == Method::HEAD;
    let cache = state.fragment_cache_control.as_str();
    if pres.is_live() {
        let src = match live_point(state, &pres).await {
            Ok(p) => Arc::new(LiveSource(p)),
            Err(r) => return r,
        };
        // Located in memory (a cached answer or 412 needs no I/O); only a read goes to a worker.
        let found = match src.locate(&req) {
            Ok(at) if at.in_memory() => smooth::read_unless_known(&*src, at, head, headers),
            Ok(at) => {
                let inm = headers.clone();
                tokio::task::spawn_blocking(move || smooth::read_unless_known(&*src, at, head, &inm))
                    .await
                    .unwrap_or_else(|e| Err(SourceError::Broken(format!("worker: {e}"))))
            }
            Err(e) => Err(e),
        };
        return smooth::fragment_response(method, headers, found, cache, Flavor::Live);
    }
    let inm = headers.clone();
    let found = on_demand(state, pres, move |src| smooth::fragment_answer(src, &req, head, &inm)).await;
    smooth::fragment_response(method, headers, found, cache, Flavor::OnDemand)
}

/// Runs `work` over the on-demand presentation `pres` as a [`VodSource`], off the runtime's
/// worker threads.
async fn on_demand<T: Send + 'static>(
    state: &Arc<AppState>,
    pres: url::PresentationPath,
    work: impl FnOnce(&VodSource<'_>) -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    let st = state.clone();
    let job = move || {
        let pres = st.catalog.presentation(&pres)?;
        work(&VodSource { catalog: &st.catalog, pres, fragments: &st.fragments, caches: &st.vod })
    };
    tokio::task::spawn_blocking(job).await.unwrap_or_else(|e| Err(SourceError::Broken(format!("worker: {e}"))))
}

/// A DASH/HLS request, over the presentation's or the point's [`FragmentSource`](super::source).
async fn packaged(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
    pres: url::PresentationPath,
    format: url::PackagedFormat,
    req: url::Packaged,
) -> Response {
    let cache = state.fragment_cache_control.clone();
    let found = if pres.is_live() {
        let point = match live_point(state, &pres).await {
            Ok(p) => p,
            Err(r) => return r,
        };
        let work = move || super::packaged::answer(&LiveSource(point), format, &req, &cache);
        tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| Err(SourceError::Broken(format!("worker: {e}"))))
    } else {
        on_demand(state, pres, move |src| super::packaged::answer(src, format, &req, &cache)).await
    };
    super::packaged::respond(method, headers, found)
}

async fn index(state: &Arc<AppState>, method: &Method) -> Response {
    let st = state.clone();
    match blocking(move || Ok((player::index_entries(&st.catalog), st.live.list(&st.catalog)))).await {
        Ok((list, points)) => html_response(method, player::render_index(&list, &player::live::render_points(&points))),
        Err(e) => catalog_error(&e),
    }
}

async fn player_asset(state: &Arc<AppState>, method: &Method, headers: &HeaderMap, segments: Vec<String>) -> Response {
    match segments.as_slice() {
        [] => return html_response(method, player::render_generic_page(&state.player)),
        [name] if name == player::SERVER_CONFIG => {
            let body = player::server_config(&state.player);
            let etag = format!("\"c{:x}\"", crate::format::fnv1a64(body.as_bytes()));
            return bytes_response(method, body.into_bytes(), "application/json", &etag, CACHE_REVALIDATE, None);
        }
        _ => {}
    }
    if let [name] = segments.as_slice() {
        if format!("/{}/{name}", url::PLAYER_PREFIX) == player::live::TIME_PATH {
            let now = player::live::now_iso();
            let etag = format!("\"{now}\"");
            return bytes_response(method, now.into_bytes(), "text/plain; charset=utf-8", &etag, "no-store", None);
        }
        if let Some((body, ctype)) = player::embedded_asset(name) {
            let etag = format!("\"{}-{:x}\"", env!("CARGO_PKG_VERSION"), body.len());
            if not_modified(headers, &etag, None) {
                return not_modified_response(&etag, CACHE_REVALIDATE, None);
            }
            return bytes_response(method, body.as_bytes().to_vec(), ctype, &etag, CACHE_REVALIDATE, None);
        }
    }
    let st = state.clone();
    let found: Result<(PathBuf, _), _> = blocking(move || st.player.dashjs_file(&segments)).await;
    match found {
        Ok((path, stamp)) => {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            files::file_response(method, headers, &path, stamp, files::content_type(name)).await
        }
        Err(e) => catalog_error(&e),
    }
}

fn html_response(method: &Method, html: String) -> Response {
    let etag = format!("\"h{:x}\"", crate::format::fnv1a64(html.as_bytes()));
    bytes_response(method, html.into_bytes(), "text/html; charset=utf-8", &etag, CACHE_REVALIDATE, None)
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    /// The base URL player pages load dash.js from.
    pub js_base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// Stops accepting, lets requests in flight finish, and waits for the server task.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits for the server task to end.
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.task).await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Binds `addr` and serves `state` on the current tokio runtime, within `limits`, until
/// [`ServerHandle::shutdown`].
pub async fn start(
    addr: SocketAddr,
    state: Arc<AppState>,
    log: AccessLog,
    limits: Limits,
) -> std::io::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let js_base = state.player.js_base().to_string();
    let app = router(state, log);
    let task = tokio::spawn(conn::run(listener, app, limits, rx));
    Ok(ServerHandle { local_addr, js_base, shutdown: Some(tx), task })
}
