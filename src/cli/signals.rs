//! One signal setup for every command that writes files: SIGINT and SIGTERM set a flag the job
//! polls (it then stops, removes its staging folder and exits 130/143), and SIGXFSZ is caught so
//! that a write past a file-size limit (`ulimit -f`) fails with EFBIG and takes the job's normal
//! error path instead of the kernel killing the process with its staging folder left behind.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use anyhow::Context;

/// Installs the handlers; the returned flag holds the number of the first signal received (0: none).
pub fn install() -> anyhow::Result<Arc<AtomicUsize>> {
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
            .context("installing the signal handlers")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGXFSZ, Arc::new(AtomicBool::new(false)))
        .context("installing the signal handlers")?;
    Ok(signal)
}

/// The signal's name for messages.
pub fn name(sig: i32) -> &'static str {
    match sig {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// The exit code for a job stopped by `sig`: 128 + the signal number (130, 143).
pub fn exit_code(sig: i32) -> std::process::ExitCode {
    std::process::ExitCode::from(128u8.saturating_add(sig as u8))
}
