//! When a job must stop: a signal arrived (SIGINT/SIGTERM, recorded by the CLI's handler) or one of
//! its threads failed (the shared cancel flag). Checked between frames and fragments by the encode
//! job's decode loop and by `pack --copy`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Why a job stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// By this signal number.
    Signal(i32),
    /// Another thread of the job failed; its error is the one reported.
    Cancelled,
}

/// The two flags a job watches.
#[derive(Debug, Clone, Copy)]
pub struct Stop<'a> {
    pub cancel: &'a AtomicBool,
    pub signal: &'a AtomicUsize,
}

impl Stop<'_> {
    /// `Err` once the job must stop; a signal also raises the cancel flag for the other threads.
    pub fn check(&self) -> Result<(), Stopped> {
        let sig = self.signal.load(Ordering::Relaxed);
        if sig != 0 {
            self.cancel.store(true, Ordering::SeqCst);
            return Err(Stopped::Signal(sig as i32));
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stopped::Cancelled);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_wins_and_cancels_the_other_threads() {
        let (cancel, signal) = (AtomicBool::new(false), AtomicUsize::new(0));
        let stop = Stop { cancel: &cancel, signal: &signal };
        assert_eq!(stop.check(), Ok(()));
        cancel.store(true, Ordering::SeqCst);
        assert_eq!(stop.check(), Err(Stopped::Cancelled));
        signal.store(15, Ordering::SeqCst);
        assert_eq!(stop.check(), Err(Stopped::Signal(15)));
        assert!(cancel.load(Ordering::SeqCst));
    }
}
