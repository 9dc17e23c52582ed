//! The presentations under the served folder: path resolution that never leaves the root, parsed
//! `.ism` files and per-file fragment indexes (from `tfra`), cached and keyed by (path, length, mtime)
//! so a re-packaged file is re-read.
//!
//! Everything here does blocking file I/O; the server calls it inside `spawn_blocking`, `split` calls it
//! directly. Nothing reads a whole media file: the index comes from `mfra` at the end of the file (found
//! through `mfro`), and a fragment is two box headers and one read.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::format::boxes::{read_span, BoxSpan};
use crate::format::manifest::{ServerManifest, ServerTrack};
use crate::format::reader::{read_mfra, MediaFile};

use super::url::{FragmentPart, FragmentRequest, PresentationPath};

/// Cached entries kept per cache before it is cleared (a bound on memory, not an LRU).
const MAX_CACHED: usize = 4096;
/// Largest fragment served (a hostile or corrupt size must not exhaust memory).
const MAX_FRAGMENT: u64 = 512 << 20;
/// Largest `.ism` parsed.
const MAX_MANIFEST: u64 = 16 << 20;
/// A file modified this recently that does not parse is taken to be still being written: 404.
const SETTLING: std::time::Duration = std::time::Duration::from_secs(2);
/// How deep [`Catalog::list`] looks for presentations.
const MAX_DEPTH: usize = 8;

/// Why a catalog lookup failed; the server maps these to status codes.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Nothing there (or outside the root): 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// The presentation's files exist but are unusable: 500.
    #[error("{0}")]
    Broken(String),
}

type Result<T> = std::result::Result<T, CatalogError>;

/// A file's identity for caching and ETags: length, modification time and which file it is
/// (device, inode, change time), so that a file replaced by another of the same size and mtime
/// (renamed over it, or rewritten in place with its mtime restored) gets a new identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub len: u64,
    pub mtime: Option<SystemTime>,
    /// A hash of the device, inode and change time (0 where those are unknown).
    pub id: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Stamp { len: meta.len(), mtime: meta.modified().ok(), id: file_id(meta) }
    }

    /// Nanoseconds since the epoch (0 when unknown), for ETags.
    pub fn mtime_nanos(&self) -> u128 {
        self.mtime.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos())
    }

    /// A strong ETag for the whole file, or for `len` bytes at `offset` of it.
    pub fn etag(&self, part: Option<(u64, u64)>) -> String {
        let (len, mtime, id) = (self.len, self.mtime_nanos(), self.id);
        match part {
            None => format!("\"{len:x}-{mtime:x}-{id:x}\""),
            Some((off, n)) => format!("\"{len:x}-{mtime:x}-{id:x}-{off:x}-{n:x}\""),
        }
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let fields = [meta.dev(), meta.ino(), meta.ctime() as u64, meta.ctime_nsec() as u64];
    // FNV-1a: stable across runs and builds (ETags survive a restart), and it does not show inodes.
    let bytes: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
    crate::format::fnv1a64(&bytes)
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// A parsed `.ism` and where its files are.
#[derive(Debug)]
pub struct Presentation {
    /// The canonical path of the `.ism`.
    pub ism_path: PathBuf,
    pub stamp: Stamp,
    pub server: ServerManifest,
}

impl Presentation {
    /// The folder the `.ism` is in (media and client manifest paths are relative to it).
    pub fn dir(&self) -> &Path {
        self.ism_path.parent().unwrap_or(Path::new("/"))
    }

    /// The track a fragment URL names: `systemBitrate == B` and `trackName == TRACK`, or, for
    /// manifests without `trackName` values that match, the track whose kind is named TRACK.
    pub fn track(&self, bitrate: u32, name: &str) -> Option<&ServerTrack> {
        let at_rate = || self.server.tracks.iter().filter(move |t| t.system_bitrate == bitrate);
        at_rate().find(|t| t.track_name == name).or_else(|| at_rate().find(|t| t.kind.name() == name))
    }
}

/// Where a fragment's bytes are in a media file.
#[derive(Debug, Clone)]
pub struct FragmentLocation {
    pub path: PathBuf,
    pub stamp: Stamp,
    pub offset: u64,
    pub len: u64,
    pub kind: crate::format::TrackKind,
}

impl FragmentLocation {
    pub fn etag(&self) -> String {
        self.stamp.etag(Some((self.offset, self.len)))
    }
}

/// The fragment start times of every track of one media file → `moof` offsets.
#[derive(Debug)]
struct FileIndex {
    stamp: Stamp,
    tracks: HashMap<u32, BTreeMap<u64, u64>>,
    /// Per track, the size (`moof` + `mdat`) of each fragment by start time, measured on first use.
    sizes: Mutex<HashMap<u32, Arc<BTreeMap<u64, u64>>>>,
}

/// The presentations under one root folder.
#[derive(Debug)]
pub struct Catalog {
    root: PathBuf,
    presentations: Mutex<HashMap<PathBuf, Arc<Presentation>>>,
    indexes: Mutex<HashMap<PathBuf, Arc<FileIndex>>>,
}

impl Catalog {
    /// A catalog of `root` (which must be a folder).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        Ok(Catalog { root, presentations: Mutex::default(), indexes: Mutex::default() })
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves decoded URL segments to a path inside the root, following symlinks only when the
    /// target is still inside the root. Anything else is [`CatalogError::NotFound`].
    pub fn resolve(&self, segments: &[String]) -> Result<PathBuf> {
        let mut p = self.root.clone();
        for s in segments {
            p.push(s);
        }
        self.contain(&p)
    }

    /// Canonicalizes `p` and checks that it lies under the root.
    pub fn contain(&self, p: &Path) -> Result<PathBuf> {
        let real = p.canonicalize().map_err(|_| CatalogError::NotFound(self.rel(p)))?;
        if real.starts_with(&self.root) {
            Ok(real)
        } else {
            Err(CatalogError::NotFound(format!("{} (outside the served folder)", self.rel(p))))
        }
    }

    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.root).unwrap_or(p).display().to_string()
    }

    /// The parsed `.ism` a URL names.
    pub fn presentation(&self, path: &PresentationPath) -> Result<Arc<Presentation>> {
        let mut segments = path.dirs.clone();
        segments.push(path.ism.clone());
        let ism = self.resolve(&segments)?;
        self.presentation_contained(ism)
    }

    /// The parsed `.ism` at a path (inside the root).
    pub fn presentation_at(&self, ism: &Path) -> Result<Arc<Presentation>> {
        self.presentation_contained(self.contain(ism)?)
    }

    /// The parsed `.ism` at a canonical path inside the root (checked by the caller).
    fn presentation_contained(&self, ism: PathBuf) -> Result<Arc<Presentation>> {
        let stamp = regular_file_stamp(&ism).ok_or_else(|| CatalogError::NotFound(self.rel(&ism)))?;
        if let Some(p) = lock(&self.presentations).get(&ism).filter(|p| p.stamp == stamp) {
            return Ok(p.clone());
        }
        if stamp.len > MAX_MANIFEST {
            return Err(CatalogError::Broken(format!("{}: server manifest too large", self.rel(&ism))));
        }
        let text = std::fs::read_to_string(&ism).map_err(|e| self.unsettled(&ism, stamp, self.io_error(&ism, e)))?;
        let server = ServerManifest::from_xml(&text, &self.rel(&ism))
            .map_err(|e| self.unsettled(&ism, stamp, CatalogError::Broken(e.to_string())))?;
        let p = Arc::new(Presentation { ism_path: ism.clone(), stamp, server });
        let mut cache = lock(&self.presentations);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(ism, p.clone());
        Ok(p)
    }

    /// The client manifest file of a presentation, with its stamp.
    pub fn client_manifest(&self, pres: &Presentation) -> Result<(PathBuf, Stamp)> {
        let path = self.contain(&pres.dir().join(&pres.server.client_manifest))?;
        let stamp = regular_file_stamp(&path).ok_or_else(|| CatalogError::NotFound(self.rel(&path)))?;
        Ok((path, stamp))
    }

    /// Finds the bytes a fragment request names: the track, its file, the `tfra` entry with exactly
    /// that time, then the `moof` (and for [`FragmentPart::Whole`] the `mdat` right after it).
    pub fn locate(&self, pres: &Presentation, req: &FragmentRequest) -> Result<FragmentLocation> {
        let mut stamp = None;
        self.locate_in(pres, req, &mut stamp).map_err(|e| match stamp {
            Some((path, stamp)) => self.unsettled(&path, stamp, e),
            None => e,
        })
    }

    fn locate_in(
        &self,
        pres: &Presentation,
        req: &FragmentRequest,
        seen: &mut Option<(PathBuf, Stamp)>,
    ) -> Result<FragmentLocation> {
        let track = pres
            .track(req.bitrate, &req.track)
            .ok_or_else(|| CatalogError::NotFound(format!("no track {} at bitrate {}", req.track, req.bitrate)))?;
        let path = self.contain(&pres.dir().join(&track.src))?;
        if let Some(stamp) = regular_file_stamp(&path) {
            *seen = Some((path.clone(), stamp));
        }
        let index = self.index(&path)?;
        let offset = *index
            .tracks
            .get(&track.track_id)
            .and_then(|times| times.get(&req.time))
            .ok_or_else(|| CatalogError::NotFound(format!("no {} fragment at time {}", req.track, req.time)))?;
        let mut f = File::open(&path).map_err(|e| self.io_error(&path, e))?;
        let total = self.fragment_len(&mut f, &path, index.stamp.len, offset, req.part == FragmentPart::Whole)?;
        Ok(FragmentLocation { path, stamp: index.stamp, offset, len: total, kind: track.kind })
    }

    /// The bytes of the fragment whose `moof` is at `offset` of the open file `f` (`len` bytes
    /// long): the `moof`, and with `whole` the `mdat` right after it. Two box headers read.
    fn fragment_len(&self, f: &mut File, path: &Path, len: u64, offset: u64, whole: bool) -> Result<u64> {
        let ctx = self.rel(path);
        let broken = |e: crate::format::FormatError| CatalogError::Broken(e.to_string());
        let moof = read_span(f, offset, len, &ctx).map_err(broken)?;
        let moof = moof
            .filter(|s| is(s, b"moof"))
            .ok_or_else(|| CatalogError::Broken(format!("{ctx}: no moof at byte {offset} (tfra is stale?)")))?;
        let mut total = moof.size;
        if whole {
            if let Some(mdat) = read_span(f, offset + moof.size, len, &ctx).map_err(broken)? {
                if is(&mdat, b"mdat") {
                    total += mdat.size;
                }
            }
        }
        if total > MAX_FRAGMENT {
            return Err(CatalogError::Broken(format!("{ctx}: fragment at byte {offset} is {total} bytes")));
        }
        Ok(total)
    }

    /// The size (`moof` + `mdat`) of every fragment of the track `name` at `bitrate`, by start
    /// time (the track's timescale): two box headers per fragment, read once per file stamp (for
    /// measured HLS bit rates; no fragment is read).
    pub fn fragment_sizes(&self, pres: &Presentation, bitrate: u32, name: &str) -> Result<Arc<BTreeMap<u64, u64>>> {
        let track = pres
            .track(bitrate, name)
            .ok_or_else(|| CatalogError::NotFound(format!("no track {name} at bitrate {bitrate}")))?;
        let path = self.contain(&pres.dir().join(&track.src))?;
        let index = self.index(&path)?;
        if let Some(s) = lock(&index.sizes).get(&track.track_id) {
            return Ok(s.clone());
        }
        let mut f = File::open(&path).map_err(|e| self.io_error(&path, e))?;
        let mut sizes = BTreeMap::new();
        for (&time, &offset) in index.tracks.get(&track.track_id).into_iter().flatten() {
            let len = self.fragment_len(&mut f, &path, index.stamp.len, offset, true);
            sizes.insert(time, len.map_err(|e| self.unsettled(&path, index.stamp, e))?);
        }
        let sizes = Arc::new(sizes);
        lock(&index.sizes).insert(track.track_id, sizes.clone());
        Ok(sizes)
    }

    /// Reads a located fragment. Fails (rather than serving mixed bytes) if the file changed since.
    pub fn read(&self, loc: &FragmentLocation) -> Result<Vec<u8>> {
        let mut f = File::open(&loc.path).map_err(|e| self.io_error(&loc.path, e))?;
        let meta = f.metadata().map_err(|e| self.io_error(&loc.path, e))?;
        if Stamp::of(&meta) != loc.stamp {
            return Err(CatalogError::NotFound(format!("{} changed while being read", self.rel(&loc.path))));
        }
        f.seek(SeekFrom::Start(loc.offset)).map_err(|e| self.io_error(&loc.path, e))?;
        let mut buf = Vec::with_capacity(loc.len as usize);
        (&mut f).take(loc.len).read_to_end(&mut buf).map_err(|e| self.io_error(&loc.path, e))?;
        if buf.len() as u64 != loc.len {
            let e = CatalogError::Broken(format!("{}: fragment runs past the end", self.rel(&loc.path)));
            return Err(self.unsettled(&loc.path, loc.stamp, e));
        }
        Ok(buf)
    }

    /// Locates and reads one fragment: what the origin answers and what `split` writes.
    pub fn fragment(&self, pres: &Presentation, req: &FragmentRequest) -> Result<(FragmentLocation, Vec<u8>)> {
        let loc = self.locate(pres, req)?;
        let bytes = self.read(&loc)?;
        Ok((loc, bytes))
    }

    /// The fragment index of a media file, built once per (path, length, mtime).
    fn index(&self, path: &Path) -> Result<Arc<FileIndex>> {
        let stamp = regular_file_stamp(path).ok_or_else(|| CatalogError::NotFound(self.rel(path)))?;
        if let Some(i) = lock(&self.indexes).get(path).filter(|i| i.stamp == stamp) {
            return Ok(i.clone());
        }
        let broken = |e: crate::format::FormatError| CatalogError::Broken(e.to_string());
        let mut tracks: HashMap<u32, BTreeMap<u64, u64>> = HashMap::new();
        if let Some(mfra) = read_mfra(path).map_err(broken)? {
            for tfra in &mfra.tfra_boxes {
                let times = tracks.entry(tfra.track_id).or_default();
                for e in &tfra.entries {
                    times.entry(e.time).or_insert(e.moof_offset);
                }
            }
        }
        if tracks.is_empty() {
            // No mfra: scan the file once (box headers and moofs only) and use the tfxd times.
            let media = MediaFile::open(path).map_err(broken)?;
            for track in &media.tracks {
                let mut t = 0u64;
                let times = tracks.entry(track.track_id).or_default();
                for f in media.track_fragments(track.track_id) {
                    // tfxd (PIFF), else tfdt (an ISO BMFF fragment), else where the last one ended.
                    let start = f.tfxd.map(|x| x.time).or(f.tfdt).unwrap_or(t);
                    times.entry(start).or_insert(f.moof_offset);
                    t = start + f.tfxd.map_or_else(|| f.decode_duration(), |x| x.duration);
                }
            }
        }
        let index = Arc::new(FileIndex { stamp, tracks, sizes: Mutex::default() });
        let mut cache = lock(&self.indexes);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(path.to_path_buf(), index.clone());
        Ok(index)
    }

    /// Every `.ism` under the root (sorted, at most [`MAX_DEPTH`] folders deep, hidden entries and
    /// symlinks leading outside skipped), as URL paths.
    pub fn list(&self) -> Vec<PresentationPath> {
        let mut out = Vec::new();
        self.walk(&self.root.clone(), &mut Vec::new(), &mut out, &mut Vec::new());
        out.sort_by(|a, b| (&a.dirs, &a.ism).cmp(&(&b.dirs, &b.ism)));
        out
    }

    /// Every folder under the root (as URL path segments, sorted) holding a pre-split layout
    /// (`--layout static`, `ssfpack split`): a `Manifest` file and no `.ism` beside it.
    pub fn static_layouts(&self) -> Vec<Vec<String>> {
        let (mut isms, mut statics) = (Vec::new(), Vec::new());
        self.walk(&self.root.clone(), &mut Vec::new(), &mut isms, &mut statics);
        statics.retain(|dir| !isms.iter().any(|p| &p.dirs == dir));
        statics.sort();
        statics
    }

    fn walk(&self, dir: &Path, rel: &mut Vec<String>, out: &mut Vec<PresentationPath>, statics: &mut Vec<Vec<String>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten().take(10_000) {
            let Ok(name) = entry.file_name().into_string() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let Ok(real) = self.contain(&entry.path()) else { continue };
            if real.is_dir() && rel.len() < MAX_DEPTH && real != self.root {
                rel.push(name);
                self.walk(&real, rel, out, statics);
                rel.pop();
            } else if real.is_file() && name.len() > 4 && name.to_ascii_lowercase().ends_with(".ism") {
                out.push(PresentationPath { dirs: rel.clone(), ism: name });
            } else if real.is_file() && name == "Manifest" {
                statics.push(rel.clone());
            }
        }
    }

    /// A file that does not parse but changed while it was read, vanished, or was modified in the
    /// last [`SETTLING`] (a publisher rewriting it in place) is "not there (yet)": 404, not 500.
    /// Unusable files that stay unusable remain [`CatalogError::Broken`].
    fn unsettled(&self, path: &Path, before: Stamp, e: CatalogError) -> CatalogError {
        let CatalogError::Broken(what) = &e else { return e };
        let now = std::fs::metadata(path).ok().filter(|m| m.is_file());
        let changed = now.as_ref().is_none_or(|m| Stamp::of(m) != before);
        let age = now.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if changed || age.is_none_or(|a| a < SETTLING) {
            CatalogError::NotFound(format!("{what} (the file is changing)"))
        } else {
            e
        }
    }

    fn io_error(&self, path: &Path, e: std::io::Error) -> CatalogError {
        match e.kind() {
            std::io::ErrorKind::NotFound => CatalogError::NotFound(self.rel(path)),
            _ => CatalogError::Broken(format!("{}: {e}", self.rel(path))),
        }
    }
}

/// The stamp of a regular file (after following symlinks); `None` for folders, missing files, etc.
pub fn regular_file_stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| Stamp::of(&meta))
}

fn is(span: &BoxSpan, fourcc: &[u8; 4]) -> bool {
    matches!(span.box_type, shiguredo_mp4::BoxType::Normal(t) if &t == fourcc)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
