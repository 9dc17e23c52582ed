//! The DASH/HLS static layout (`--layout dash,hls`, `ssfpack split --layout dash,hls`): `NAME.mpd`
//! and/or `NAME.m3u8` (the HLS master) at the top of the output folder, and `cmaf/TRACK_B/` per rung
//! holding `init.mp4`, one `T.m4s` per fragment and the HLS media playlist `index.m3u8` (a text
//! track's folder also holds one `T.vtt` per fragment for HLS). DASH and HLS share the segment
//! files; all URLs are relative, so nginx, S3 or any CDN serves them.
//!
//! Every file is the bytes `ssfpack serve` answers for the matching DASH/HLS URL: both are built by
//! [`super::packaged::answer_named`] over the same [`VodSource`], only the names differ
//! ([`Naming::static_files`]). The segments are their own files, not byte ranges into the `.ismv`
//! (which would then need a `tfdt` in every Smooth fragment): see docs/format.md.
//!
//! Written like the Smooth split: everything into a hidden temporary folder inside the output
//! folder and synced, then `cmaf/` moved into place (a previous one aside, then deleted) and the
//! top-level manifests renamed last. Only what this writer wrote is ever replaced.

use std::path::Path;

use super::cache::FragmentCache;
use super::catalog::Catalog;
use super::packaged::answer_named;
use super::source::{FragmentSource, SourceError, VodCaches, VodSource};
use super::split::{SplitError, SplitReport};
use super::url::{Packaged, PackagedFormat};
use crate::format::cmaf::Naming;
use crate::format::dash::DashFlavor;
use crate::format::hls::HlsFlavor;
use crate::format::manifest::StreamIndex;

/// The folder of the shared segments.
pub const SEGMENTS_DIR: &str = "cmaf";
/// The folder of the HLS MPEG-TS segments (`hls-ts`).
pub const TS_DIR: &str = "ts";

/// Which manifests to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub dash: bool,
    pub hls: bool,
    /// HLS with MPEG-TS segments (`m3u8-aapl`): `NAME-ts.m3u8` and `ts/`.
    pub hls_ts: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SplitError + '_ {
    move |source| SplitError::Io { path: path.to_path_buf(), source }
}

fn source_error(e: SourceError) -> SplitError {
    SplitError::Packaged(e.to_string())
}

/// Writes the DASH/HLS layout of `presentation_dir/NAME.ism` into `out` (created if missing).
pub fn write_cmaf_layout(
    presentation_dir: &Path,
    name: &str,
    out: &Path,
    protocols: Protocols,
) -> Result<SplitReport, SplitError> {
    let name = name.strip_suffix(".ism").unwrap_or(name);
    let catalog = Catalog::new(presentation_dir).map_err(io(presentation_dir))?;
    let pres = catalog.presentation_at(&presentation_dir.join(format!("{name}.ism")))?;
    // The fragments are read once each, straight from the media files: no cache.
    let (fragments, caches) = (FragmentCache::new(0), VodCaches::default());
    let src = VodSource { catalog: &catalog, pres, fragments: &fragments, caches: &caches };
    let naming = Naming::static_files();
    let m = src.manifest().map_err(source_error)?;

    std::fs::create_dir_all(out).map_err(io(out))?;
    let tmp = tempfile::Builder::new().prefix(".ssfpack-cmaf-").tempdir_in(out).map_err(io(out))?;
    let mut report = SplitReport { out_dir: out.to_path_buf(), fragments: 0, bytes: 0 };
    let cmaf = PackagedFormat::Hls(HlsFlavor::Cmaf);
    // Init segments and segments are the same bytes for DASH and HLS fMP4 (text: DASH's `stpp`).
    let dash = PackagedFormat::Dash(DashFlavor::TimeCsf);
    let write = |rel: &str, bytes: &[u8]| -> Result<(), SplitError> {
        let path = tmp.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        crate::durable::write_synced(&path, bytes).map_err(io(&path))
    };
    // Video, audio and text streams (a Smooth manifest may name other kinds: not packaged).
    let streams = || m.streams.iter().filter(|s| matches!(s.kind.as_str(), "video" | "audio" | "text"));
    for stream in streams() {
        // A text track is `stpp` segments for DASH and WebVTT segments for HLS, in one folder.
        let text = stream.kind == "text";
        for q in &stream.quality_levels {
            let b = q.bitrate.to_string();
            let (bitrate, track) = (q.bitrate, stream.name.clone());
            if protocols.dash || (protocols.hls && !text) {
                let init = answer_named(&src, dash, &Packaged::Init { bitrate, track: track.clone() }, "", &naming)
                    .map_err(source_error)?;
                write(&Naming::fill(&naming.dash_init, &stream.name, &b, ""), &init.bytes)?;
                for c in &stream.chunks {
                    let req = Packaged::Segment { bitrate, track: track.clone(), time: c.t };
                    let seg = answer_named(&src, dash, &req, "", &naming).map_err(source_error)?;
                    write(&Naming::fill(&naming.dash_segment, &stream.name, &b, &c.t.to_string()), &seg.bytes)?;
                    report.fragments += 1;
                    report.bytes += seg.bytes.len() as u64;
                }
            }
            if protocols.hls {
                write_hls_rung(&src, HlsFlavor::Cmaf, &naming, stream, bitrate, &write, &mut report)?;
            }
        }
    }
    let ts_naming = Naming::static_ts_files();
    if protocols.hls_ts {
        for stream in streams() {
            for q in &stream.quality_levels {
                write_hls_rung(&src, HlsFlavor::Aapl, &ts_naming, stream, q.bitrate, &write, &mut report)?;
            }
        }
    }
    let mut tops = Vec::new();
    if protocols.dash {
        let mpd = answer_named(&src, PackagedFormat::Dash(DashFlavor::TimeCsf), &Packaged::Manifest, "", &naming)
            .map_err(source_error)?;
        let file = format!("{name}.mpd");
        write(&file, &mpd.bytes)?;
        tops.push(file);
    }
    if protocols.hls {
        let master = answer_named(&src, cmaf, &Packaged::Manifest, "", &naming).map_err(source_error)?;
        let file = format!("{name}.m3u8");
        write(&file, &master.bytes)?;
        tops.push(file);
    }
    if protocols.hls_ts {
        let aapl = PackagedFormat::Hls(HlsFlavor::Aapl);
        let master = answer_named(&src, aapl, &Packaged::Manifest, "", &ts_naming).map_err(source_error)?;
        let file = format!("{name}-ts.m3u8");
        write(&file, &master.bytes)?;
        tops.push(file);
    }
    crate::durable::sync_tree(tmp.path()).map_err(io(tmp.path()))?;
    // The segment folders this run wrote (`cmaf/` for DASH/HLS fMP4, `ts/` for HLS MPEG-TS).
    let folders: Vec<&str> =
        [SEGMENTS_DIR, TS_DIR].into_iter().filter(|d| tmp.path().join(d).symlink_metadata().is_ok()).collect();
    for f in &folders {
        check_ours(&out.join(f))?;
    }
    for t in &tops {
        check_ours(&out.join(t))?;
    }
    let trash = tempfile::Builder::new().prefix(".ssfpack-old-").tempdir_in(out).map_err(io(out))?;
    for f in &folders {
        let target = out.join(f);
        if target.symlink_metadata().is_ok() {
            std::fs::rename(&target, trash.path().join(f)).map_err(io(&target))?;
        }
        std::fs::rename(tmp.path().join(f), &target).map_err(io(&target))?;
    }
    for t in &tops {
        let to = out.join(t);
        std::fs::rename(tmp.path().join(t), &to).map_err(io(&to))?;
    }
    crate::durable::sync_dir(out).map_err(io(out))?;
    Ok(report)
}

/// Writes one file of the layout: its path relative to the output folder and its bytes.
type WriteFile<'a> = dyn Fn(&str, &[u8]) -> Result<(), SplitError> + 'a;

/// Writes the HLS media playlist of one rung of `stream` and the segments only HLS uses: WebVTT
/// for a text track; for MPEG-TS (`flavor` Aapl) the audio/video segments too (the fMP4 ones are
/// DASH's, written already).
fn write_hls_rung(
    src: &VodSource<'_>,
    flavor: HlsFlavor,
    naming: &Naming,
    stream: &StreamIndex,
    bitrate: u32,
    write: &WriteFile<'_>,
    report: &mut SplitReport,
) -> Result<(), SplitError> {
    let format = PackagedFormat::Hls(flavor);
    let (b, track) = (bitrate.to_string(), stream.name.clone());
    let text = stream.kind == "text";
    let playlist_file = Naming::fill(&naming.playlist, &stream.name, &b, "");
    let folder = Path::new(&playlist_file).parent().unwrap_or(Path::new("")).to_path_buf();
    if text || flavor == HlsFlavor::Aapl {
        let template = if text { &naming.hls_text_segment } else { &naming.hls_segment };
        for c in &stream.chunks {
            let req = Packaged::Segment { bitrate, track: track.clone(), time: c.t };
            let seg = answer_named(src, format, &req, "", naming).map_err(source_error)?;
            let file = folder.join(Naming::fill(template, &stream.name, &b, &c.t.to_string()));
            write(&file.to_string_lossy(), &seg.bytes)?;
            report.fragments += 1;
            report.bytes += seg.bytes.len() as u64;
        }
    }
    let playlist =
        answer_named(src, format, &Packaged::Playlist { bitrate, track }, "", naming).map_err(source_error)?;
    write(&playlist_file, &playlist.bytes)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Refuses to replace `path` unless this writer could have written it: an MPD, an HLS playlist,
/// or a `cmaf/` (`ts/`) folder of rung folders `TRACK_B` holding only `init.mp4`, `index.m3u8` and
/// segments named by their time (`T.m4s`, `T.vtt`, `T.ts`).
fn check_ours(path: &Path) -> Result<(), SplitError> {
    let Ok(meta) = path.symlink_metadata() else { return Ok(()) };
    let foreign = |why| Err(SplitError::Foreign { path: path.to_path_buf(), why });
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if file_name != SEGMENTS_DIR && file_name != TS_DIR {
        let head = std::fs::read(path).map(|b| String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned());
        let ours = match head {
            Ok(h) if meta.is_file() && file_name.ends_with(".mpd") => h.contains("<MPD"),
            Ok(h) if meta.is_file() => h.starts_with("#EXTM3U"),
            _ => false,
        };
        return if ours { Ok(()) } else { foreign("exists and is not a manifest ssfpack writes") };
    }
    if !meta.is_dir() {
        return foreign("exists and is not a folder of segments");
    }
    for rung in std::fs::read_dir(path).map_err(io(path))? {
        let rung = rung.map_err(io(path))?;
        let rung_name = rung.file_name().to_string_lossy().into_owned();
        let is_rung = rung_name.rsplit_once('_').is_some_and(|(_, b)| all_digits(b));
        if !rung.file_type().is_ok_and(|t| t.is_dir()) || !is_rung {
            return foreign("holds files other than rung folders (TRACK_BITRATE)");
        }
        for entry in std::fs::read_dir(rung.path()).map_err(io(path))? {
            let entry = entry.map_err(io(path))?;
            let n = entry.file_name().to_string_lossy().into_owned();
            let segment = [".m4s", ".vtt", ".ts"].iter().any(|ext| n.strip_suffix(ext).is_some_and(all_digits));
            let known = n == "init.mp4" || n == "index.m3u8" || segment;
            if !entry.file_type().is_ok_and(|t| t.is_file()) || !known {
                return foreign("holds files other than segments and playlists");
            }
        }
    }
    Ok(())
}
