//! The output folder, written atomically: everything goes into a hidden temporary folder beside
//! `DIR`, which is renamed to `DIR` only when the whole presentation is complete. An interrupted or
//! failed run leaves no half presentation (the temporary folder is removed when dropped), and an
//! existing `DIR` is refused before any work unless `--force`, in which case it is replaced only at
//! the very end.

use std::path::{Path, PathBuf};

use super::error::PipelineError;

pub struct Staging {
    temp: tempfile::TempDir,
    target: PathBuf,
    name: String,
    force: bool,
}

impl Staging {
    /// Checks `target` and creates the temporary folder beside it.
    pub fn prepare(target: &Path, name: &str, force: bool) -> Result<Self, PipelineError> {
        if target.symlink_metadata().is_ok() && !force {
            return Err(PipelineError::Exists { path: target.to_path_buf() });
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Plain OS errors: tempfile's add the temporary path, which the user never sees.
        let plain = |e: std::io::Error| {
            let text = e.to_string();
            match text.split_once(" at path ") {
                Some((cause, _)) => std::io::Error::new(e.kind(), cause.to_string()),
                None => e,
            }
        };
        std::fs::create_dir_all(&parent).map_err(|e| PipelineError::io(target, plain(e)))?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}.ssfpack-"))
            .tempdir_in(&parent)
            .map_err(|e| PipelineError::io(target, plain(e)))?;
        Ok(Staging { temp, target: target.to_path_buf(), name: name.to_string(), force })
    }

    /// Where files are written until [`commit`](Self::commit).
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Moves the finished presentation to the target (replacing an existing one, `--force` having
    /// been checked in [`prepare`](Self::prepare)). The rename never replaces a folder that
    /// appeared since `prepare` (another run into the same `-o`): this run then fails with
    /// [`PipelineError::Exists`] and removes its temporary folder.
    pub fn commit(self) -> Result<PathBuf, PipelineError> {
        let Staging { temp, target, name, force } = self;
        set_mode(temp.path());
        let staged = temp.keep();
        let parent = staged.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let old = if force && target.symlink_metadata().is_ok() {
            let old = parent.join(format!(".{name}.ssfpack-old-{}", std::process::id()));
            if let Err(e) = std::fs::rename(&target, &old) {
                let _ = std::fs::remove_dir_all(&staged);
                return Err(PipelineError::io(&target, e));
            }
            Some(old)
        } else {
            None
        };
        if let Err(e) = rename_noreplace(&staged, &target) {
            if let Some(old) = &old {
                let _ = rename_noreplace(old, &target);
            }
            let _ = std::fs::remove_dir_all(&staged);
            if e.kind() == std::io::ErrorKind::AlreadyExists || e.raw_os_error() == Some(ENOTEMPTY) {
                return Err(PipelineError::Exists { path: target });
            }
            return Err(PipelineError::io(&target, e));
        }
        if let Some(old) = old {
            let removed = if old.is_dir() { std::fs::remove_dir_all(&old) } else { std::fs::remove_file(&old) };
            removed.map_err(|e| PipelineError::io(&old, e))?;
        }
        Ok(target)
    }
}

#[cfg(target_os = "linux")]
const ENOTEMPTY: i32 = 39;
#[cfg(not(target_os = "linux"))]
const ENOTEMPTY: i32 = 66;

/// `rename(from, to)` that fails with `AlreadyExists` instead of replacing an existing `to`:
/// renameat2(RENAME_NOREPLACE) on Linux (atomic); elsewhere, or on file systems without it, a
/// check then `rename`, which still never replaces a non-empty folder.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    if to.symlink_metadata().is_ok() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}

/// Temporary folders are created private (0700); a published presentation is world-readable.
fn set_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The file name of a video rung: `NAME_{kbps}k.ismv`.
pub fn video_file(name: &str, bitrate: u32) -> String {
    format!("{name}_{}k.ismv", bitrate / 1000)
}

/// The file name of audio track `index` of `count`: `NAME_audio.isma`, or
/// `NAME_audio_{lang}_{index}.isma` when the source has several.
pub fn audio_file(name: &str, language: &str, index: usize, count: usize) -> String {
    if count <= 1 {
        format!("{name}_audio.isma")
    } else {
        format!("{name}_audio_{language}_{index}.isma")
    }
}

/// The stream name of audio track `index`: `audio`, then `audio_1`, `audio_2`…
pub fn audio_stream_name(index: usize) -> String {
    if index == 0 {
        "audio".to_string()
    } else {
        format!("audio_{index}")
    }
}

/// Ends a track's file: writes its `mfra`, flushes the buffer and syncs the file to disk.
pub fn close_track(
    writer: crate::format::writer::IsmvWriter<std::io::BufWriter<std::fs::File>>,
    path: &Path,
    ctx: &str,
) -> Result<(), PipelineError> {
    let out = writer.finish().map_err(|e| PipelineError::format(ctx, e))?;
    out.into_inner()
        .map_err(|e| PipelineError::io(path, e.into_error()))?
        .sync_all()
        .map_err(|e| PipelineError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(video_file("sample", 1_500_000), "sample_1500k.ismv");
        assert_eq!(audio_file("s", "eng", 0, 1), "s_audio.isma");
        assert_eq!(audio_file("s", "fra", 1, 2), "s_audio_fra_1.isma");
        assert_eq!(audio_stream_name(0), "audio");
        assert_eq!(audio_stream_name(2), "audio_2");
    }

    #[test]
    fn refuses_existing_and_replaces_with_force() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("keep"), b"x").unwrap();
        assert!(matches!(Staging::prepare(&dir, "n", false), Err(PipelineError::Exists { .. })));
        assert!(dir.join("keep").exists());
        let s = Staging::prepare(&dir, "n", true).unwrap();
        std::fs::write(s.path().join("new"), b"y").unwrap();
        s.commit().unwrap();
        assert!(dir.join("new").exists() && !dir.join("keep").exists());
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary folders left");
    }

    #[test]
    fn commit_never_replaces_a_folder_that_appeared_meanwhile() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        let s = Staging::prepare(&dir, "n", false).unwrap();
        std::fs::write(s.path().join("new"), b"y").unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert!(matches!(s.commit(), Err(PipelineError::Exists { .. })));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the other folder is untouched");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "no temporary folder left");
    }

    #[test]
    fn dropped_staging_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let s = Staging::prepare(&root.path().join("out"), "n", false).unwrap();
        std::fs::write(s.path().join("half"), b"x").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }
}
