//! One writer per output, across processes and machines sharing OUT_ROOT: before packaging an
//! output a batch takes an exclusive `flock` on `OUT_ROOT/.ssfpack-batch/locks/HASH.lock` (HASH:
//! FNV-1a of the output's relative path). A second batch that wants the same output (an
//! overlapping shard, a retried array task still running) does not wait: it skips the file as
//! `busy`. The lock dies with its process, SIGKILL included, so a killed run never blocks the next
//! one. Lock files are empty and stay (removing one would race with a process taking it). NFS
//! (Linux ≥ 2.6.12) maps `flock` to byte-range locks, which the server arbitrates.

use std::path::{Path, PathBuf};

use crate::format::fnv1a64;

/// The folder, inside OUT_ROOT, that holds the batch's own bookkeeping (locks, reports).
pub const BATCH_DIR: &str = ".ssfpack-batch";

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutputLock {
    _file: std::fs::File,
}

/// Tries to lock the output at `relative` under `root`: `Ok(None)` when another process holds it.
pub fn try_lock(root: &Path, relative: &str) -> std::io::Result<Option<OutputLock>> {
    let dir = root.join(BATCH_DIR).join("locks");
    std::fs::create_dir_all(&dir)?;
    let path: PathBuf = dir.join(format!("{:016x}.lock", fnv1a64(relative.as_bytes())));
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{flock, FlockOperation};
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(OutputLock { _file: file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let root = tempfile::tempdir().unwrap();
        let first = try_lock(root.path(), "show/e01").unwrap().expect("first lock");
        assert!(try_lock(root.path(), "show/e01").unwrap().is_none(), "held: busy");
        assert!(try_lock(root.path(), "show/e02").unwrap().is_some(), "another output is free");
        drop(first);
        assert!(try_lock(root.path(), "show/e01").unwrap().is_some());
    }
}
