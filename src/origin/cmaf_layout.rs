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

/// The folder of the shared segments.
pub const SEGMENTS_DIR: &str = "cmaf";

/// Which manifests to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub dash: bool,
    pub hls: bool,
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
    for stream in m.streams.iter().filter(|s| s.kind == "video" || s.kind == "audio" || s.kind == "text") {
        // A text track is `stpp` segments for DASH and WebVTT segments for HLS, in one folder.
        let text = stream.kind == "text";
        for q in &stream.quality_levels {
            let b = q.bitrate.to_string();
            let (bitrate, track) = (q.bitrate, stream.name.clone());
            if protocols.dash || !text {
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
            if !protocols.hls {
                continue;
            }
            let playlist_file = Naming::fill(&naming.playlist, &stream.name, &b, "");
            let folder = Path::new(&playlist_file).parent().unwrap_or(Path::new(SEGMENTS_DIR)).to_path_buf();
            if text {
                for c in &stream.chunks {
                    let req = Packaged::Segment { bitrate, track: track.clone(), time: c.t };
                    let vtt = answer_named(&src, cmaf, &req, "", &naming).map_err(source_error)?;
                    let file = folder.join(Naming::fill(&naming.hls_text_segment, &stream.name, &b, &c.t.to_string()));
                    write(&file.to_string_lossy(), &vtt.bytes)?;
                    report.fragments += 1;
                    report.bytes += vtt.bytes.len() as u64;
                }
            }
            let playlist =
                answer_named(&src, cmaf, &Packaged::Playlist { bitrate, track }, "", &naming).map_err(source_error)?;
            write(&playlist_file, &playlist.bytes)?;
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
    crate::durable::sync_tree(tmp.path()).map_err(io(tmp.path()))?;
    check_ours(&out.join(SEGMENTS_DIR))?;
    for t in &tops {
        check_ours(&out.join(t))?;
    }
    let trash = tempfile::Builder::new().prefix(".ssfpack-old-").tempdir_in(out).map_err(io(out))?;
    let target = out.join(SEGMENTS_DIR);
    if target.symlink_metadata().is_ok() {
        std::fs::rename(&target, trash.path().join(SEGMENTS_DIR)).map_err(io(&target))?;
    }
    std::fs::rename(tmp.path().join(SEGMENTS_DIR), &target).map_err(io(&target))?;
    for t in &tops {
        let to = out.join(t);
        std::fs::rename(tmp.path().join(t), &to).map_err(io(&to))?;
    }
    crate::durable::sync_dir(out).map_err(io(out))?;
    Ok(report)
}

/// Refuses to replace `path` unless this writer could have written it: an MPD, an HLS playlist,
/// or a `cmaf/` folder of rung folders holding only `init.mp4`, `*.m4s`, `*.vtt` and `index.m3u8`.
fn check_ours(path: &Path) -> Result<(), SplitError> {
    let Ok(meta) = path.symlink_metadata() else { return Ok(()) };
    let foreign = |why| Err(SplitError::Foreign { path: path.to_path_buf(), why });
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if file_name != SEGMENTS_DIR {
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
        if !rung.file_type().is_ok_and(|t| t.is_dir()) {
            return foreign("holds files other than rung folders");
        }
        for entry in std::fs::read_dir(rung.path()).map_err(io(path))? {
            let entry = entry.map_err(io(path))?;
            let n = entry.file_name().to_string_lossy().into_owned();
            let known = n == "init.mp4" || n == "index.m3u8" || n.ends_with(".m4s") || n.ends_with(".vtt");
            if !entry.file_type().is_ok_and(|t| t.is_file()) || !known {
                return foreign("holds files other than segments and playlists");
            }
        }
    }
    Ok(())
}
