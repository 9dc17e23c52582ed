//! How a job tells its caller what happens, without printing anything itself: warnings and
//! progress go to the [`Report`] passed to the job. The CLI draws bars and prints `warning:` lines
//! (`cli::progress`); a batch runner can prefix each line with its file; tests collect them. Two
//! jobs in one process each have their own.
//!
//! A [`Note`] is what a job decided for the user that changes or leaves out something the source
//! has (a stream not packaged, a downmix, a deinterlace, a tone map…): not a problem, but never
//! silent. The CLI prints each as one `ssfpack: note: …` line on stderr (not with `--quiet`) and
//! the `--json` summary lists them in `notes`.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// What kind of decision a [`Note`] reports (`kind` in the `--json` summary, kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// A `--ladder WxH` of another aspect than the source's, fitted inside the box.
    Ladder,
    /// A stream of the source that is not packaged (data, attachment, another video stream, an
    /// audio track not chosen by `--audio-tracks`, a bitmap subtitle).
    DroppedStream,
    /// Audio mixed down to fewer channels.
    Downmix,
    /// Video of more than 8 bits per sample coded as 8-bit.
    BitDepth,
    /// HDR (PQ/HLG) video tone-mapped, or converted, to SDR BT.709.
    Hdr,
    /// Interlaced video deinterlaced.
    Deinterlace,
    /// The output's frame rate differs from the source's.
    FrameRate,
    /// A subtitle or caption track converted with a loss (styling, positions).
    Text,
}

/// One decision of a job the user must be able to see: a kind and a sentence (no `note:` prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    pub message: String,
}

impl Note {
    pub fn new(kind: NoteKind, message: impl Into<String>) -> Self {
        Note { kind, message: message.into() }
    }
}

/// The receiver of a job's warnings and progress. Called from the job's threads.
pub trait Report: Sync {
    /// One warning line about the job (no `ssfpack:` prefix).
    fn warn(&self, message: &str);
    /// One note (see [`Note`]); by default dropped (a report that shows nothing).
    fn note(&self, note: &Note) {
        let _ = note;
    }
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

/// Forwards to another report and keeps a copy of every warning and note (for the job's summary).
pub struct Collecting<'a> {
    inner: &'a dyn Report,
    warnings: Mutex<Vec<String>>,
    notes: Mutex<Vec<Note>>,
}

impl<'a> Collecting<'a> {
    pub fn new(inner: &'a dyn Report) -> Self {
        Collecting { inner, warnings: Mutex::new(Vec::new()), notes: Mutex::new(Vec::new()) }
    }

    /// The notes so far, in order.
    pub fn notes(&self) -> Vec<Note> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
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

    fn note(&self, note: &Note) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(note.clone());
        }
        self.inner.note(note);
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

    #[test]
    fn notes_are_collected_in_order_and_serialised_with_their_kind() {
        let c = Collecting::new(&Silent);
        c.note(&Note::new(NoteKind::Downmix, "audio stream #1: 5.1 mixed down to stereo"));
        c.note(&Note::new(NoteKind::DroppedStream, "data stream #3: not packaged"));
        assert_eq!(c.notes().len(), 2);
        assert_eq!(
            serde_json::to_value(&c.notes()[0]).unwrap(),
            serde_json::json!({"kind": "downmix", "message": "audio stream #1: 5.1 mixed down to stereo"})
        );
        assert!(c.warnings().is_empty());
    }
}
