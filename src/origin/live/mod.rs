//! Live Smooth Streaming publishing points in `ssfpack serve`: every `NAME.isml` file under the
//! served folder is a point an encoder can push to (`POST …/NAME.isml/Streams(ID)`) and viewers
//! can play (`GET …/NAME.isml/Manifest`, its fragments, `…/NAME.isml/player`).
//!
//! - [`point`]: a point's settings, its current event, the live manifest and fragments with `tfrf`;
//! - [`event`]: an event on disk (archive files appended and synced as fragments arrive, reopened
//!   after a crash, finished into an on-demand presentation);
//! - [`session`]: one ingest POST, parsed box by box as it arrives;
//! - [`ingest`]: the HTTP side of a POST: who may push, time-outs, limits.
//!
//! Viewers are answered by the same handlers as on-demand presentations ([`crate::origin::smooth`],
//! [`crate::origin::packaged`]) over the point as a [`crate::origin::source::LiveSource`].

pub mod clock;
pub mod event;
pub mod ingest;
pub mod point;
pub mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use point::{Point, Served, Status};

use super::catalog::Catalog;
use super::url::PresentationPath;

/// Errors of a publishing point; each names what it concerns.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl LiveError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LiveError::Io { path: path.to_path_buf(), source }
    }
}

/// Who may push, and the limits of ingest (all documented in the README).
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Networks allowed to push besides loopback (`--ingest-allow CIDR`).
    pub allow: Vec<Cidr>,
    /// When set, every push must carry it (`Authorization: Bearer T` or `?token=T`).
    pub token: Option<String>,
    /// A POST that sends nothing for this long is ended (`--ingest-timeout`).
    pub timeout: Duration,
    /// POSTs at once, over all points; each point takes at most [`MAX_POSTS_PER_POINT`].
    pub max_posts: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig { allow: Vec::new(), token: None, timeout: Duration::from_secs(30), max_posts: 64 }
    }
}

/// POSTs at once to one point (one per rung and audio for an encoder that posts per track).
pub const MAX_POSTS_PER_POINT: usize = 16;
/// Tracks in one event.
pub const MAX_TRACKS: usize = 32;
/// Largest box an ingest stream may carry (a `moof` or `mdat`).
pub const MAX_INGEST_BOX: u64 = 64 << 20;
/// Largest header box (`ftyp`, the live server manifest box, `moov`).
pub const MAX_HEADER_BOX: usize = 1 << 20;

/// An IPv4 or IPv6 network, `ADDR/BITS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.parse().map_err(|_| format!("{s}: not an IP address or network (e.g. 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = if b.is_empty() { max } else { b.parse().map_err(|_| format!("{s}: bad prefix length"))? };
        if bits > max {
            return Err(format!("{s}: prefix longer than {max} bits"));
        }
        Ok(Cidr { addr, bits })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let mask = |bits: u8, width: u32| if bits == 0 { 0 } else { u128::MAX << (width - u32::from(bits)) };
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let m = mask(self.bits, 32) as u32;
                u32::from(n) & m == u32::from(i) & m
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let m = mask(self.bits, 128);
                u128::from(n) & m == u128::from(i) & m
            }
            _ => false,
        }
    }
}

/// The points of one server, opened on first use.
pub struct Live {
    pub config: LiveConfig,
    points: Mutex<HashMap<PathBuf, Arc<Point>>>,
    /// Points by the URL that named them, so a request resolves no path once a point is open.
    by_url: Mutex<HashMap<PresentationPath, Arc<Point>>>,
    pub(crate) posts: AtomicUsize,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Live {
    pub fn new(config: LiveConfig) -> Self {
        Live {
            config,
            points: Mutex::new(HashMap::new()),
            by_url: Mutex::new(HashMap::new()),
            posts: AtomicUsize::new(0),
        }
    }

    /// The point a URL named before, if its `.isml` file is still there (no path resolution:
    /// one `stat`).
    pub fn known(&self, pres: &PresentationPath) -> Option<Arc<Point>> {
        let p = self.by_url.lock().ok()?.get(pres).cloned()?;
        p.isml.is_file().then_some(p)
    }

    /// The point `pres` names (its `.isml` file must exist under the root).
    pub fn point(&self, catalog: &Catalog, pres: &PresentationPath) -> Result<Arc<Point>, LiveError> {
        if let Some(p) = self.known(pres) {
            return Ok(p);
        }
        let p = self.resolve(catalog, pres)?;
        if let Ok(mut m) = self.by_url.lock() {
            if m.len() >= 4096 {
                m.clear();
            }
            m.insert(pres.clone(), Arc::clone(&p));
        }
        Ok(p)
    }

    fn resolve(&self, catalog: &Catalog, pres: &PresentationPath) -> Result<Arc<Point>, LiveError> {
        let segments: Vec<String> = pres.dirs.iter().chain(std::iter::once(&pres.ism)).cloned().collect();
        let path = catalog.resolve(&segments).map_err(|_| LiveError::NotFound("no such publishing point"))?;
        if !path.is_file() {
            return Err(LiveError::NotFound("no such publishing point"));
        }
        self.point_at(&path)
    }

    /// The point of the `.isml` file at `path` (already contained in the root).
    pub fn point_at(&self, path: &Path) -> Result<Arc<Point>, LiveError> {
        let mut points = self.points.lock().map_err(|_| LiveError::Invalid("points poisoned".into()))?;
        if let Some(p) = points.get(path) {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(Point::open(path)?);
        points.insert(path.to_path_buf(), Arc::clone(&p));
        Ok(p)
    }

    /// Every point (`*.isml`) under the root, sorted, with its state (`None`: the file is not a
    /// usable point). Same walk rules as [`Catalog::list`]: hidden entries and symlinks leading
    /// outside are skipped, at most [`MAX_LIST_DEPTH`] folders deep.
    pub fn list(&self, catalog: &Catalog) -> Vec<(PresentationPath, Option<Status>)> {
        let mut found = Vec::new();
        walk(catalog, catalog.root(), &mut Vec::new(), &mut found);
        found.sort_by(|a, b| (&a.0.dirs, &a.0.ism).cmp(&(&b.0.dirs, &b.0.ism)));
        found
            .into_iter()
            .map(|(pres, path)| {
                let status = self.point_at(&path).map(|p| p.status());
                if let Err(e) = &status {
                    tracing::debug!("{}: not a usable point: {e}", path.display());
                }
                (pres, status.ok())
            })
            .collect()
    }

    /// Whether `ip` may push (before the token, if any, is checked).
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        ip.to_canonical().is_loopback() || self.config.allow.iter().any(|c| c.contains(ip))
    }
}

/// How deep [`Live::list`] looks for points.
pub const MAX_LIST_DEPTH: usize = 8;

fn walk(catalog: &Catalog, dir: &Path, rel: &mut Vec<String>, out: &mut Vec<(PresentationPath, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten().take(10_000) {
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let Ok(real) = catalog.contain(&entry.path()) else { continue };
        if real.is_dir() && rel.len() < MAX_LIST_DEPTH && real != catalog.root() {
            rel.push(name);
            walk(catalog, &real, rel, out);
            rel.pop();
        } else if real.is_file() && name.len() > 5 && name.to_ascii_lowercase().ends_with(".isml") {
            out.push((PresentationPath { dirs: rel.clone(), ism: name }, real));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()) && !c.contains("10.2.0.1".parse().unwrap()));
        assert!("::ffff:10.1.2.3".parse::<IpAddr>().map(|ip| c.contains(ip)).unwrap());
        let any: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        let one: Cidr = "fd00::1".parse().unwrap();
        assert_eq!(one.bits, 128);
        assert!("10.0.0.0/33".parse::<Cidr>().is_err() && "nope".parse::<Cidr>().is_err());
        let live = Live::new(LiveConfig::default());
        assert!(live.address_allowed("127.0.0.1".parse().unwrap()) && live.address_allowed("::1".parse().unwrap()));
        assert!(!live.address_allowed("192.0.2.1".parse().unwrap()));
    }
}
