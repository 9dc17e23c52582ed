//! The terminal's [`Report`]: an overall bar (source time done) and one bar per output file
//! (frames or AAC frames, rate, speed × realtime, ETA once it can be estimated) on stderr, and `ssfpack: warning: …` lines printed above
//! the bars. Bars are hidden with `--quiet` or when stderr is not a terminal; warnings are always
//! printed (a warning says something about the output the user must not miss).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use indicatif::{HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::format::TIMESCALE;
use crate::pipeline::report::{Meter, Note, Report};

pub struct Terminal {
    multi: MultiProgress,
    /// Whether notes are printed (not with `--quiet`).
    notes: bool,
}

impl Terminal {
    /// `bars`: whether progress bars may be drawn (also needs stderr to be a terminal).
    pub fn new(bars: bool) -> Self {
        let target = if bars && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Terminal { multi: MultiProgress::with_draw_target(target), notes: bars }
    }

    /// Whether `ssfpack: note: …` lines are printed (default: when bars may be drawn, i.e. not
    /// `--quiet`).
    pub fn with_notes(mut self, notes: bool) -> Self {
        self.notes = notes;
        self
    }

    /// Removes the bars once the job has ended.
    pub fn finish(&self) {
        let _ = self.multi.clear();
    }
}

impl Report for Terminal {
    fn warn(&self, message: &str) {
        self.multi.suspend(|| eprintln!("ssfpack: warning: {message}"));
    }

    fn note(&self, note: &Note) {
        if self.notes {
            self.multi.suspend(|| eprintln!("ssfpack: note: {}", note.message));
        }
    }

    fn meter(&self, label: Option<&str>, total: Option<u64>) -> Box<dyn Meter> {
        let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
        match label {
            None => {
                bar.set_style(style("{prefix:>18} [{bar:30}] {percent_known:>4} {msg} {eta_known}"));
                bar.set_prefix("overall");
            }
            Some(l) => {
                // The file's unit: a video rung counts pictures, an audio track AAC frames (1024
                // samples each).
                let unit = if l.ends_with(".isma") { "AAC frames" } else { "frames" };
                bar.set_style(style(&format!(
                    "{{prefix:>18}} [{{bar:30}}] {{pos:>6}}/{{len:6}} {unit} {{msg}} {{eta_known}}"
                )));
                bar.set_prefix(l.to_string());
            }
        }
        Box::new(TermMeter { bar, start: Instant::now(), per_item: label.is_some(), media: AtomicI64::new(0) })
    }
}

struct TermMeter {
    bar: ProgressBar,
    start: Instant,
    /// Counts frames/packets (shows a rate), rather than media time.
    per_item: bool,
    /// The furthest media time reached: the lanes of a rung report frames of different fragments
    /// at once, so the times arrive out of order.
    media: AtomicI64,
}

impl Meter for TermMeter {
    fn item(&self, media: i64) {
        self.bar.inc(1);
        let media = self.media.fetch_max(media, Ordering::Relaxed).max(media);
        if self.bar.position() % 8 == 0 {
            self.bar.set_message(self.speed(media));
        }
    }

    fn media(&self, media: i64) {
        self.bar.set_position((media.max(0) as u64) / (TIMESCALE / 1000));
        self.bar.set_message(self.speed(media));
    }

    fn done(&self) {
        if self.per_item {
            self.bar.finish();
        } else {
            self.bar.finish_and_clear();
        }
    }
}

impl TermMeter {
    /// `123/s 1.25x` (per-file bars) or `1.25x realtime` (overall); nothing before the first
    /// progress (a rate of 0 at the start says nothing).
    fn speed(&self, media: i64) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        if elapsed <= 0.0 || media <= 0 || self.bar.position() == 0 {
            return String::new();
        }
        let speed = media as f64 / TIMESCALE as f64 / elapsed;
        if self.bar.length().is_some_and(|l| l > 0) && self.per_item {
            format!("{:>5.0}/s {speed:>5.2}x", self.bar.position() as f64 / elapsed)
        } else {
            format!("{speed:.2}x realtime")
        }
    }
}

/// The percentage once something is done, else blank (not a `0%` that looks stuck).
fn percent_known(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    if state.pos() > 0 && state.len().is_some_and(|l| l > 0) {
        let _ = write!(w, "{:.0}%", state.fraction() * 100.0);
    }
}

/// `ETA 12s` once there is a rate to estimate from (some progress, and a second of it), else
/// blank: at the start indicatif's estimate is `0s`, which reads as "done".
fn eta_known(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let Some(len) = state.len().filter(|&l| l > 0) else { return };
    if state.pos() == 0 || state.pos() >= len || state.elapsed().as_secs_f64() < 1.0 {
        return;
    }
    let eta = state.eta();
    if eta.as_secs() >= 1 {
        let _ = write!(w, "ETA {}", HumanDuration(eta));
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("percent_known", percent_known)
        .with_key("eta_known", eta_known)
        .progress_chars("=> ")
}
