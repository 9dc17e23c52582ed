//! `ssfpack serve`: an IIS-compatible Smooth Streaming origin for every presentation under a folder,
//! with player pages; and `ssfpack split`: the same answers written out as a pre-split static layout.
//!
//! - [`url`]: the IIS path grammar → a typed route (pure, no I/O).
//! - [`catalog`]: presentations under the root, `.ism` parsing, `tfra` indexes, path containment.
//! - [`server`]: the axum router and handlers (blocking I/O in `spawn_blocking`).
//! - [`files`]: plain files with ETag/Last-Modified/304/Range; content types; `Cache-Control`.
//! - [`player`]: the index page, player pages and `NAME.html`.
//! - [`split`]: the static layout writer, sharing the origin's fragment code path.
//! - [`access_log`]: the non-blocking access log.
//! - [`conn`]: the accept loop, connection cap, header and idle timeouts.
//!
//! Status codes: unknown presentation, bitrate, track or time → 404; malformed paths → 400; a path
//! that would leave the root (`..`, encoded forms, symlinks out) → 400 or 404, never the file;
//! unusable presentation files → 500.

pub mod access_log;
pub mod cache;
pub mod catalog;
pub mod cmaf_layout;
pub mod conn;
pub mod files;
pub mod hls_rates;
pub mod live;
pub mod packaged;
pub mod player;
pub mod server;
pub mod source;
pub mod split;
pub mod url;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use access_log::{AccessLog, AccessLogTarget};
pub use conn::Limits;
pub use player::PlayerConfig;
pub use server::ServerHandle;
pub use split::{write_static_layout, write_static_layout_into, SplitError, SplitReport};

/// Everything `ssfpack serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The folder whose presentations are served.
    pub root: PathBuf,
    /// Address to listen on (port 0 picks a free one; see [`ServerHandle::local_addr`]).
    pub addr: SocketAddr,
    pub player: PlayerConfig,
    pub access_log: AccessLogTarget,
    /// Bytes of recently served fragments kept in memory ([`cache::FragmentCache`]; 0: none).
    pub fragment_cache: u64,
    /// `max-age` of fragments, in seconds ([`files::FRAGMENT_MAX_AGE`] by default).
    pub cache_max_age: u64,
    /// Timeouts and the connection cap.
    pub limits: Limits,
    /// Who may push to the live publishing points, and ingest limits.
    pub live: live::LiveConfig,
}

/// Why the origin could not start.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("{path}: cannot serve this folder: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the access log: {0}")]
    AccessLog(#[source] std::io::Error),
    /// FFmpeg (the MPEG-TS remux of `m3u8-aapl` segments) could not be set up.
    #[error("{0}")]
    Media(#[from] crate::media::MediaError),
}

/// Starts the origin on the current tokio runtime and returns once it is listening.
pub async fn serve(config: ServeConfig) -> Result<ServerHandle, OriginError> {
    crate::media::init()?;
    let catalog = catalog::Catalog::new(&config.root)
        .map_err(|source| OriginError::Root { path: config.root.clone(), source })?;
    let state = Arc::new(server::AppState {
        catalog,
        player: player::PlayerAssets::new(&config.player),
        fragments: cache::FragmentCache::new(config.fragment_cache),
        fragment_cache_control: files::fragment_cache_control(config.cache_max_age),
        live: Arc::new(live::Live::new(config.live.clone())),
        vod: source::VodCaches::default(),
    });
    let log = AccessLog::start(&config.access_log).map_err(OriginError::AccessLog)?;
    server::start(config.addr, state, log, config.limits)
        .await
        .map_err(|source| OriginError::Bind { addr: config.addr, source })
}
