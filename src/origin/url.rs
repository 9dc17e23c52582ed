//! The IIS Smooth Streaming URL grammar, as a pure parser from a raw (still percent-encoded) request
//! path to a typed [`Route`]. No I/O, no panics on any input: it faces the network (and a fuzzer).
//!
//! ```text
//! /                                                   → Index
//! /_player/ASSET…                                     → PlayerAsset (ssfpack's own player files, dash.js;
//!                                                        `/_player/?manifest=URL`: the generic player page)
//! /PATH…/NAME.ism/Manifest                            → Manifest
//! /PATH…/NAME.ism/QualityLevels(B)/Fragments(T=S)     → Fragment (moof + mdat)
//! /PATH…/NAME.ism/QualityLevels(B)/FragmentInfo(T=S)  → Fragment (moof only)
//! /PATH…/NAME.ism/QualityLevels(B)/KeyFrames(T=S)     → KeyFrames (not supported: 404)
//! /PATH…/NAME.ism/player                              → Player page (ssfpack extension)
//! /PATH…/NAME.isml/…                                  → the same, for a live publishing point
//! /PATH…/NAME.isml/Streams(ID)                        → Ingest (POST: a live encoder's stream)
//! /PATH…/NAME.isml/Events(EID)/Streams(ID)            → Ingest
//! /PATH…/FILE                                         → File (any other file under the root)
//! ```
//!
//! Each `/`-separated segment is percent-decoded on its own, so an encoded `%2F` can never create a
//! new segment. A decoded segment that is `.`, `..`, empty (except a trailing `/`), or contains `/`, `\`,
//! NUL or another control character makes the request malformed ([`UrlError::BadRequest`], 400).
//! Segments starting with `.` (hidden files, ssfpack's temp folders) are never served
//! ([`UrlError::NotFound`], 404). Keywords (`Manifest`, `QualityLevels`, …) match case-insensitively,
//! as IIS does. Numbers that are well-formed but do not fit (`QualityLevels(99999999999)`) cannot name
//! anything that exists, so they are 404, not 400.

use crate::format::dash::DashFlavor;
use crate::format::hls::HlsFlavor;
use percent_encoding::percent_decode_str;

/// Longest request path accepted, in bytes (before decoding).
pub const MAX_PATH_LEN: usize = 4096;
/// Most path segments accepted.
pub const MAX_SEGMENTS: usize = 64;
/// The reserved first segment for ssfpack's player assets.
pub const PLAYER_PREFIX: &str = "_player";

/// A presentation named in a URL: the folders under the root and the `.ism` file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresentationPath {
    /// Decoded folder names between the root and the `.ism`.
    pub dirs: Vec<String>,
    /// The `.ism` file name as written in the URL (e.g. `movie.ism`).
    pub ism: String,
}

impl PresentationPath {
    /// The relative URL path of the `.ism` (`dir/sub/movie.ism`), segments percent-encoded.
    pub fn url_path(&self) -> String {
        self.dirs.iter().chain(std::iter::once(&self.ism)).map(|s| encode_segment(s)).collect::<Vec<_>>().join("/")
    }

    /// The presentation name: the `.ism` (or `.isml`) file name without its extension.
    pub fn name(&self) -> &str {
        let ext = if self.is_live() { 5 } else { 4 };
        self.ism.get(..self.ism.len().saturating_sub(ext)).unwrap_or(&self.ism)
    }

    /// A live publishing point (`NAME.isml`) rather than an on-demand presentation.
    pub fn is_live(&self) -> bool {
        has_ext(&self.ism, ".isml")
    }
}

/// Which bytes of a fragment a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentPart {
    /// `Fragments(…)`: `moof` + `mdat`.
    Whole,
    /// `FragmentInfo(…)`: the `moof` alone.
    Info,
}

/// A fragment request: rung bitrate, track (stream) name, start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRequest {
    pub bitrate: u32,
    pub track: String,
    pub time: u64,
    pub part: FragmentPart,
}

/// What a request path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Index,
    /// A file under the player asset prefix, as decoded segments.
    PlayerAsset(Vec<String>),
    Manifest(PresentationPath),
    Fragment(PresentationPath, FragmentRequest),
    /// `KeyFrames(…)`: recognised, not served.
    KeyFrames(PresentationPath),
    /// The player page of a presentation.
    Player(PresentationPath),
    /// A live encoder's stream to a publishing point: `Streams(ID)`, optionally inside
    /// `Events(EID)`. The ids are checked: letters, digits, `_`, `-`, `.`, at most 128.
    Ingest(PresentationPath, IngestIds),
    /// A DASH or HLS resource of a presentation or point (Azure's dynamic-packaging URLs).
    Packaged(PresentationPath, PackagedFormat, Packaged),
    /// A plain file under the root, as decoded segments.
    File(Vec<String>),
}

/// The `format=` of a DASH/HLS URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackagedFormat {
    Dash(DashFlavor),
    Hls(HlsFlavor),
}

impl PackagedFormat {
    /// `mpd-time-csf`, `mpd-time-cmaf`, `m3u8-cmaf`, `m3u8-aapl`; anything else is `None`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "mpd-time-csf" => Some(PackagedFormat::Dash(DashFlavor::TimeCsf)),
            "mpd-time-cmaf" => Some(PackagedFormat::Dash(DashFlavor::TimeCmaf)),
            "m3u8-cmaf" => Some(PackagedFormat::Hls(HlsFlavor::Cmaf)),
            "m3u8-aapl" => Some(PackagedFormat::Hls(HlsFlavor::Aapl)),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PackagedFormat::Dash(f) => f.format_name(),
            PackagedFormat::Hls(f) => f.format_name(),
        }
    }

    /// The file extension a manifest URL may end with.
    fn extension(self) -> &'static str {
        match self {
            PackagedFormat::Dash(_) => ".mpd",
            PackagedFormat::Hls(_) => ".m3u8",
        }
    }
}

/// Which DASH/HLS resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packaged {
    /// `Manifest(format=F)`: the MPD or the HLS master playlist.
    Manifest,
    /// `QualityLevels(B)/Manifest(TRACK,format=F)`: an HLS media playlist.
    Playlist { bitrate: u32, track: String },
    /// `QualityLevels(B)/Fragments(TRACK=i,format=F)`: the init segment.
    Init { bitrate: u32, track: String },
    /// `QualityLevels(B)/Fragments(TRACK=T,format=F)`: a segment.
    Segment { bitrate: u32, track: String, time: u64 },
}

/// The ids of an ingest URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IngestIds {
    pub event: Option<String>,
    pub stream: String,
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Malformed: 400.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Well-formed but cannot exist: 404.
    #[error("not found: {0}")]
    NotFound(&'static str),
}

/// Parses a request path (the URI path, without query string).
pub fn parse(raw: &str) -> Result<Route, UrlError> {
    if raw.len() > MAX_PATH_LEN {
        return Err(UrlError::BadRequest("path too long"));
    }
    let rest = raw.strip_prefix('/').ok_or(UrlError::BadRequest("path must start with /"))?;
    if rest.is_empty() {
        return Ok(Route::Index);
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let raw_segments: Vec<&str> = rest.split('/').collect();
    if raw_segments.len() > MAX_SEGMENTS {
        return Err(UrlError::BadRequest("too many path segments"));
    }
    let segments = raw_segments.iter().map(|s| decode_segment(s)).collect::<Result<Vec<_>, _>>()?;
    if segments.iter().any(|s| s.starts_with('.')) {
        return Err(UrlError::NotFound("hidden path"));
    }
    if segments.first().map(String::as_str) == Some(PLAYER_PREFIX) {
        // `/_player/` alone is the generic player page (`?manifest=URL`).
        return Ok(Route::PlayerAsset(segments.into_iter().skip(1).collect()));
    }
    let Some(ism_at) = segments.iter().position(|s| is_ism(s)) else {
        return Ok(Route::File(segments));
    };
    let after = &segments[ism_at + 1..];
    let pres = PresentationPath { dirs: segments[..ism_at].to_vec(), ism: segments[ism_at].clone() };
    match after {
        [] => Ok(Route::File(segments)),
        [m] if m.eq_ignore_ascii_case("manifest") => Ok(Route::Manifest(pres)),
        [m] if call_argument(strip_extension(m), "Manifest").is_some() => {
            let format = manifest_format(m)?;
            Ok(Route::Packaged(pres, format, Packaged::Manifest))
        }
        [q, f] if call_argument(strip_extension(f), "Manifest").is_some() => {
            let bitrate = parse_quality_levels(q)?;
            let inner = call_argument(strip_extension(f), "Manifest").unwrap_or_default();
            let (track, format) =
                inner.split_once(',').ok_or(UrlError::BadRequest("expected Manifest(TRACK,format=F)"))?;
            check_track(track)?;
            let format = format_argument(format)?;
            if !matches!(format, PackagedFormat::Hls(_)) || !extension_fits(f, format) {
                return Err(UrlError::NotFound("no media playlist for that format"));
            }
            Ok(Route::Packaged(pres, format, Packaged::Playlist { bitrate, track: track.to_string() }))
        }
        [q, f] if call_argument(f, "Fragments").is_some_and(|i| i.contains(',')) => {
            let bitrate = parse_quality_levels(q)?;
            let inner = call_argument(f, "Fragments").unwrap_or_default();
            let (fragment, format) = inner.split_once(',').unwrap_or_default();
            let format = format_argument(format)?;
            let (track, time) = fragment.split_once('=').ok_or(UrlError::BadRequest("expected TRACK=T"))?;
            check_track(track)?;
            let track = track.to_string();
            if time == "i" {
                return Ok(Route::Packaged(pres, format, Packaged::Init { bitrate, track }));
            }
            let time = parse_number(time).ok_or(UrlError::BadRequest("time is not a number"))?;
            let time = time.ok_or(UrlError::NotFound("no such time"))?;
            Ok(Route::Packaged(pres, format, Packaged::Segment { bitrate, track, time }))
        }
        [p] if p == "player" => Ok(Route::Player(pres)),
        [st] if pres.is_live() && call_argument(st, "Streams").is_some() => {
            Ok(Route::Ingest(pres, IngestIds { event: None, stream: ingest_id(st, "Streams")? }))
        }
        [ev, st] if pres.is_live() && call_argument(ev, "Events").is_some() => Ok(Route::Ingest(
            pres,
            IngestIds { event: Some(ingest_id(ev, "Events")?), stream: ingest_id(st, "Streams")? },
        )),
        [q, f] => {
            let bitrate = parse_quality_levels(q)?;
            let (kind, track, time) = parse_fragments(f)?;
            let part = match kind {
                Kind::Fragments => FragmentPart::Whole,
                Kind::FragmentInfo => FragmentPart::Info,
                Kind::KeyFrames => return Ok(Route::KeyFrames(pres)),
            };
            Ok(Route::Fragment(pres, FragmentRequest { bitrate, track, time, part }))
        }
        _ => Err(UrlError::NotFound("unknown presentation resource")),
    }
}

/// `Manifest(format=F)` (with an optional `.mpd`/`.m3u8` that fits F) → F.
fn manifest_format(seg: &str) -> Result<PackagedFormat, UrlError> {
    let inner = call_argument(strip_extension(seg), "Manifest").ok_or(UrlError::BadRequest("expected Manifest(…)"))?;
    let format = format_argument(inner)?;
    if !extension_fits(seg, format) {
        return Err(UrlError::NotFound("extension does not fit the format"));
    }
    Ok(format)
}

/// `format=F` → F; an unknown F is 404.
fn format_argument(arg: &str) -> Result<PackagedFormat, UrlError> {
    let name = arg
        .split_once('=')
        .filter(|(k, _)| k.eq_ignore_ascii_case("format"))
        .map(|(_, v)| v)
        .ok_or(UrlError::BadRequest("expected format=F"))?;
    PackagedFormat::parse(name).ok_or(UrlError::NotFound("unknown format"))
}

/// The segment without a trailing `.mpd` or `.m3u8`.
fn strip_extension(seg: &str) -> &str {
    [".mpd", ".m3u8"].iter().find(|e| has_ext(seg, e)).map_or(seg, |e| &seg[..seg.len() - e.len()])
}

/// No extension, or the one of the format's family.
fn extension_fits(seg: &str, format: PackagedFormat) -> bool {
    strip_extension(seg).len() == seg.len() || has_ext(seg, format.extension())
}

fn check_track(track: &str) -> Result<(), UrlError> {
    if track.is_empty() || !track.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(UrlError::BadRequest("bad track name"));
    }
    Ok(())
}

fn is_ism(segment: &str) -> bool {
    has_ext(segment, ".ism") || has_ext(segment, ".isml")
}

fn has_ext(segment: &str, ext: &str) -> bool {
    segment.len() > ext.len() && segment.get(segment.len() - ext.len()..).is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Longest `Streams(…)`/`Events(…)` id.
pub const MAX_INGEST_ID: usize = 128;

/// `NAME(ID)` → ID, checked.
fn ingest_id(seg: &str, name: &str) -> Result<String, UrlError> {
    let id = call_argument(seg, name).ok_or(UrlError::BadRequest("expected Streams(ID)"))?;
    if id.is_empty()
        || id.len() > MAX_INGEST_ID
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(UrlError::BadRequest("bad stream or event id"));
    }
    Ok(id.to_string())
}

/// Percent-decodes one segment and refuses what could escape or confuse a file system.
fn decode_segment(raw: &str) -> Result<String, UrlError> {
    if raw.is_empty() {
        return Err(UrlError::BadRequest("empty path segment"));
    }
    let bytes: Vec<u8> = percent_decode_str(raw).collect();
    let s = String::from_utf8(bytes).map_err(|_| UrlError::BadRequest("path is not UTF-8"))?;
    if s == "." || s == ".." {
        return Err(UrlError::BadRequest("dot segment"));
    }
    if s.is_empty() {
        return Err(UrlError::BadRequest("empty path segment"));
    }
    if s.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return Err(UrlError::BadRequest("forbidden character in path"));
    }
    Ok(s)
}

/// `QualityLevels(B)` → B.
fn parse_quality_levels(seg: &str) -> Result<u32, UrlError> {
    let inner = call_argument(seg, "QualityLevels").ok_or(UrlError::BadRequest("expected QualityLevels(B)"))?;
    let n = parse_number(inner).ok_or(UrlError::BadRequest("bitrate is not a number"))?;
    u32::try_from(n.ok_or(UrlError::NotFound("no such bitrate"))?).map_err(|_| UrlError::NotFound("no such bitrate"))
}

enum Kind {
    Fragments,
    FragmentInfo,
    KeyFrames,
}

/// `Fragments(TRACK=T)` / `FragmentInfo(…)` / `KeyFrames(…)` → (kind, TRACK, T).
fn parse_fragments(seg: &str) -> Result<(Kind, String, u64), UrlError> {
    let (kind, inner) = if let Some(i) = call_argument(seg, "Fragments") {
        (Kind::Fragments, i)
    } else if let Some(i) = call_argument(seg, "FragmentInfo") {
        (Kind::FragmentInfo, i)
    } else if let Some(i) = call_argument(seg, "KeyFrames") {
        (Kind::KeyFrames, i)
    } else {
        return Err(UrlError::BadRequest("expected Fragments(TRACK=T)"));
    };
    let (track, time) = inner.split_once('=').ok_or(UrlError::BadRequest("expected TRACK=T"))?;
    check_track(track)?;
    let time = parse_number(time).ok_or(UrlError::BadRequest("time is not a number"))?;
    let time = time.ok_or(UrlError::NotFound("no such time"))?;
    Ok((kind, track.to_string(), time))
}

/// `NAME(ARG)` with NAME matched case-insensitively → ARG.
fn call_argument<'a>(seg: &'a str, name: &str) -> Option<&'a str> {
    let head = seg.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    seg.get(name.len()..)?.strip_prefix('(')?.strip_suffix(')')
}

/// Decimal digits only. `None`: not a number (400); `Some(None)`: a number too large for u64 (404).
fn parse_number(s: &str) -> Option<Option<u64>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().ok())
}

/// Percent-encodes a path segment for links (everything but unreserved characters and `()=,`).
pub fn encode_segment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'(')
        .remove(b')')
        .remove(b'=')
        .remove(b',');
    utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pres(dirs: &[&str], ism: &str) -> PresentationPath {
        PresentationPath { dirs: dirs.iter().map(|s| s.to_string()).collect(), ism: ism.into() }
    }

    fn frag(bitrate: u32, track: &str, time: u64, part: FragmentPart) -> FragmentRequest {
        FragmentRequest { bitrate, track: track.into(), time, part }
    }

    #[test]
    fn iis_grammar() {
        assert_eq!(parse("/"), Ok(Route::Index));
        assert_eq!(parse("/a.ism/Manifest"), Ok(Route::Manifest(pres(&[], "a.ism"))));
        assert_eq!(parse("/x/y/a.ism/manifest"), Ok(Route::Manifest(pres(&["x", "y"], "a.ism"))));
        assert_eq!(
            parse("/v/a.ism/QualityLevels(800000)/Fragments(video=20000000)"),
            Ok(Route::Fragment(pres(&["v"], "a.ism"), frag(800_000, "video", 20_000_000, FragmentPart::Whole)))
        );
        assert_eq!(
            parse("/a.ism/qualitylevels(1)/FragmentInfo(audio_eng=0)"),
            Ok(Route::Fragment(pres(&[], "a.ism"), frag(1, "audio_eng", 0, FragmentPart::Info)))
        );
        assert_eq!(parse("/a.ism/QualityLevels(1)/KeyFrames(video=0)"), Ok(Route::KeyFrames(pres(&[], "a.ism"))));
        assert_eq!(parse("/a.ism/player"), Ok(Route::Player(pres(&[], "a.ism"))));
        let ids = |e: Option<&str>, s: &str| IngestIds { event: e.map(str::to_string), stream: s.to_string() };
        assert_eq!(parse("/l/Live.isml/Streams(v1)"), Ok(Route::Ingest(pres(&["l"], "Live.isml"), ids(None, "v1"))));
        assert_eq!(
            parse("/Live.isml/Events(e-1)/Streams(video_800k)"),
            Ok(Route::Ingest(pres(&[], "Live.isml"), ids(Some("e-1"), "video_800k")))
        );
        assert_eq!(parse("/Live.isml/Manifest"), Ok(Route::Manifest(pres(&[], "Live.isml"))));
        assert_eq!(pres(&[], "Live.isml").name(), "Live");
        assert_eq!(parse("/a.ism/Streams(v1)"), Err(UrlError::NotFound("unknown presentation resource")));
        assert_eq!(parse("/L.isml/Streams(..%2F)"), Err(UrlError::BadRequest("forbidden character in path")));
        assert_eq!(parse("/L.isml/Streams(a%20b)"), Err(UrlError::BadRequest("bad stream or event id")));
        assert_eq!(parse("/a.ism"), Ok(Route::File(vec!["a.ism".into()])));
        assert_eq!(parse("/d/a_800k.ismv"), Ok(Route::File(vec!["d".into(), "a_800k.ismv".into()])));
        assert_eq!(parse("/_player/player.js"), Ok(Route::PlayerAsset(vec!["player.js".into()])));
        assert_eq!(parse("/_player/"), Ok(Route::PlayerAsset(vec![])));
        assert_eq!(parse("/_player"), Ok(Route::PlayerAsset(vec![])));
        // Encoded parentheses and '=' are the same URL.
        assert_eq!(
            parse("/a.ism/QualityLevels%285%29/Fragments%28video%3D7%29"),
            Ok(Route::Fragment(pres(&[], "a.ism"), frag(5, "video", 7, FragmentPart::Whole)))
        );
        // A pre-split layout is plain files.
        assert_eq!(
            parse("/d/QualityLevels(5)/Fragments(video=0)"),
            Ok(Route::File(vec!["d".into(), "QualityLevels(5)".into(), "Fragments(video=0)".into()]))
        );
        assert_eq!(parse("/My%20Movie.ism/Manifest"), Ok(Route::Manifest(pres(&[], "My Movie.ism"))));
        assert_eq!(pres(&["a b"], "My Movie.ism").url_path(), "a%20b/My%20Movie.ism");
        assert_eq!(pres(&[], "x.ism").name(), "x");
    }

    #[test]
    fn packaged_urls() {
        use PackagedFormat::*;
        let p = pres(&[], "a.ism");
        let seg = |bitrate, track: &str, time| Packaged::Segment { bitrate, track: track.into(), time };
        assert_eq!(
            parse("/a.ism/Manifest(format=mpd-time-csf)"),
            Ok(Route::Packaged(p.clone(), Dash(DashFlavor::TimeCsf), Packaged::Manifest))
        );
        assert_eq!(
            parse("/a.ism/manifest(format=mpd-time-cmaf).mpd"),
            Ok(Route::Packaged(p.clone(), Dash(DashFlavor::TimeCmaf), Packaged::Manifest))
        );
        assert_eq!(
            parse("/a.ism/Manifest(format=m3u8-cmaf).m3u8"),
            Ok(Route::Packaged(p.clone(), Hls(HlsFlavor::Cmaf), Packaged::Manifest))
        );
        assert_eq!(
            parse("/a.ism/QualityLevels(800)/Manifest(video,format=m3u8-aapl)"),
            Ok(Route::Packaged(
                p.clone(),
                Hls(HlsFlavor::Aapl),
                Packaged::Playlist { bitrate: 800, track: "video".into() }
            ))
        );
        assert_eq!(
            parse("/a.ism/QualityLevels(800)/Fragments(audio_eng=i,format=mpd-time-csf)"),
            Ok(Route::Packaged(
                p.clone(),
                Dash(DashFlavor::TimeCsf),
                Packaged::Init { bitrate: 800, track: "audio_eng".into() }
            ))
        );
        assert_eq!(
            parse("/a.ism/QualityLevels(800)/Fragments(video=20000000,format=m3u8-cmaf)"),
            Ok(Route::Packaged(p.clone(), Hls(HlsFlavor::Cmaf), seg(800, "video", 20_000_000)))
        );
        for missing in [
            "/a.ism/Manifest(format=smooth)",
            "/a.ism/Manifest(format=mpd-time-csf).m3u8",
            "/a.ism/QualityLevels(1)/Manifest(video,format=mpd-time-csf)",
            "/a.ism/QualityLevels(1)/Fragments(video=0,format=hds)",
        ] {
            assert!(matches!(parse(missing), Err(UrlError::NotFound(_))), "{missing}: {:?}", parse(missing));
        }
        for bad in [
            "/a.ism/Manifest(fmt=m3u8-cmaf)",
            "/a.ism/QualityLevels(1)/Manifest(video)",
            "/a.ism/QualityLevels(1)/Fragments(video=x,format=m3u8-cmaf)",
            "/a.ism/QualityLevels(1)/Fragments(v%20=0,format=m3u8-cmaf)",
        ] {
            assert!(matches!(parse(bad), Err(UrlError::BadRequest(_))), "{bad}: {:?}", parse(bad));
        }
    }

    #[test]
    fn hostile_paths() {
        use UrlError::*;
        let bad = [
            "",
            "a.ism/Manifest",
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/%2E%2E/etc/passwd",
            "/a%2f..%2f..%2fetc/passwd",
            "/a%5c..%5cetc",
            "/a\\..\\etc",
            "/a%00.ism/Manifest",
            "/a//b",
            "//etc/passwd",
            "/./a",
            "/%ff%fe",
            "/a.ism/QualityLevels(x)/Fragments(video=0)",
            "/a.ism/QualityLevels(-1)/Fragments(video=0)",
            "/a.ism/QualityLevels(+1)/Fragments(video=0)",
            "/a.ism/QualityLevels()/Fragments(video=0)",
            "/a.ism/QualityLevels(1)/Fragments(video=)",
            "/a.ism/QualityLevels(1)/Fragments(=0)",
            "/a.ism/QualityLevels(1)/Fragments(video)",
            "/a.ism/QualityLevels(1)/Fragments(vi%2Fdeo=0)",
            "/a.ism/QualityLevels(1)/Fragments(video=0x10)",
            "/a.ism/QualityLevels(1)/Fragments(video=1e5)",
            "/a.ism/QualityLevels(1)/Fragments(video=0",
            "/a.ism/QualityLevels(1)/Fragmentz(video=0)",
            "/a.ism/Levels(1)/Fragments(video=0)",
            "/a.ism/Manifest/extra",
            "/a.ism/QualityLevels(1)/Fragments(vid eo=0)",
        ];
        for p in bad {
            assert!(matches!(parse(p), Err(BadRequest(_))), "{p:?} → {:?}", parse(p));
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
        assert!(matches!(parse(&long), Err(BadRequest(_))));
        let deep = "/a".repeat(MAX_SEGMENTS + 1);
        assert!(matches!(parse(&deep), Err(BadRequest(_))));
        let missing = [
            "/.hidden",
            "/a/.git/config",
            "/%2ehidden",
            "/a.ism/QualityLevels(99999999999)/Fragments(video=0)",
            "/a.ism/QualityLevels(1)/Fragments(video=999999999999999999999999)",
            "/a.ism/QualityLevels(1)/Fragments(video=0)/x",
            "/a.ism/Other",
            "/a.ism/QualityLevels(1)/Fragments(vi/deo=0)",
        ];
        for p in missing {
            assert!(matches!(parse(p), Err(NotFound(_))), "{p:?} → {:?}", parse(p));
        }
    }

    #[test]
    fn never_panics_on_junk() {
        // A cheap deterministic fuzz: every string of up to 5 tokens from a small alphabet.
        let alphabet = ["/", "%", "2", "e", "(", ")", "=", ".", "a", "\u{e9}", "ism", "M"];
        let mut stack = vec![(String::new(), 0)];
        let mut n = 0;
        while let Some((s, depth)) = stack.pop() {
            let _ = parse(&s);
            n += 1;
            if depth < 5 {
                for a in alphabet {
                    stack.push((format!("{s}{a}"), depth + 1));
                }
            }
        }
        assert!(n > 100_000);
    }
}
