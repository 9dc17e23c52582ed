//! How a job tells its caller what happens, without printing anything itself: warnings and
//! progress go to the [`Report`] passed to the job. The CLI draws bars and prints `warning:` lines
//! (`cli::progress`); a batch runner can prefix each line with its file; tests collect them. Two
//! jobs in one process each have their own.

use std::sync::{Arc, Mutex};

/// The receiver of a job's warnings and progress. Called from the job's threads.
pub trait Report: Sync {
    /// One warning line about the job (no `ssfpack:` prefix).
    fn warn(&self, message: &str);
    /// A progress meter: for the whole job (`label` `None`, `total` in milliseconds of media), or
    /// for one output file (`total` in frames or packets).
    fn meter(&self, label: Option<&str>, total: Option<u64>) -> Box<dyn Meter>;
}

/// One progress meter.
pub trait Meter: Send + Sync {
    /// One more frame or packet, reaching `media` (presentation time, ticks).
    fn item(&self, media: i64);
    /// The media time reached (ticks), for the whole job.
    fn media(&self, media: i64);
    /// This file or the job is complete.
    fn done(&self);
}

/// A meter the workers share (cheap to clone).
#[derive(Clone)]
pub struct Bar(Arc<dyn Meter>);

impl Bar {
    pub fn new(meter: Box<dyn Meter>) -> Self {
        Bar(Arc::from(meter))
    }

    /// Advances by one frame; `media` is the presentation time reached, in ticks.
    pub fn frame(&self, media: i64) {
        self.0.item(media);
    }

    /// Sets the overall position (source time decoded, ticks).
    pub fn media(&self, media: i64) {
        self.0.media(media);
    }

    pub fn done(&self) {
        self.0.done();
    }
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

struct NoMeter;

impl Meter for NoMeter {
    fn item(&self, _: i64) {}
    fn media(&self, _: i64) {}
    fn done(&self) {}
}

impl Report for Silent {
    fn warn(&self, _: &str) {}
    fn meter(&self, _: Option<&str>, _: Option<u64>) -> Box<dyn Meter> {
        Box::new(NoMeter)
    }
}

/// Forwards to another report and keeps a copy of every warning (for the job's summary).
pub struct Collecting<'a> {
    inner: &'a dyn Report,
    warnings: Mutex<Vec<String>>,
}

impl<'a> Collecting<'a> {
    pub fn new(inner: &'a dyn Report) -> Self {
        Collecting { inner, warnings: Mutex::new(Vec::new()) }
    }

    /// The warnings so far, in order.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl Report for Collecting<'_> {
    fn warn(&self, message: &str) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message.to_string());
        }
        self.inner.warn(message);
    }

    fn meter(&self, label: Option<&str>, total: Option<u64>) -> Box<dyn Meter> {
        self.inner.meter(label, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collecting_keeps_each_jobs_own_warnings() {
        let (a, b) = (Collecting::new(&Silent), Collecting::new(&Silent));
        std::thread::scope(|s| {
            s.spawn(|| (0..100).for_each(|i| a.warn(&format!("a{i}"))));
            s.spawn(|| (0..100).for_each(|i| b.warn(&format!("b{i}"))));
        });
        assert!(a.warnings().iter().all(|w| w.starts_with('a')) && a.warnings().len() == 100);
        assert!(b.warnings().iter().all(|w| w.starts_with('b')) && b.warnings().len() == 100);
    }
}
