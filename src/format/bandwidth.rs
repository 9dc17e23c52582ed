//! Measured HLS bit rates (RFC 8216 4.1, used by `BANDWIDTH` and `AVERAGE-BANDWIDTH`, 4.3.4.2):
//! the segment bit rate is a segment's size over its `EXTINF` duration; the *peak* segment bit
//! rate of a media playlist is the largest bit rate of any contiguous set of segments whose total
//! duration is between 0.5 and 1.5 times the target duration (sum of sizes over sum of
//! durations); the *average* is every segment's bits over the playlist's duration.
//!
//! Pure arithmetic over (duration, bytes) pairs: where the sizes come from (the fragment index,
//! the TS overhead) is the origin's business (`origin::hls_rates`).

/// A media playlist's measured bit rates, bits per second (rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRates {
    pub peak: u64,
    pub average: u64,
}

impl SegmentRates {
    /// The rates of a variant made of several renditions played together (video + its audio).
    pub fn plus(self, other: SegmentRates) -> SegmentRates {
        SegmentRates { peak: self.peak + other.peak, average: self.average + other.average }
    }
}

/// The rates of `segments` ((duration in `timescale` units, bytes), in playlist order) of a
/// playlist whose `EXT-X-TARGETDURATION` is `target_secs`. When no contiguous set falls in the
/// 0.5–1.5 × target window (a playlist of one very short segment) the peak is the largest single
/// segment's rate. `None` for an empty playlist or one of zero duration.
pub fn measure(segments: &[(u64, u64)], timescale: u64, target_secs: u64) -> Option<SegmentRates> {
    let rate = |bytes: u128, ticks: u128| (bytes * 8 * u128::from(timescale)).div_ceil(ticks.max(1)) as u64;
    let total_ticks: u128 = segments.iter().map(|&(d, _)| u128::from(d)).sum();
    if total_ticks == 0 {
        return None;
    }
    let total_bytes: u128 = segments.iter().map(|&(_, b)| u128::from(b)).sum();
    // The window in ticks, doubled to stay in integers: 0.5 T ≤ d ≤ 1.5 T ⇔ T ≤ 2d ≤ 3T.
    let target = u128::from(target_secs) * u128::from(timescale);
    let mut peak = None;
    for i in 0..segments.len() {
        let (mut ticks, mut bytes) = (0u128, 0u128);
        for &(d, b) in &segments[i..] {
            ticks += u128::from(d);
            bytes += u128::from(b);
            if 2 * ticks > 3 * target {
                break;
            }
            if 2 * ticks >= target {
                peak = peak.max(Some(rate(bytes, ticks)));
            }
        }
    }
    let peak = peak.or_else(|| segments.iter().map(|&(d, b)| rate(b.into(), d.into())).max())?;
    Some(SegmentRates { peak, average: rate(total_bytes, total_ticks) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_is_over_the_window_average_over_everything() {
        // 2 s segments of 500, 1000, 250 kB and a 0.4 s tail of 200 kB; target 2 s.
        let s = [(20, 500_000), (20, 1_000_000), (20, 250_000), (4, 200_000)];
        let r = measure(&s, 10, 2).unwrap();
        // The tail alone is outside the window (0.4 s < 1 s); with the segment before it: 450 kB / 2.4 s.
        assert_eq!(r.peak, 4_000_000, "1000 kB over 2 s");
        assert_eq!(r.average, (1_950_000u64 * 8 * 10).div_ceil(64));
        // A short tail that is the largest rate on its own does not count alone.
        let s = [(20, 100_000), (4, 100_000)];
        assert_eq!(measure(&s, 10, 2).unwrap().peak, (200_000u64 * 8 * 10).div_ceil(24));
        // One short segment: its own rate.
        assert_eq!(measure(&[(4, 100)], 10, 2).unwrap().peak, 2000);
        assert_eq!(measure(&[], 10, 2), None);
        assert_eq!(measure(&[(0, 5)], 10, 2), None);
        let a = SegmentRates { peak: 1, average: 2 };
        assert_eq!(a.plus(a), SegmentRates { peak: 2, average: 4 });
    }
}
