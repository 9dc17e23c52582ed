//! The output folder, written atomically and durably: everything goes into a hidden staging folder
//! beside `DIR` (`.NAME.ssfpack-XXXXXX`), which becomes `DIR` in one rename once the whole
//! presentation is written and synced ([`crate::durable`]). An interrupted or failed run leaves no
//! half presentation: the staging folder is removed when dropped, and one left by a killed run
//! (SIGKILL, power loss) is removed by the next run into the same `DIR`.
//!
//! `--force` replaces only a folder ssfpack published ([`super::published`]), checked before any
//! work and again just before the swap, which is atomic on Linux (renameat2 `RENAME_EXCHANGE`):
//! readers see the old presentation or the new one, never neither.

use std::path::{Path, PathBuf};

use super::{guard, published};
use crate::durable;
use crate::pipeline::PipelineError;

/// Inside a staging folder: who made it (`HOST PID`), so a later run can tell a dead run's folder,
/// and on a second line the file name of the target it is for.
pub const STAGING_MARKER: &str = ".ssfpack-staging";

pub struct Staging {
    temp: tempfile::TempDir,
    target: PathBuf,
    name: String,
    force: bool,
}

impl Staging {
    /// Checks `target` (never an input, its folder, `/`, `~` or the current folder; an existing one
    /// only with `force` and only if ssfpack published it), removes staging folders that dead runs
    /// left beside it, and creates this run's staging folder.
    pub fn prepare(target: &Path, name: &str, force: bool, inputs: &[&Path]) -> Result<Self, PipelineError> {
        guard::check_output(target, inputs)?;
        if target.symlink_metadata().is_ok() {
            if !force {
                return Err(PipelineError::Exists { path: target.to_path_buf() });
            }
            published::check_replaceable(target)?;
        }
        let parent = durable::parent_of(target).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| PipelineError::io(target, plain(e)))?;
        remove_stale(&parent, name);
        let temp = tempfile::Builder::new()
            .prefix(&staging_prefix(name))
            .tempdir_in(&parent)
            .map_err(|e| PipelineError::io(target, plain(e)))?;
        let marker = temp.path().join(STAGING_MARKER);
        let owner = format!("{}{}\n", owner(), target.file_name().unwrap_or_default().to_string_lossy());
        std::fs::write(&marker, owner).map_err(|e| PipelineError::io(&marker, e))?;
        Ok(Staging { temp, target: target.to_path_buf(), name: name.to_string(), force })
    }

    /// Where files are written until [`commit`](Self::commit).
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Publishes the finished presentation: writes the published marker, syncs the staged tree,
    /// renames it to the target (swapping with an existing one, `--force` having been checked) and
    /// syncs the parent folder; then removes the replaced folder. The rename never replaces a
    /// folder that appeared since `prepare` (another run into the same `-o`): this run then fails
    /// with [`PipelineError::Exists`] and removes its staging folder.
    pub fn commit(self) -> Result<PathBuf, PipelineError> {
        let Staging { temp, target, name, force } = self;
        let staged_marker = temp.path().join(STAGING_MARKER);
        std::fs::remove_file(&staged_marker).map_err(|e| PipelineError::io(&staged_marker, e))?;
        published::write_marker(temp.path(), &name)?;
        set_mode(temp.path());
        durable::sync_tree(temp.path()).map_err(|e| PipelineError::io(temp.path(), e))?;
        let parent = durable::parent_of(&target).to_path_buf();
        if force && target.symlink_metadata().is_ok() {
            // Checked again: the folder may have changed while the job ran. `temp` still owns the
            // staging folder, so a refusal here removes it.
            published::check_replaceable(&target)?;
            let staged = temp.keep();
            return swap(&staged, &target, &parent);
        }
        let staged = temp.keep();
        if let Err(e) = rename_noreplace(&staged, &target) {
            let _ = std::fs::remove_dir_all(&staged);
            if e.kind() == std::io::ErrorKind::AlreadyExists || e.raw_os_error() == Some(ENOTEMPTY) {
                return Err(PipelineError::Exists { path: target });
            }
            return Err(PipelineError::io(&target, e));
        }
        durable::sync_dir(&parent).map_err(|e| PipelineError::io(&parent, e))?;
        Ok(target)
    }
}

/// Puts `staged` at `target` and removes the folder it replaces (a published one). The old folder
/// is first marked as staging, so that if this process dies before removing it, the next run
/// into the same target removes it.
fn swap(staged: &Path, target: &Path, parent: &Path) -> Result<PathBuf, PipelineError> {
    let old_marker = target.join(STAGING_MARKER);
    let fail = |e: std::io::Error| {
        let _ = std::fs::remove_file(&old_marker);
        let _ = std::fs::remove_dir_all(staged);
        PipelineError::io(target, e)
    };
    std::fs::write(&old_marker, owner()).map_err(fail)?;
    let old = exchange(staged, target).map_err(fail)?;
    durable::sync_dir(parent).map_err(|e| PipelineError::io(parent, e))?;
    std::fs::remove_dir_all(&old).map_err(|e| PipelineError::io(&old, e))?;
    Ok(target.to_path_buf())
}

/// Swaps `staged` and `target`; returns where the old target now is. Atomic on Linux; elsewhere
/// (or where the file system lacks RENAME_EXCHANGE) the old folder is first moved aside.
fn exchange(staged: &Path, target: &Path) -> std::io::Result<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        match renameat_with(CWD, staged, CWD, target, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(staged.to_path_buf()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    let aside = PathBuf::from(format!("{}-old", staged.display()));
    std::fs::rename(target, &aside)?;
    if let Err(e) = std::fs::rename(staged, target) {
        let _ = std::fs::rename(&aside, target);
        return Err(e);
    }
    Ok(aside)
}

fn staging_prefix(name: &str) -> String {
    format!(".{name}.ssfpack-")
}

/// `HOST PID` of this process, as written into [`STAGING_MARKER`].
fn owner() -> String {
    format!("{} {}\n", host(), std::process::id())
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Removes the staging folders that dead runs (this host, process gone) left beside `target` for
/// presentation `name`, as [`Staging::prepare`] does; for callers that skip `target`.
pub fn remove_stale_beside(target: &Path, name: &str) {
    remove_stale(durable::parent_of(target), name);
}

/// Removes every staging folder for `target` (its marker names it) not owned by a live process of
/// this host: also those of runs on other machines sharing the folder. Only for a caller that holds
/// a lock every other writer of `target` takes (`ssfpack batch`'s per-output lock), so that no
/// live run can own one.
pub fn remove_abandoned(target: &Path, name: &str) {
    let parent = durable::parent_of(target);
    let want = target.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !file_name.starts_with(&staging_prefix(name)) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(entry.path().join(STAGING_MARKER)) else { continue };
        let mut lines = owner.lines();
        let mut words = lines.next().unwrap_or_default().split_whitespace();
        let (Some(h), Some(pid)) = (words.next(), words.next().and_then(|p| p.parse::<i32>().ok())) else {
            continue;
        };
        let ours = h == host() && alive(pid);
        if lines.next() == Some(want.as_str()) && !ours {
            tracing::debug!("removing {}, left by a run that ended (host {h})", entry.path().display());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes the staging folders of runs into `parent/NAME` that died (same host, process gone).
/// Only folders with ssfpack's staging name and marker are ever touched.
fn remove_stale(parent: &Path, name: &str) {
    let prefix = staging_prefix(name);
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !file_name.starts_with(&prefix) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(entry.path().join(STAGING_MARKER)) else { continue };
        let mut words = owner.split_whitespace();
        let (Some(h), Some(pid)) = (words.next(), words.next().and_then(|p| p.parse::<i32>().ok())) else {
            continue;
        };
        if h == host() && !alive(pid) {
            tracing::debug!("removing {}, left by a run that died", entry.path().display());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn alive(pid: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        match rustix::process::Pid::from_raw(pid) {
            Some(p) => rustix::process::test_kill_process(p).map_or_else(|e| e != rustix::io::Errno::SRCH, |()| true),
            None => true,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        true
    }
}

/// Plain OS errors: tempfile's add the temporary path, which the user never sees.
fn plain(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((cause, _)) => std::io::Error::new(e.kind(), cause.to_string()),
        None => e,
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

/// Staging folders are created private (0700); a published presentation is world-readable.
fn set_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(dir: &Path, file: &str, force: bool) -> Result<PathBuf, PipelineError> {
        let s = Staging::prepare(dir, "n", force, &[])?;
        std::fs::write(s.path().join(file), b"y").unwrap();
        s.commit()
    }

    #[test]
    fn replaces_a_published_folder_with_force_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        publish(&dir, "old", false).unwrap();
        assert!(matches!(publish(&dir, "new", false), Err(PipelineError::Exists { .. })));
        publish(&dir, "new", true).unwrap();
        assert!(dir.join("new").exists() && !dir.join("old").exists());
        assert!(dir.join(published::MARKER).exists() && !dir.join(STAGING_MARKER).exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "no staging folders left");
        std::fs::write(dir.join("keep"), b"mine").unwrap();
        assert!(matches!(publish(&dir, "newer", true), Err(PipelineError::Refused(_))));
        assert_eq!(std::fs::read(dir.join("keep")).unwrap(), b"mine");
    }

    #[test]
    fn commit_never_replaces_a_folder_that_appeared_meanwhile() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        let s = Staging::prepare(&dir, "n", false, &[]).unwrap();
        std::fs::write(s.path().join("new"), b"y").unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert!(matches!(s.commit(), Err(PipelineError::Exists { .. })));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the other folder is untouched");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "no staging folder left");
    }

    #[test]
    fn dropped_staging_leaves_nothing_and_dead_runs_are_cleaned() {
        let root = tempfile::tempdir().unwrap();
        let s = Staging::prepare(&root.path().join("out"), "n", false, &[]).unwrap();
        std::fs::write(s.path().join("half"), b"x").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        // A folder left by a killed run (a PID that cannot be alive), one of a live run, and a
        // user's folder that merely looks like one.
        let dead = root.path().join(".n.ssfpack-dead");
        let live = root.path().join(".n.ssfpack-live");
        let user = root.path().join(".n.ssfpack-mine");
        for d in [&dead, &live, &user] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(dead.join(STAGING_MARKER), format!("{} {}\n", host(), i32::MAX)).unwrap();
        std::fs::write(live.join(STAGING_MARKER), owner()).unwrap();
        let s = Staging::prepare(&root.path().join("out"), "n", false, &[]).unwrap();
        assert!(!dead.exists() && live.exists() && user.exists());
        drop(s);
    }

    #[test]
    fn abandoned_folders_of_other_hosts_are_removed_for_their_own_target_only() {
        let root = tempfile::tempdir().unwrap();
        let mk = |dir: &str, owner: String| {
            let d = root.path().join(dir);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join(STAGING_MARKER), owner).unwrap();
            d
        };
        let other_host = mk(".n.ssfpack-a", "node7 12\nout\n".into());
        let sibling = mk(".n.ssfpack-b", "node7 12\nout.mkv\n".into());
        let live = mk(".n.ssfpack-c", format!("{}out\n", owner()));
        let old_format = mk(".n.ssfpack-d", "node7 12\n".into());
        remove_abandoned(&root.path().join("out"), "n");
        assert!(!other_host.exists() && sibling.exists() && live.exists() && old_format.exists());
        let s = Staging::prepare(&root.path().join("out"), "n", false, &[]).unwrap();
        let marker = std::fs::read_to_string(s.path().join(STAGING_MARKER)).unwrap();
        assert!(marker.ends_with("\nout\n"), "{marker}");
    }
}
