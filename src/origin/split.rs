//! The pre-split static layout: `Manifest` plus one file per fragment URL,
//! `QualityLevels(B)/Fragments(TRACK=T)`, so nginx, S3 or any CDN can host a presentation with no origin.
//!
//! Every fragment file holds exactly the bytes `ssfpack serve` answers for that URL: both locate and
//! read it through the presentation's [`FragmentSource`] ([`VodSource`]). `Manifest` is the client
//! manifest byte for byte.
//!
//! Writing is atomic per run and durable: everything is written and synced into a hidden temporary
//! folder inside the output folder, then each `QualityLevels(…)` folder is moved into place (a
//! previous one is moved aside and deleted), and `Manifest` is renamed last, then the output folder
//! is synced, so a host never lists a manifest whose fragments are missing, even after a crash.
//! Only what a split wrote is ever replaced: an existing `Manifest` must be a client manifest and
//! an existing `QualityLevels(…)` folder must hold only fragment files, or the split is refused.

use std::path::{Path, PathBuf};

use crate::format::manifest::ClientManifest;

use super::cache::FragmentCache;
use super::catalog::{Catalog, CatalogError};
use super::source::{FragmentSource, SmoothManifest, SourceError, VodCaches, VodSource};
use super::url::{self, FragmentPart, FragmentRequest, Route};

/// What a split wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitReport {
    /// The folder holding `Manifest`.
    pub out_dir: PathBuf,
    pub fragments: usize,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A fragment or the client manifest could not be found or read.
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Format(#[from] crate::format::FormatError),
    #[error("{}: {why}; ssfpack replaces only the pre-split files it writes: move it away or use --out", path.display())]
    Foreign { path: PathBuf, why: &'static str },
    /// A DASH/HLS file could not be built (`--layout dash,hls`).
    #[error("{0}")]
    Packaged(String),
    #[error("stream {stream}: URL template {template:?} does not give IIS fragment URLs (QualityLevels(B)/Fragments(NAME=T))")]
    Template { stream: String, template: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SplitError + '_ {
    move |source| SplitError::Io { path: path.to_path_buf(), source }
}

/// Writes the static layout of `presentation_dir/ism_name` (`NAME.ism` or `NAME`) into
/// `presentation_dir` itself, next to the `.ism`.
pub fn write_static_layout(presentation_dir: &Path, ism_name: &str) -> Result<SplitReport, SplitError> {
    write_static_layout_into(presentation_dir, ism_name, presentation_dir)
}

/// Writes the static layout of `presentation_dir/ism_name` into `out` (created if missing).
pub fn write_static_layout_into(
    presentation_dir: &Path,
    ism_name: &str,
    out: &Path,
) -> Result<SplitReport, SplitError> {
    let ism_file =
        if ism_name.to_ascii_lowercase().ends_with(".ism") { ism_name.to_string() } else { format!("{ism_name}.ism") };
    let catalog = Catalog::new(presentation_dir).map_err(io(presentation_dir))?;
    let pres = catalog.presentation_at(&presentation_dir.join(&ism_file))?;
    // The fragments are read once each, straight from the media files: no cache.
    let (fragments, caches) = (FragmentCache::new(0), VodCaches::default());
    let src = VodSource { catalog: &catalog, pres, fragments: &fragments, caches: &caches };
    let SmoothManifest::File { path: client_path, .. } = src.smooth_manifest()? else {
        return Err(SourceError::Broken("an on-demand manifest is a file".into()).into());
    };
    let client_bytes = std::fs::read(&client_path).map_err(io(&client_path))?;
    let client_text = String::from_utf8_lossy(&client_bytes);
    let client = ClientManifest::from_xml(&client_text, &client_path.display().to_string())?;

    std::fs::create_dir_all(out).map_err(io(out))?;
    let tmp = tempfile::Builder::new().prefix(".ssfpack-split-").tempdir_in(out).map_err(io(out))?;
    let mut report = SplitReport { out_dir: out.to_path_buf(), fragments: 0, bytes: 0 };
    let mut top_level: Vec<String> = Vec::new();
    for stream in &client.streams {
        for q in &stream.quality_levels {
            for chunk in &stream.chunks {
                let rel = stream.fragment_url(q.bitrate, chunk.t);
                let req = FragmentRequest {
                    bitrate: q.bitrate,
                    track: stream.name.clone(),
                    time: chunk.t,
                    part: FragmentPart::Whole,
                };
                let segments = checked_segments(&rel, &req).ok_or_else(|| SplitError::Template {
                    stream: stream.name.clone(),
                    template: stream.url.clone(),
                })?;
                let bytes = src.read(src.locate(&req)?)?.bytes;
                let dir = tmp.path().join(&segments[0]);
                if !top_level.contains(&segments[0]) {
                    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                    top_level.push(segments[0].clone());
                }
                let file = dir.join(&segments[1]);
                crate::durable::write_synced(&file, &bytes).map_err(io(&file))?;
                report.fragments += 1;
                report.bytes += bytes.len() as u64;
            }
        }
    }
    let manifest_tmp = tmp.path().join("Manifest");
    crate::durable::write_synced(&manifest_tmp, &client_bytes).map_err(io(&manifest_tmp))?;
    crate::durable::sync_tree(tmp.path()).map_err(io(tmp.path()))?;
    for name in &top_level {
        check_ours(&out.join(name))?;
    }
    check_ours(&out.join("Manifest"))?;

    // Move into place: rung folders first (old ones aside, then deleted), Manifest last.
    let trash = tempfile::Builder::new().prefix(".ssfpack-old-").tempdir_in(out).map_err(io(out))?;
    for name in &top_level {
        let target = out.join(name);
        if target.symlink_metadata().is_ok() {
            std::fs::rename(&target, trash.path().join(name)).map_err(io(&target))?;
        }
        std::fs::rename(tmp.path().join(name), &target).map_err(io(&target))?;
    }
    let manifest = out.join("Manifest");
    std::fs::rename(&manifest_tmp, &manifest).map_err(io(&manifest))?;
    crate::durable::sync_dir(out).map_err(io(out))?;
    Ok(report)
}

/// Refuses to replace `path` unless a split could have written it: a `Manifest` that is a client
/// manifest, or a `QualityLevels(…)` folder holding only `Fragments(…)` files.
fn check_ours(path: &Path) -> Result<(), SplitError> {
    let Ok(meta) = path.symlink_metadata() else { return Ok(()) };
    let foreign = |why| Err(SplitError::Foreign { path: path.to_path_buf(), why });
    if path.file_name().is_some_and(|n| n == "Manifest") {
        let head = std::fs::read(path).map(|b| String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned());
        return match head {
            Ok(h) if meta.is_file() && h.contains("<SmoothStreamingMedia") => Ok(()),
            _ => foreign("exists and is not a Smooth Streaming client manifest"),
        };
    }
    if !meta.is_dir() {
        return foreign("exists and is not a folder of fragments");
    }
    for entry in std::fs::read_dir(path).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().is_ok_and(|t| t.is_file()) || !name.starts_with("Fragments(") {
            return foreign("holds files other than fragments");
        }
    }
    Ok(())
}

/// The two path segments of a fragment URL, if it is exactly the IIS URL the origin would parse for
/// `req` (which also rules out anything that could leave the output folder).
fn checked_segments(rel: &str, req: &FragmentRequest) -> Option<Vec<String>> {
    if rel.contains('%') {
        return None;
    }
    match url::parse(&format!("/x.ism/{rel}")) {
        Ok(Route::Fragment(_, parsed)) if &parsed == req => {}
        _ => return None,
    }
    let segments: Vec<String> = rel.split('/').map(str::to_string).collect();
    (segments.len() == 2).then_some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked() {
        let req = FragmentRequest { bitrate: 5, track: "video".into(), time: 7, part: FragmentPart::Whole };
        assert_eq!(
            checked_segments("QualityLevels(5)/Fragments(video=7)", &req),
            Some(vec!["QualityLevels(5)".to_string(), "Fragments(video=7)".to_string()])
        );
        assert_eq!(checked_segments("../QualityLevels(5)/Fragments(video=7)", &req), None);
        assert_eq!(checked_segments("QualityLevels(5)/Fragments(audio=7)", &req), None);
        assert_eq!(checked_segments("QualityLevels(5)/Fragments(video=8)", &req), None);
        // A static server decodes URLs: a file name must be the decoded form.
        assert_eq!(checked_segments("QualityLevels%285%29/Fragments(video=7)", &req), None);
    }
}
