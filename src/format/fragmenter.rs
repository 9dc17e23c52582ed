//! Where fragments are cut. One pure rule shared by every rung, so that all rungs of a stream cut at
//! the same times (the client manifest has one `c` list per `StreamIndex`).

use super::error::{FormatError, Result};
use super::Sample;

/// How fragment boundaries are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutRule {
    /// Video from ssfpack's encoder: cut before the first sync sample at or after each multiple of
    /// the duration (`k × D`). The encoder forces an IDR on the first frame at or after `k × D`, so the
    /// cuts are identical in every rung and do not drift with VFR or 29.97 sources.
    Grid { duration: u64 },
    /// Audio: cut before the frame whose middle passes `k × D`, the frame boundary nearest the grid.
    AudioGrid { duration: u64 },
    /// Existing encodes (`--copy`): cut before the first sync sample at least `D` after the
    /// current fragment's start.
    Span { duration: u64 },
}

/// A fragment ready to write: samples in decode order and its presentation span `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub start: u64,
    pub end: u64,
    pub samples: Vec<Sample>,
}

/// Groups a track's samples (decode order, presentation times from 0) into fragments.
#[derive(Debug)]
pub struct Fragmenter {
    rule: CutRule,
    next_cut: u64,
    pending: Vec<Sample>,
    index: u32,
    context: String,
}

impl Fragmenter {
    /// `context` names the track in errors (e.g. `out.ismv track 1 (video)`).
    pub fn new(rule: CutRule, context: impl Into<String>) -> Self {
        let d = match rule {
            CutRule::Grid { duration } | CutRule::AudioGrid { duration } | CutRule::Span { duration } => duration,
        };
        Fragmenter { rule, next_cut: d.max(1), pending: Vec::new(), index: 0, context: context.into() }
    }

    fn duration(&self) -> u64 {
        match self.rule {
            CutRule::Grid { duration } | CutRule::AudioGrid { duration } | CutRule::Span { duration } => {
                duration.max(1)
            }
        }
    }

    /// Adds a sample; returns the fragment it completes, if any.
    pub fn push(&mut self, sample: Sample) -> Result<Option<Fragment>> {
        if sample.pts < 0 {
            return Err(self.error(format!("sample at {} has a negative presentation time", sample.pts)));
        }
        if self.pending.is_empty() && self.index == 0 && !sample.sync {
            return Err(self.error("the first sample is not a sync sample (IDR)".into()));
        }
        let pts = sample.pts as u64;
        let cut = !self.pending.is_empty()
            && match self.rule {
                CutRule::Grid { .. } | CutRule::Span { .. } => sample.sync && pts >= self.next_cut,
                CutRule::AudioGrid { .. } => pts + u64::from(sample.duration) / 2 >= self.next_cut,
            };
        let done = if cut {
            let fragment = self.take(pts)?;
            let d = self.duration();
            match self.rule {
                CutRule::Span { .. } => self.next_cut = pts + d,
                CutRule::Grid { .. } => self.next_cut = (pts / d + 1) * d,
                CutRule::AudioGrid { .. } => {
                    while self.next_cut <= pts + u64::from(sample.duration) / 2 {
                        self.next_cut += d;
                    }
                }
            }
            Some(fragment)
        } else {
            None
        };
        self.pending.push(sample);
        Ok(done)
    }

    /// Ends the track: returns the last fragment, if any samples are left.
    pub fn finish(&mut self) -> Result<Option<Fragment>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let end = self.pending.iter().map(|s| s.pts as u64 + u64::from(s.duration)).max().unwrap_or(0);
        self.take(end).map(Some)
    }

    fn take(&mut self, end: u64) -> Result<Fragment> {
        let samples = std::mem::take(&mut self.pending);
        let start = samples.iter().map(|s| s.pts as u64).min().unwrap_or(end);
        if let Some(late) = samples.iter().find(|s| s.pts as u64 >= end) {
            return Err(self.error(format!(
                "fragment {} at {start}: sample at {} is presented after the next fragment starts at {end} \
                 (open GOP or out-of-order timestamps)",
                self.index, late.pts
            )));
        }
        if samples.first().map(|s| s.pts as u64) != Some(start) {
            return Err(self.error(format!(
                "fragment {} at {start}: the first sample in decode order is not the first presented \
                 (open GOP)",
                self.index
            )));
        }
        self.index += 1;
        Ok(Fragment { start, end, samples })
    }

    fn error(&self, message: String) -> FormatError {
        FormatError::invalid(self.context.clone(), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pts: i64, sync: bool) -> Sample {
        Sample { pts, duration: 10, sync, data: vec![0] }
    }

    fn run(rule: CutRule, samples: &[Sample]) -> Vec<(u64, u64, usize)> {
        let mut f = Fragmenter::new(rule, "test");
        let mut out = Vec::new();
        for x in samples {
            if let Some(frag) = f.push(x.clone()).unwrap() {
                out.push((frag.start, frag.end, frag.samples.len()));
            }
        }
        if let Some(frag) = f.finish().unwrap() {
            out.push((frag.start, frag.end, frag.samples.len()));
        }
        out
    }

    #[test]
    fn grid_cuts_on_idr_at_or_after_each_multiple() {
        // IDRs at 0, 33, 60 (scene cut before the grid point 50 is ignored... it is at 33 < 50), 100.
        let v: Vec<_> = (0..12).map(|i| s(i * 10, i == 0 || i == 3 || i == 6 || i == 10)).collect();
        assert_eq!(run(CutRule::Grid { duration: 50 }, &v), vec![(0, 60, 6), (60, 100, 4), (100, 120, 2)]);
    }

    #[test]
    fn b_frames_keep_decode_order() {
        // I0 P3 B1 B2 | I4 ...
        let v = vec![s(0, true), s(30, false), s(10, false), s(20, false), s(40, true), s(50, false)];
        assert_eq!(run(CutRule::Grid { duration: 40 }, &v), vec![(0, 40, 4), (40, 60, 2)]);
    }

    #[test]
    fn open_gop_is_refused() {
        let mut f = Fragmenter::new(CutRule::Grid { duration: 20 }, "x.ismv");
        f.push(s(0, true)).unwrap();
        f.push(s(30, false)).unwrap();
        let err = f.push(s(20, true)).unwrap_err().to_string();
        assert!(err.contains("x.ismv") && err.contains("open GOP"), "{err}");
    }

    #[test]
    fn audio_cuts_nearest_frame() {
        let a: Vec<_> = (0..10).map(|i| s(i * 10, true)).collect();
        // boundary 25: frame at 20 has middle 25 → cut before it.
        assert_eq!(
            run(CutRule::AudioGrid { duration: 25 }, &a),
            vec![(0, 20, 2), (20, 50, 3), (50, 70, 2), (70, 100, 3)]
        );
    }

    #[test]
    fn span_measures_from_the_last_cut() {
        let v: Vec<_> = (0..10).map(|i| s(i * 10, i % 2 == 0)).collect();
        assert_eq!(run(CutRule::Span { duration: 30 }, &v), vec![(0, 40, 4), (40, 80, 4), (80, 100, 2)]);
    }

    #[test]
    fn first_sample_must_be_sync() {
        let mut f = Fragmenter::new(CutRule::Grid { duration: 20 }, "t");
        assert!(f.push(s(0, false)).is_err());
    }
}
