//! Progress on stderr: an overall bar (source time decoded) and one bar per rung and audio track
//! (frames, fps, speed × realtime, ETA). Hidden with `--quiet` or when stderr is not a terminal.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::format::TIMESCALE;

pub struct Progress {
    multi: MultiProgress,
    overall: Bar,
}

/// One bar, with what it needs to show speed × realtime.
#[derive(Clone)]
pub struct Bar {
    bar: ProgressBar,
    start: Instant,
    /// Counts frames/packets (shows a rate), rather than media time.
    per_item: bool,
}

impl Progress {
    /// `duration` is the source duration in seconds, if known.
    pub fn new(quiet: bool, duration: Option<f64>) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let len = duration.map(|d| (d * 1000.0) as u64).unwrap_or(0);
        let bar = multi.add(ProgressBar::new(len));
        bar.set_style(style("{prefix:>18} [{bar:30}] {percent:>3}% {msg} ETA {eta}"));
        bar.set_prefix("overall");
        Progress { multi, overall: Bar { bar, start: Instant::now(), per_item: false } }
    }

    /// Adds a bar for a rung or audio track; `total` in frames (video) or packets (audio).
    pub fn track(&self, label: &str, total: Option<u64>) -> Bar {
        let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
        bar.set_style(style("{prefix:>18} [{bar:30}] {pos:>6}/{len:6} {msg} ETA {eta}"));
        bar.set_prefix(label.to_string());
        Bar { bar, start: Instant::now(), per_item: true }
    }

    pub fn overall(&self) -> &Bar {
        &self.overall
    }

    pub fn finish(&self) {
        self.overall.bar.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl Bar {
    /// Advances by one frame; `media` is the presentation time reached, in ticks.
    pub fn frame(&self, media: i64) {
        self.bar.inc(1);
        if self.bar.position() % 8 == 0 {
            self.bar.set_message(self.speed(media));
        }
    }

    /// Sets the overall position (source time decoded, ticks).
    pub fn media(&self, media: i64) {
        self.bar.set_position((media.max(0) as u64) / (TIMESCALE / 1000));
        self.bar.set_message(self.speed(media));
    }

    pub fn done(&self) {
        self.bar.finish();
    }

    /// `123 fps 1.25x` (per-track bars) or `1.25x realtime` (overall).
    fn speed(&self, media: i64) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        if elapsed <= 0.0 {
            return String::new();
        }
        let speed = media as f64 / TIMESCALE as f64 / elapsed;
        if self.bar.length().is_some_and(|l| l > 0) && self.bar.position() > 0 && self.per_item {
            format!("{:>5.0}/s {speed:>5.2}x", self.bar.position() as f64 / elapsed)
        } else {
            format!("{speed:.2}x realtime")
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}
