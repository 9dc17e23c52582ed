//! The seam between the origin's protocols and where fragments come from: a [`FragmentSource`]
//! lists the timeline (the [`ClientManifest`], and the Smooth manifest as answered), gives a
//! track's `moov` (for init segments), locates one fragment by track and time (with its validators)
//! and reads it. An on-demand presentation ([`VodSource`]: the [`Catalog`], its `tfra` indexes and
//! the fragment cache) and a live publishing point ([`LiveSource`] over a [`Point`]) both implement
//! it, so the Smooth handlers ([`super::smooth`]) and the DASH and HLS handlers
//! ([`super::packaged`]) are one set over either, and fragments are found and read one way.
//!
//! An on-demand source is blocking (file I/O): callers run it in `spawn_blocking`. A live point
//! locates in memory; only its [`FragmentSource::read`] of a fragment not in memory does I/O.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use shiguredo_mp4::boxes::MoovBox;

use super::cache::{Form, FragmentCache};
use super::catalog::{regular_file_stamp, Catalog, CatalogError, FragmentLocation, Presentation, Stamp};
use super::live::point::{Plan, ReadPlan};
use super::live::{LiveError, Point, Served};
use super::url::{FragmentPart, FragmentRequest};
use crate::format::boxes::{decode, encode, read_span};
use crate::format::manifest::ClientManifest;
use crate::format::{TrackKind, TIMESCALE};

/// Largest `moov` read for an init segment.
const MAX_MOOV: u64 = 16 << 20;
/// Entries kept per cache before it is cleared.
const MAX_CACHED: usize = 1024;

/// Why a source cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No such presentation, track or fragment: 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// A live fragment that is not available yet: 412 for Smooth clients (as IIS answers), 404 for
    /// DASH/HLS players (they retry).
    #[error("not available yet")]
    NotYet,
    /// The files are unusable: 500.
    #[error("{0}")]
    Broken(String),
}

impl From<CatalogError> for SourceError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound(w) => SourceError::NotFound(w),
            CatalogError::Broken(w) => SourceError::Broken(w),
        }
    }
}

impl From<LiveError> for SourceError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NotFound(w) => SourceError::NotFound(w.to_string()),
            other => SourceError::Broken(other.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, SourceError>;

/// A track's identity in its media file: what its init segment declares.
#[derive(Debug, Clone)]
pub struct TrackMedia {
    pub track_id: u32,
    /// The `mdhd` timescale (`tfdt` is in it).
    pub timescale: u32,
    pub moov: Arc<MoovBox>,
    pub kind: TrackKind,
    /// Validators of the file the `moov` is from (`None` for a live point's built `moov`).
    pub stamp: Option<Stamp>,
}

/// One fragment as read, as Smooth clients get it (`moof` + `mdat`, or the `moof` alone for
/// `FragmentInfo`; with its `tfrf` from a live point), and where the `moof` was in its file.
#[derive(Debug, Clone)]
pub struct SourceFragment {
    pub bytes: Bytes,
    pub moof_offset: u64,
    /// Its start in the track's (`mdhd`) timescale.
    pub decode_time: u64,
    pub kind: TrackKind,
    /// A strong ETag of these bytes, when the source knows one without hashing them.
    pub etag: Option<String>,
    pub mtime: Option<SystemTime>,
}

/// Validators of a fragment known before its bytes are read: a HEAD or a revalidation needs no
/// read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    pub etag: String,
    pub mtime: Option<SystemTime>,
    /// The fragment's length in bytes.
    pub len: u64,
}

/// A fragment found by [`FragmentSource::locate`], read by [`FragmentSource::read`].
pub struct Located {
    pub kind: TrackKind,
    /// Its start in the track's (`mdhd`) timescale.
    pub decode_time: u64,
    /// `Some` when the source knows the validators without the bytes (an on-demand file: its stamp,
    /// the fragment's offset and length); `None` when they come from the bytes (a live answer).
    pub known: Option<Validators>,
    at: At,
}

/// Where a located fragment's bytes are.
enum At {
    /// In an on-demand media file (read through the fragment cache).
    File(FragmentLocation),
    /// In a live point's archive file, its `tfrf` still to add.
    Live(ReadPlan),
    /// In memory already (a live point's cached final answer).
    Memory(Bytes),
}

impl Located {
    /// True when [`FragmentSource::read`] needs no I/O.
    pub fn in_memory(&self) -> bool {
        matches!(self.at, At::Memory(_))
    }
}

/// The Smooth client manifest (`…/Manifest`) as answered.
#[derive(Debug, Clone)]
pub enum SmoothManifest {
    /// An on-demand presentation's `.ismc`, served as the file it is (ranges, its validators).
    File { path: PathBuf, stamp: Stamp },
    /// Built in memory (a live point's), cacheable for `max_age` seconds.
    Built { xml: Bytes, max_age: u64 },
}

/// A built segment.
#[derive(Debug, Clone)]
pub struct BuiltSegment {
    pub bytes: Bytes,
    pub kind: TrackKind,
    /// The stored fragment's ETag, when the source knows one.
    pub etag: Option<String>,
    pub mtime: Option<SystemTime>,
}

/// The CMAF segment of a stored fragment of `media` that starts at `decode_time` in the track's
/// own (`mdhd`) timescale, which its `tfdt` gets; a text track's documents get track-timeline
/// times ([`crate::format::cmaf::text_segment`]).
pub fn build_segment(
    media: &TrackMedia,
    fragment: &[u8],
    moof_offset: u64,
    name: &str,
    bitrate: u32,
    decode_time: u64,
) -> Result<Vec<u8>> {
    let ctx = format!("{name} at {bitrate}, fragment {decode_time}");
    let built = match media.kind {
        TrackKind::Text => {
            crate::format::cmaf::text_segment(fragment, moof_offset, media.track_id, media.timescale, decode_time, &ctx)
        }
        _ => crate::format::cmaf::segment(fragment, moof_offset, media.track_id, decode_time, &ctx),
    };
    built.map_err(|e| SourceError::Broken(e.to_string()))
}

/// A time `t` of a stream whose manifest timescale is `from` in a track timescale `to`, rounded
/// to the nearest unit (the identity when they are equal, as in every ssfpack presentation).
pub fn rescale(t: u64, from: u64, to: u64) -> u64 {
    if from == to || from == 0 {
        return t;
    }
    ((u128::from(t) * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as u64
}

/// Live timing for dynamic manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveWindow {
    /// The DVR window in seconds (0: everything).
    pub dvr_secs: u64,
    /// Wall-clock time of media time 0.
    pub availability_start: SystemTime,
}

/// Where the Smooth, DASH and HLS handlers get manifests and fragments from.
pub trait FragmentSource: Send + Sync {
    /// The timeline and tracks; `NotFound` while a live point has nothing to list.
    fn manifest(&self) -> Result<Arc<ClientManifest>>;
    /// The Smooth client manifest as answered; `NotFound` while a live point has nothing to list.
    fn smooth_manifest(&self) -> Result<SmoothManifest>;
    /// The `moov` and identity of the track `name` at `bitrate`.
    fn track(&self, name: &str, bitrate: u32) -> Result<TrackMedia>;
    /// Finds the fragment `req` names (its time in the stream's timescale, as in the manifest and
    /// the URLs; `FragmentPart::Info`: its `moof` alone) and what is known of it before a read.
    /// `NotYet` for a live fragment that is not available yet.
    fn locate(&self, req: &FragmentRequest) -> Result<Located>;
    /// Reads a fragment this source located.
    fn read(&self, at: Located) -> Result<SourceFragment>;
    /// The whole fragment of track `name` at `bitrate` starting at `time` (the stream's timescale).
    fn fragment(&self, name: &str, bitrate: u32, time: u64) -> Result<SourceFragment> {
        let req = FragmentRequest { bitrate, track: name.to_string(), time, part: FragmentPart::Whole };
        self.read(self.locate(&req)?)
    }
    /// The size in bytes of every stored fragment (`moof` + `mdat`) of the track, by start time
    /// in the track's timescale, from the source's index (no fragment read): measured HLS rates.
    fn fragment_sizes(&self, name: &str, bitrate: u32) -> Result<Arc<BTreeMap<u64, u64>>>;
    /// A measurement `what` of the track's fragments (`measure` runs when none is kept); a source
    /// whose fragments do not change keeps it per file stamp. The default keeps nothing.
    fn remember(
        &self,
        name: &str,
        bitrate: u32,
        what: &'static str,
        measure: &mut dyn FnMut() -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        let _ = (name, bitrate, what);
        measure()
    }
    /// The CMAF segment of that fragment ([`crate::format::cmaf::segment`]) and its validators.
    /// The default builds it from [`Self::track`] and [`Self::fragment`], for a source whose
    /// stream and track timescales are the same (a live point's); a source may keep built
    /// segments.
    fn segment(&self, name: &str, bitrate: u32, time: u64) -> Result<BuiltSegment> {
        let media = self.track(name, bitrate)?;
        let f = self.fragment(name, bitrate, time)?;
        let bytes = build_segment(&media, &f.bytes, f.moof_offset, name, bitrate, time)?;
        Ok(BuiltSegment { bytes: bytes.into(), kind: media.kind, etag: f.etag, mtime: f.mtime })
    }
    /// The bytes `build` makes from the fragment `at` (as this source located it) in `form` (an
    /// MPEG-TS segment). A source whose fragments do not change keeps them beside the stored
    /// bytes; the default builds them every time.
    fn derived(&self, at: &Located, form: Form, build: &mut dyn FnMut() -> Result<Vec<u8>>) -> Result<Bytes> {
        let _ = (at, form);
        build().map(Bytes::from)
    }
    /// `Some` for a live point while its event is on.
    fn live(&self) -> Option<LiveWindow> {
        None
    }
    /// The position of fragment `time` of the track in its whole timeline (HLS media sequence).
    fn sequence(&self, _name: &str, _bitrate: u32, time: u64) -> u64 {
        let _ = time;
        0
    }
}

/// A measurement's key: media file, track ID, what.
type MeasureKey = (PathBuf, u32, &'static str);

/// The caches of the on-demand source: parsed client manifests and `moov`s, by file and stamp.
#[derive(Debug, Default)]
pub struct VodCaches {
    clients: Mutex<HashMap<PathBuf, (Stamp, Arc<ClientManifest>)>>,
    moovs: Mutex<HashMap<PathBuf, (Stamp, Arc<MoovBox>)>>,
    /// [`FragmentSource::remember`]: by media file, track and what, with the file's stamp.
    measures: Mutex<HashMap<MeasureKey, (Stamp, Vec<f64>)>>,
}

/// An on-demand presentation (`.ism`) as a fragment source.
pub struct VodSource<'a> {
    pub catalog: &'a Catalog,
    pub pres: Arc<Presentation>,
    pub fragments: &'a FragmentCache,
    pub caches: &'a VodCaches,
}

impl FragmentSource for VodSource<'_> {
    fn manifest(&self) -> Result<Arc<ClientManifest>> {
        let SmoothManifest::File { path, stamp } = self.smooth_manifest()? else {
            return Err(SourceError::Broken("an on-demand manifest is a file".into()));
        };
        if let Some((s, m)) = lock(&self.caches.clients).get(&path) {
            if *s == stamp {
                return Ok(m.clone());
            }
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| SourceError::Broken(format!("{}: {e}", path.display())))?;
        let m = Arc::new(
            ClientManifest::from_xml(&text, &path.display().to_string())
                .map_err(|e| SourceError::Broken(e.to_string()))?,
        );
        insert(&self.caches.clients, path, (stamp, m.clone()));
        Ok(m)
    }

    fn smooth_manifest(&self) -> Result<SmoothManifest> {
        let (path, stamp) = self.catalog.client_manifest(&self.pres)?;
        Ok(SmoothManifest::File { path, stamp })
    }

    fn track(&self, name: &str, bitrate: u32) -> Result<TrackMedia> {
        let t = self
            .pres
            .track(bitrate, name)
            .ok_or_else(|| SourceError::NotFound(format!("no track {name} at bitrate {bitrate}")))?;
        let path = self.catalog.contain(&self.pres.dir().join(&t.src))?;
        let stamp = regular_file_stamp(&path).ok_or_else(|| SourceError::NotFound(t.src.clone()))?;
        self.media(&path, stamp, t.track_id, t.kind)
    }

    /// Looked up as is first (stream and track timescales are the same in almost every
    /// presentation); when that misses and the manifest's timescale for the stream differs from
    /// the track's `mdhd`, the time is rescaled and looked up again. A miss stays a miss (404)
    /// when the manifest or the track cannot be read for the second try (files being rewritten).
    fn locate(&self, req: &FragmentRequest) -> Result<Located> {
        let (loc, decode_time) = match self.catalog.locate(&self.pres, req) {
            Ok(loc) => (loc, req.time),
            Err(CatalogError::NotFound(missed)) => {
                let Some(t) = self.track_time(req).filter(|&t| t != req.time) else {
                    return Err(SourceError::NotFound(missed));
                };
                (self.catalog.locate(&self.pres, &FragmentRequest { time: t, ..req.clone() })?, t)
            }
            Err(e) => return Err(e.into()),
        };
        let known = Validators { etag: loc.etag(), mtime: loc.stamp.mtime, len: loc.len };
        Ok(Located { kind: loc.kind, decode_time, known: Some(known), at: At::File(loc) })
    }

    fn read(&self, at: Located) -> Result<SourceFragment> {
        let decode_time = at.decode_time;
        let (loc, known) = in_file(at)?;
        let bytes = self.fragments.get_or_read(&loc, || self.catalog.read(&loc))?;
        let (moof_offset, kind, etag, mtime) = (loc.offset, loc.kind, Some(known.etag), known.mtime);
        Ok(SourceFragment { bytes, moof_offset, decode_time, kind, etag, mtime })
    }

    fn fragment_sizes(&self, name: &str, bitrate: u32) -> Result<Arc<BTreeMap<u64, u64>>> {
        Ok(self.catalog.fragment_sizes(&self.pres, bitrate, name)?)
    }

    fn remember(
        &self,
        name: &str,
        bitrate: u32,
        what: &'static str,
        measure: &mut dyn FnMut() -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        let t = self.pres.track(bitrate, name).ok_or_else(|| SourceError::NotFound(format!("no track {name}")))?;
        let path = self.catalog.contain(&self.pres.dir().join(&t.src))?;
        let stamp = regular_file_stamp(&path).ok_or_else(|| SourceError::NotFound(t.src.clone()))?;
        let key = (path, t.track_id, what);
        if let Some((s, v)) = lock(&self.caches.measures).get(&key) {
            if *s == stamp {
                return Ok(v.clone());
            }
        }
        let v = measure()?;
        let mut c = lock(&self.caches.measures);
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, (stamp, v.clone()));
        Ok(v)
    }

    /// Located once (the file's path and stamp then name its `moov` too); the built segment is
    /// kept in the fragment cache beside the stored bytes. Its `tfdt` is the start time the
    /// fragment index has (the track's timescale).
    fn segment(&self, name: &str, bitrate: u32, time: u64) -> Result<BuiltSegment> {
        let req = FragmentRequest { bitrate, track: name.to_string(), time, part: FragmentPart::Whole };
        let at = self.locate(&req)?;
        let track_time = at.decode_time;
        let (loc, known) = in_file(at)?;
        let t = self.pres.track(bitrate, name).ok_or_else(|| SourceError::NotFound(format!("no track {name}")))?;
        let media = self.media(&loc.path, loc.stamp, t.track_id, t.kind)?;
        let bytes = self.fragments.get_or_build(&loc, Form::Cmaf, || {
            let stored = self.catalog.read(&loc)?;
            build_segment(&media, &stored, loc.offset, name, bitrate, track_time)
        })?;
        Ok(BuiltSegment { bytes, kind: t.kind, etag: Some(known.etag), mtime: known.mtime })
    }

    /// Kept in the fragment cache under the stored fragment's location and stamp.
    fn derived(&self, at: &Located, form: Form, build: &mut dyn FnMut() -> Result<Vec<u8>>) -> Result<Bytes> {
        match &at.at {
            At::File(loc) => self.fragments.get_or_build(loc, form, build),
            _ => Err(SourceError::Broken("a fragment located by another source".into())),
        }
    }
}

/// The file location of a fragment [`VodSource`] located.
fn in_file(at: Located) -> Result<(FragmentLocation, Validators)> {
    match (at.at, at.known) {
        (At::File(loc), Some(known)) => Ok((loc, known)),
        _ => Err(SourceError::Broken("a fragment located by another source".into())),
    }
}

impl VodSource<'_> {
    /// The time `req` names in the track's (`mdhd`) timescale, when its stream's timescale in the
    /// manifest differs (`None` when they are the same or either cannot be read).
    fn track_time(&self, req: &FragmentRequest) -> Option<u64> {
        let m = self.manifest().ok()?;
        let from = m.stream(&req.track).map_or(m.timescale, |s| s.effective_timescale(&m));
        let to = u64::from(self.track(&req.track, req.bitrate).ok()?.timescale);
        (from != to).then(|| rescale(req.time, from, to))
    }

    /// The track `track_id` of the media file at `path` (canonical) with `stamp`: its `moov`, read
    /// once per stamp.
    fn media(&self, path: &Path, stamp: Stamp, track_id: u32, kind: TrackKind) -> Result<TrackMedia> {
        let cached = lock(&self.caches.moovs).get(path).filter(|(s, _)| *s == stamp).map(|(_, m)| m.clone());
        let moov = match cached {
            Some(m) => m,
            None => {
                let m = Arc::new(read_moov(path, stamp)?);
                insert(&self.caches.moovs, path.to_path_buf(), (stamp, m.clone()));
                m
            }
        };
        let trak = moov
            .trak_boxes
            .iter()
            .find(|k| k.tkhd_box.track_id == track_id)
            .ok_or_else(|| SourceError::Broken(format!("{}: no track {track_id} in moov", path.display())))?;
        let timescale = trak.mdia_box.mdhd_box.timescale.get();
        Ok(TrackMedia { track_id, timescale, moov: moov.clone(), kind, stamp: Some(stamp) })
    }
}

/// Reads the `moov` of a media file: the top-level boxes from the start until it.
fn read_moov(path: &Path, stamp: Stamp) -> Result<MoovBox> {
    use std::io::{Read, Seek, SeekFrom};
    let ctx = path.display().to_string();
    let broken = |e: crate::format::FormatError| SourceError::Broken(e.to_string());
    let io = |e: std::io::Error| SourceError::Broken(format!("{ctx}: {e}"));
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut offset = 0;
    for _ in 0..16 {
        let Some(span) = read_span(&mut f, offset, stamp.len, &ctx).map_err(broken)? else { break };
        if matches!(span.box_type, shiguredo_mp4::BoxType::Normal(t) if &t == b"moov") {
            if span.size > MAX_MOOV {
                return Err(SourceError::Broken(format!("{ctx}: moov of {} bytes is too large", span.size)));
            }
            let mut buf = vec![0; span.size as usize];
            f.seek(SeekFrom::Start(offset)).map_err(io)?;
            f.read_exact(&mut buf).map_err(io)?;
            let (moov, _) = decode::<MoovBox>(&buf, &format!("{ctx}: moov")).map_err(broken)?;
            return Ok(moov);
        }
        offset += span.size;
    }
    Err(SourceError::Broken(format!("{ctx}: no moov among the first boxes")))
}

/// A live publishing point as a fragment source: its live (or, once ended, on-demand) manifest,
/// a `moov` built from each track's codec configuration, fragments from the event's archive.
pub struct LiveSource(pub Arc<Point>);

impl FragmentSource for LiveSource {
    fn manifest(&self) -> Result<Arc<ClientManifest>> {
        self.0.manifest()?.map(Arc::new).ok_or_else(|| SourceError::NotFound("nothing to list yet".into()))
    }

    /// Built from memory (no I/O), once per change of the event.
    fn smooth_manifest(&self) -> Result<SmoothManifest> {
        let (xml, max_age) =
            self.0.manifest_xml()?.ok_or_else(|| SourceError::NotFound("nothing to list yet".into()))?;
        Ok(SmoothManifest::Built { xml, max_age })
    }

    fn track(&self, name: &str, bitrate: u32) -> Result<TrackMedia> {
        let info = self.0.track_info(name, bitrate).ok_or_else(|| SourceError::NotFound(format!("no track {name}")))?;
        let moov = crate::format::writer::moov(&info).map_err(|e| SourceError::Broken(e.to_string()))?;
        // The moov as a decoded box, the same struct an on-demand file gives.
        let (moov, _) =
            decode::<MoovBox>(&encode(&moov, "moov").map_err(|e| SourceError::Broken(e.to_string()))?, "moov")
                .map_err(|e| SourceError::Broken(e.to_string()))?;
        Ok(TrackMedia {
            track_id: info.track_id,
            timescale: TIMESCALE as u32,
            moov: Arc::new(moov),
            kind: info.kind(),
            stamp: None,
        })
    }

    /// Decided in memory, under the point's lock: a cached final answer, `NotYet`, or what to read.
    fn locate(&self, req: &FragmentRequest) -> Result<Located> {
        let decode_time = req.time;
        match self.0.plan_fragment(req)? {
            Plan::Ready(Served::Bytes { bytes, kind }) => {
                Ok(Located { kind, decode_time, known: None, at: At::Memory(bytes) })
            }
            Plan::Ready(Served::NotYet) => Err(SourceError::NotYet),
            Plan::Read(plan) => Ok(Located { kind: plan.kind(), decode_time, known: None, at: At::Live(plan) }),
        }
    }

    /// Reads the fragment from the archive and adds its `tfrf` (blocking), unless in memory.
    fn read(&self, at: Located) -> Result<SourceFragment> {
        let (bytes, kind) = match at.at {
            At::Memory(bytes) => (bytes, at.kind),
            At::Live(plan) => match self.0.read_fragment(plan)? {
                Served::Bytes { bytes, kind } => (bytes, kind),
                Served::NotYet => return Err(SourceError::NotYet),
            },
            At::File(_) => return Err(SourceError::Broken("a fragment located by another source".into())),
        };
        Ok(SourceFragment { bytes, moof_offset: 0, decode_time: at.decode_time, kind, etag: None, mtime: None })
    }

    fn fragment_sizes(&self, name: &str, bitrate: u32) -> Result<Arc<BTreeMap<u64, u64>>> {
        let sizes =
            self.0.fragment_sizes(name, bitrate).ok_or_else(|| SourceError::NotFound(format!("no track {name}")))?;
        Ok(Arc::new(sizes))
    }

    fn live(&self) -> Option<LiveWindow> {
        self.0.live_window()
    }

    fn sequence(&self, name: &str, bitrate: u32, time: u64) -> u64 {
        self.0.sequence_of(name, bitrate, time)
    }
}

fn insert<V>(m: &Mutex<HashMap<PathBuf, V>>, k: PathBuf, v: V) {
    let mut c = lock(m);
    if c.len() >= MAX_CACHED {
        c.clear();
    }
    c.insert(k, v);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
