//! Which files a batch looks at and where each one's output goes. A library folder is walked
//! recursively (sorted, so every run and every shard sees the same list; hidden files and folders,
//! symbolic links to folders and OUT_ROOT itself are left out); a list file gives one path per line
//! (relative to the list's folder; blank lines and `#` comments ignored). Whether a file is media is
//! for [`crate::media::probe`] to say, not its name.
//!
//! Output names: `SRC/show/e01.mp4` → `OUT_ROOT/show/e01/`. When two media files of one folder
//! share a stem (`e01.mp4` and `e01.mkv`) each keeps its extension: `show/e01.mp4/`, `show/e01.mkv/`
//! (an output already published under `show/e01/` from one of them stays there while it is up to
//! date). Names are kept as they are: spaces and non-ASCII letters work.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::BatchError;

/// A file the batch may package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    /// Relative to the library (list entries: as listed), `/`-separated.
    pub relative: PathBuf,
}

impl Candidate {
    /// The relative path as text (`/`-separated), for sharding, messages and records.
    pub fn key(&self) -> String {
        key(&self.relative)
    }
}

pub fn key(relative: &Path) -> String {
    let parts: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}

/// What [`list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    pub candidates: Vec<Candidate>,
    /// Hidden files (`.DS_Store`, `._x.mp4`), skipped without a look.
    pub hidden: usize,
    /// List entries that cannot be packaged (missing, a folder, `..` outside the list): failures.
    pub bad_entries: Vec<(String, String)>,
    /// From a list file: every entry was named on purpose, so non-media is a failure, not a skip.
    pub from_list: bool,
}

/// Lists `source` (a folder, or a list file), leaving out `out_root` if it lies inside it.
pub fn list(source: &Path, out_root: &Path) -> Result<Listing, BatchError> {
    let meta = std::fs::metadata(source).map_err(|e| BatchError::io(source, e))?;
    let exclude = crate::pipeline::output::guard::resolve(out_root).ok();
    let mut listing = Listing::default();
    if meta.is_dir() {
        walk(source, Path::new(""), exclude.as_deref(), &mut listing)?;
    } else {
        read_list(source, &mut listing)?;
    }
    Ok(listing)
}

fn walk(dir: &Path, rel: &Path, exclude: Option<&Path>, out: &mut Listing) -> Result<(), BatchError> {
    let mut entries: Vec<(OsString, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| BatchError::io(dir, e))?
        .filter_map(Result::ok)
        .map(|e| (e.file_name(), e.path()))
        .collect();
    entries.sort();
    for (name, path) in entries {
        if name.to_string_lossy().starts_with('.') {
            out.hidden += 1;
            continue;
        }
        let Ok(link) = path.symlink_metadata() else { continue };
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            let inside_out = exclude.is_some_and(|x| path.canonicalize().is_ok_and(|p| p == x));
            if !link.file_type().is_symlink() && !inside_out {
                walk(&path, &rel.join(&name), exclude, out)?;
            }
        } else if meta.is_file() {
            out.candidates.push(Candidate { path, relative: rel.join(&name) });
        }
    }
    Ok(())
}

fn read_list(list: &Path, out: &mut Listing) -> Result<(), BatchError> {
    out.from_list = true;
    let text = std::fs::read_to_string(list).map_err(|e| BatchError::io(list, e))?;
    let base = crate::durable::parent_of(list);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let given = Path::new(line);
        let path = if given.is_absolute() { given.to_path_buf() } else { base.join(given) };
        let relative = match relative_of(given, base) {
            Some(r) => r,
            None => {
                out.bad_entries.push((line.to_string(), "a path with `..` that leaves the list's folder".into()));
                continue;
            }
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => out.candidates.push(Candidate { path, relative }),
            Ok(_) => out.bad_entries.push((line.to_string(), "not a regular file".into())),
            Err(e) => out.bad_entries.push((line.to_string(), e.to_string())),
        }
    }
    Ok(())
}

/// The relative path of a list entry: as written, without `.`; an absolute one relative to the
/// list's folder when inside it, else without its leading `/` (`/srv/a.mp4` → `srv/a.mp4`).
fn relative_of(given: &Path, base: &Path) -> Option<PathBuf> {
    let mut path = given.to_path_buf();
    if given.is_absolute() {
        if let Ok(b) = base.canonicalize() {
            if let Ok(inside) = given.strip_prefix(&b) {
                path = inside.to_path_buf();
            }
        }
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// The output folder (relative to OUT_ROOT) of a media file, given whether another media file in
/// its folder has the same stem.
pub fn output_for(relative: &Path, shares_stem: bool) -> PathBuf {
    let parent = relative.parent().unwrap_or(Path::new(""));
    let file = relative.file_name().unwrap_or_default();
    let stem = relative.file_stem().unwrap_or(file);
    if shares_stem {
        parent.join(file)
    } else {
        parent.join(stem)
    }
}

/// The files in the same folder as `relative` with the same stem (`e01.mkv` for `e01.mp4`).
pub fn same_stem<'a>(relative: &Path, all: &'a BTreeMap<(PathBuf, OsString), Vec<usize>>) -> &'a [usize] {
    let parent = relative.parent().unwrap_or(Path::new("")).to_path_buf();
    let stem = relative.file_stem().unwrap_or_default().to_os_string();
    all.get(&(parent, stem)).map_or(&[], Vec::as_slice)
}

/// Candidates grouped by (folder, stem).
pub fn stems(candidates: &[Candidate]) -> BTreeMap<(PathBuf, OsString), Vec<usize>> {
    let mut map: BTreeMap<(PathBuf, OsString), Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let parent = c.relative.parent().unwrap_or(Path::new("")).to_path_buf();
        let stem = c.relative.file_stem().unwrap_or_default().to_os_string();
        map.entry((parent, stem)).or_default().push(i);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_without_hidden_files_or_the_output() {
        let root = tempfile::tempdir().unwrap();
        let lib = root.path();
        for f in ["b/two.mp4", "a dir/one.mkv", "a dir/.DS_Store", ".hidden/x.mp4", "out/done/x.ismv", "z.txt"] {
            std::fs::create_dir_all(lib.join(f).parent().unwrap()).unwrap();
            std::fs::write(lib.join(f), b"x").unwrap();
        }
        let l = list(lib, &lib.join("out")).unwrap();
        let keys: Vec<String> = l.candidates.iter().map(Candidate::key).collect();
        assert_eq!(keys, ["a dir/one.mkv", "b/two.mp4", "z.txt"]);
        assert_eq!(l.hidden, 2);
    }

    #[test]
    fn list_files_and_names() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("s")).unwrap();
        std::fs::write(root.path().join("s/é 1.mp4"), b"x").unwrap();
        let list_path = root.path().join("list.txt");
        std::fs::write(&list_path, "# films\ns/é 1.mp4\n\nmissing.mp4\n../../etc/passwd\n").unwrap();
        let l = list(&list_path, &root.path().join("out")).unwrap();
        assert_eq!(l.candidates.len(), 1);
        assert_eq!(l.candidates[0].key(), "s/é 1.mp4");
        assert_eq!(l.bad_entries.len(), 2);
        assert_eq!(output_for(Path::new("s/é 1.mp4"), false), Path::new("s/é 1"));
        assert_eq!(output_for(Path::new("s/e01.mkv"), true), Path::new("s/e01.mkv"));
        assert_eq!(relative_of(Path::new("./a/../b.mp4"), Path::new(".")), Some(PathBuf::from("b.mp4")));
        assert_eq!(relative_of(Path::new("/srv/m/a.mp4"), Path::new("/nonexistent")), Some("srv/m/a.mp4".into()));
    }
}
