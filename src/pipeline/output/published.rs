//! What `--force` may replace: only a folder ssfpack itself published, and only when it holds
//! nothing else. Every published folder carries a small marker, [`MARKER`], listing the files the
//! run wrote; `--force` replaces a folder whose every entry is the marker or a file it lists, and
//! refuses any other folder, naming the first unexpected entries. A folder published before the
//! marker existed is recognised by its presentation instead: every entry must be a `.ism`, the
//! client manifest and media files it names, its player page, or the pre-split `Manifest` and
//! `QualityLevels(…)/Fragments(…)` files.

use std::collections::BTreeSet;
use std::path::Path;

use crate::format::manifest::ServerManifest;
use crate::pipeline::PipelineError;

/// The marker's file name, at the top of a published folder.
pub const MARKER: &str = ".ssfpack-published.json";

/// How many unexpected entries a refusal names.
const SHOWN: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Marker {
    /// Always `ssfpack`.
    pub tool: String,
    pub version: String,
    /// The presentation's base name.
    pub name: String,
    /// Every file the run wrote, relative to the folder, `/`-separated, sorted.
    pub files: Vec<String>,
}

/// Every file under `dir` (relative, `/`-separated, sorted), folders left out.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &rel, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// Writes the marker into the staged folder `dir`, listing what is there (synced).
pub fn write_marker(dir: &Path, name: &str) -> Result<(), PipelineError> {
    let files: Vec<String> = list_files(dir).map_err(|e| PipelineError::io(dir, e))?;
    let files = files.into_iter().filter(|f| f != MARKER && f != super::staging::STAGING_MARKER).collect();
    let marker = Marker { tool: "ssfpack".into(), version: env!("CARGO_PKG_VERSION").into(), name: name.into(), files };
    let json = serde_json::to_vec_pretty(&marker).map_err(|e| PipelineError::Invalid(e.to_string()))?;
    let path = dir.join(MARKER);
    crate::durable::write_synced(&path, &json).map_err(|e| PipelineError::io(&path, e))
}

/// `Ok` when `dir` may be replaced by `--force`; otherwise the refusal, naming what is in the way.
pub fn check_replaceable(dir: &Path) -> Result<(), PipelineError> {
    let shown = dir.display();
    let meta = dir.symlink_metadata().map_err(|e| PipelineError::io(dir, e))?;
    if meta.file_type().is_symlink() {
        return Err(PipelineError::Refused(format!(
            "{shown} is a symbolic link; --force replaces only a folder ssfpack published: give the folder itself"
        )));
    }
    if !meta.is_dir() {
        return Err(PipelineError::Refused(format!(
            "{shown} is a file, not a folder ssfpack published; --force will not replace it: choose another -o"
        )));
    }
    let present = list_files(dir).map_err(|e| PipelineError::io(dir, e))?;
    let expected = match read_marker(dir) {
        Some(m) => m.files.into_iter().collect(),
        None => legacy_presentation(dir, &present),
    };
    let unexpected: Vec<&String> = present.iter().filter(|f| *f != MARKER && !expected.contains(*f)).collect();
    if unexpected.is_empty() {
        return Ok(());
    }
    let mut named: Vec<String> = unexpected.iter().take(SHOWN).map(|f| f.to_string()).collect();
    if unexpected.len() > SHOWN {
        named.push(format!("and {} more", unexpected.len() - SHOWN));
    }
    Err(PipelineError::Refused(format!(
        "{shown} holds files ssfpack did not write ({}); --force replaces only a folder ssfpack published: \
         move them away or choose another -o",
        named.join(", ")
    )))
}

fn read_marker(dir: &Path) -> Option<Marker> {
    let bytes = std::fs::read(dir.join(MARKER)).ok()?;
    serde_json::from_slice::<Marker>(&bytes).ok().filter(|m| m.tool == "ssfpack")
}

/// The files a marker-less presentation folder may hold (see the module doc).
fn legacy_presentation(dir: &Path, present: &[String]) -> BTreeSet<String> {
    let mut ok = BTreeSet::new();
    for f in present.iter().filter(|f| !f.contains('/') && f.ends_with(".ism")) {
        let path = dir.join(f);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(server) = ServerManifest::from_xml(&text, &path.display().to_string()) else { continue };
        ok.insert(f.clone());
        ok.insert(server.client_manifest.clone());
        ok.extend(server.tracks.iter().map(|t| t.src.clone()));
        ok.insert(format!("{}.html", f.trim_end_matches(".ism")));
    }
    for f in present {
        let static_file = f == "Manifest"
            || f.split_once('/').is_some_and(|(d, n)| {
                d.starts_with("QualityLevels(") && (n.starts_with("Fragments(") || n.starts_with("FragmentInfo("))
            });
        let page = !f.contains('/') && f.ends_with(".html") && crate::origin::player::is_own_page(&dir.join(f));
        if static_file || page {
            ok.insert(f.clone());
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(dir: &Path) -> String {
        match check_replaceable(dir) {
            Err(PipelineError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn replaces_only_what_the_marker_lists() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        std::fs::create_dir_all(dir.join("QualityLevels(1)")).unwrap();
        std::fs::write(dir.join("a.ism"), b"x").unwrap();
        std::fs::write(dir.join("QualityLevels(1)/Fragments(video=0)"), b"x").unwrap();
        write_marker(&dir, "a").unwrap();
        assert!(check_replaceable(&dir).is_ok());
        std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
        assert!(refused(&dir).contains("notes.txt"));
    }

    #[test]
    fn refuses_files_links_and_foreign_folders() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("in.mp4");
        std::fs::write(&file, b"x").unwrap();
        assert!(refused(&file).contains("is a file"));
        let dir = root.path().join("vdir");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..5 {
            std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
        }
        let m = refused(&dir);
        assert!(m.contains("f0, f1, f2, and 2 more"), "{m}");
        std::fs::create_dir(root.path().join("empty")).unwrap();
        assert!(check_replaceable(&root.path().join("empty")).is_ok());
    }
}
