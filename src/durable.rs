//! Durable file writes: what "published" means on disk. Every file of a presentation is written
//! and `fsync`ed before the folder holding it is renamed into place, and the folder that receives
//! the rename is `fsync`ed after it, so after a crash or power loss a published presentation is
//! whole (never a folder of empty manifests) and an unpublished one is not there at all.
//!
//! The order, which `tests/publish_durability.rs` checks by recording the system calls:
//! 1. each file: `write` + `fsync` ([`write_synced`], the media writers' `sync_all`);
//! 2. each folder of the staged tree: `fsync` ([`sync_tree`]), so its entries are on disk;
//! 3. `rename` of the staged folder to its published name;
//! 4. the parent folder: `fsync` ([`sync_dir`]), so the rename itself is on disk.

use std::io::Write;
use std::path::Path;

/// Creates (or truncates) `path`, writes `bytes` and syncs the file to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Replaces `path` by a file holding `bytes`, atomically: written and synced as a hidden sibling,
/// renamed over `path`, then the folder is synced. Readers see the old file or the new one, whole.
pub fn replace_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_of(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.ssfpack-tmp-{}", std::process::id()));
    if let Err(e) = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Syncs a folder's entries (names, renames) to disk. A no-op where folders cannot be opened.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Syncs every folder of the tree under `root` (deepest first) and `root` itself. Files are
/// synced by whoever wrote them; this makes their names durable.
pub fn sync_tree(root: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        }
    }
    sync_dir(root)
}

/// The folder holding `path` (`.` for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_is_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("Manifest");
        replace_synced(&f, b"one").unwrap();
        replace_synced(&f, b"two").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        sync_tree(dir.path()).unwrap();
        assert_eq!(parent_of(Path::new("x")), Path::new("."));
    }
}
