//! The presentation timeline: exact integer conversions into 100 ns ticks, the video clock that
//! rebases source timestamps to 0, and the fragment grid that marks which source frames start a
//! fragment (the same frames in every rung).

use crate::format::TIMESCALE;
use crate::media::Ratio;

const SCALE: i128 = TIMESCALE as i128;

/// `ts × tb` seconds in ticks, rounded to nearest (halves away from zero), like `av_rescale_q_rnd`
/// with `AV_ROUND_NEAR_INF`. Exact integer math, so 29.97 fps or 90 kHz timestamps never drift.
pub fn to_ticks(ts: i64, tb: Ratio) -> i64 {
    div_round(i128::from(ts) * i128::from(tb.num) * SCALE, i128::from(tb.den.max(1)))
}

/// The time of audio sample `n` at `rate` Hz, in ticks (rounded to nearest).
pub fn samples_to_ticks(n: i64, rate: u32) -> i64 {
    div_round(i128::from(n) * SCALE, i128::from(rate.max(1)))
}

/// The audio sample nearest to `ticks` at `rate` Hz.
pub fn ticks_to_samples(ticks: i64, rate: u32) -> i64 {
    div_round(i128::from(ticks) * i128::from(rate), SCALE)
}

/// Seconds (from the command line) in ticks.
pub fn seconds_to_ticks(seconds: f64) -> u64 {
    (seconds * TIMESCALE as f64).round().max(1.0) as u64
}

fn div_round(n: i128, d: i128) -> i64 {
    let q = if (n >= 0) == (d > 0) { (n + d / 2) / d } else { (n - d / 2) / d };
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Marks the fragment boundaries on the source's video frames: frame `i` starts a fragment when its
/// presentation time is the first at or after `k × D` (and the first frame always does). Decided
/// once, in the decode thread, and sent with the frame to every rung, which forces an IDR there.
/// Matches [`crate::format::fragmenter::CutRule::Grid`], which cuts before those IDRs.
#[derive(Debug, Clone)]
pub struct FragmentGrid {
    duration: u64,
    next: u64,
}

impl FragmentGrid {
    pub fn new(duration: u64) -> Self {
        FragmentGrid { duration: duration.max(1), next: 0 }
    }

    /// Whether the frame presented at `pts` (ticks, increasing) starts a fragment.
    pub fn is_boundary(&mut self, pts: i64) -> bool {
        let pts = pts.max(0) as u64;
        if pts >= self.next {
            self.next = (pts / self.duration + 1) * self.duration;
            true
        } else {
            false
        }
    }
}

/// Turns the video stream's timestamps into presentation ticks from 0.
///
/// The first decoded frame defines the origin (the presentation's time 0, also used for audio).
/// Frames whose timestamp is missing get the previous one plus the nominal frame duration; frames
/// whose time does not increase (duplicates, broken streams) are reported as `None`, to be
/// dropped, as `ffmpeg -fps_mode vfr` does.
#[derive(Debug, Clone)]
pub struct VideoClock {
    time_base: Ratio,
    nominal: i64,
    origin: Option<i64>,
    last: Option<i64>,
}

impl VideoClock {
    /// `nominal` is one frame's duration in ticks (from the frame rate).
    pub fn new(time_base: Ratio, nominal: i64) -> Self {
        VideoClock { time_base, nominal: nominal.max(1), origin: None, last: None }
    }

    /// The absolute time (ticks, source clock) of the first frame, once seen.
    pub fn origin(&self) -> Option<i64> {
        self.origin
    }

    /// Sets the origin before the first frame (audio-only sources have no video to define it).
    pub fn set_origin(&mut self, origin: i64) {
        self.origin.get_or_insert(origin);
    }

    /// The presentation time of a frame with source timestamp `ts`, or `None` to drop it.
    pub fn stamp(&mut self, ts: Option<i64>) -> Option<i64> {
        let abs = ts.map(|t| to_ticks(t, self.time_base));
        let origin = *self.origin.get_or_insert(abs.unwrap_or(0));
        let rel = match (abs, self.last) {
            (Some(a), _) => a - origin,
            (None, Some(l)) => l + self.nominal,
            (None, None) => 0,
        };
        match self.last {
            Some(l) if rel <= l => None,
            _ => {
                let rel = rel.max(0);
                self.last = Some(rel);
                Some(rel)
            }
        }
    }

    pub fn nominal(&self) -> i64 {
        self.nominal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_conversions() {
        let ntsc = Ratio::new(1001, 30000);
        assert_eq!(to_ticks(1, ntsc), 333_667);
        assert_eq!(to_ticks(3, ntsc), 1_001_000);
        assert_eq!(to_ticks(30000, ntsc), 10_010_000_000);
        assert_eq!(to_ticks(-3, ntsc), -1_001_000);
        assert_eq!(to_ticks(90_000, Ratio::new(1, 90_000)), 10_000_000);
        // 44.1 kHz AAC frames: 232,199.5 ticks each, rounded per frame from the sample count.
        assert_eq!(samples_to_ticks(1024, 44_100), 232_200);
        assert_eq!(samples_to_ticks(2048, 44_100), 464_399);
        assert_eq!(samples_to_ticks(441_000, 44_100), 100_000_000);
        assert_eq!(ticks_to_samples(-220_000, 48_000), -1056);
        assert_eq!(seconds_to_ticks(2.0), 20_000_000);
    }

    #[test]
    fn grid_marks_first_frame_at_or_after_each_multiple() {
        // 29.97 fps, 2 s fragments: frames 0, 60, 120 (60 × 333,667 = 20,020,000 ≥ 20,000,000).
        let mut g = FragmentGrid::new(20_000_000);
        let marks: Vec<i64> = (0..200).filter(|&i| g.is_boundary(to_ticks(i, Ratio::new(1001, 30000)))).collect();
        assert_eq!(marks, vec![0, 60, 120, 180]);
        // VFR: a gap skips a grid line without producing an empty fragment.
        let mut g = FragmentGrid::new(10);
        let marks: Vec<i64> = [0, 4, 9, 35, 38, 41].into_iter().filter(|&p| g.is_boundary(p)).collect();
        assert_eq!(marks, vec![0, 35, 41]);
    }

    #[test]
    fn clock_rebases_and_drops_non_increasing() {
        let mut c = VideoClock::new(Ratio::new(1, 1000), 400_000);
        assert_eq!(c.stamp(Some(1400)), Some(0));
        assert_eq!(c.stamp(Some(1440)), Some(400_000));
        assert_eq!(c.stamp(None), Some(800_000));
        assert_eq!(c.stamp(Some(1440)), None);
        assert_eq!(c.stamp(Some(1520)), Some(1_200_000));
        assert_eq!(c.origin(), Some(14_000_000));
    }
}
