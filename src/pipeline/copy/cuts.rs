//! Where an existing ladder is cut: pure rules over presentation times, shared by every rung.
//!
//! A cut is a keyframe time that every rung has. After the cut at `T`, the next one is the first
//! keyframe at or after `T + D` that every rung can cut at: each rung's own first keyframe at or after
//! `T + D` is a candidate, and the latest of them must be a keyframe of every rung. Rungs with extra
//! keyframes (scene cuts) in between are fine; rungs whose GOPs drift apart are refused at the first
//! time where they disagree.

use super::source::SourceSample;

/// Why a ladder cannot be cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutProblem {
    /// Rung `rung` has no keyframe at `time` (ticks) where another rung needs a cut; `nearest` is
    /// its closest keyframe.
    Misaligned { rung: usize, time: i64, nearest: Option<i64> },
    /// A sample after the keyframe at `time` in decode order is presented before it.
    OpenGop { time: i64 },
    /// The first sample in decode order is not a keyframe.
    NoLeadingKeyframe,
}

/// Checks that the track starts with a keyframe and that every keyframe closes its GOP: no sample
/// after it in decode order is presented before it.
pub fn check_gops(samples: &[SourceSample]) -> Result<(), CutProblem> {
    if samples.first().is_some_and(|s| !s.sync) {
        return Err(CutProblem::NoLeadingKeyframe);
    }
    let mut min_after = i64::MAX;
    let mut open = None;
    for s in samples.iter().rev() {
        if s.sync && min_after < s.pts {
            open = Some(s.pts);
        }
        min_after = min_after.min(s.pts);
    }
    match open {
        Some(time) => Err(CutProblem::OpenGop { time }),
        None => Ok(()),
    }
}

/// The sorted presentation times of a track's keyframes.
pub fn keyframe_times(samples: &[SourceSample]) -> Vec<i64> {
    let mut k: Vec<i64> = samples.iter().filter(|s| s.sync).map(|s| s.pts).collect();
    k.sort_unstable();
    k.dedup();
    k
}

/// The cut times of the video ladder (each rung's sorted keyframe times), the first at the common
/// first keyframe, then every cut the first common keyframe at least `d` after the previous one.
pub fn video_cuts(rungs: &[Vec<i64>], d: i64) -> Result<Vec<i64>, CutProblem> {
    let d = d.max(1);
    let has = |r: &[i64], t: i64| r.binary_search(&t).is_ok();
    let nearest = |r: &[i64], t: i64| r.iter().copied().min_by_key(|k| (k - t).abs());
    let Some(first) = rungs.iter().filter_map(|r| r.first().copied()).max() else {
        return Ok(Vec::new());
    };
    if let Some(rung) = rungs.iter().position(|r| !has(r, first)) {
        return Err(CutProblem::Misaligned { rung, time: first, nearest: nearest(&rungs[rung], first) });
    }
    let mut cuts = vec![first];
    loop {
        let last = cuts[cuts.len() - 1];
        let target = last + d;
        let candidates: Vec<Option<i64>> =
            rungs.iter().map(|r| r.get(r.partition_point(|&k| k < target)).copied()).collect();
        let Some(latest) = candidates.iter().flatten().copied().max() else {
            break;
        };
        if let Some(rung) = rungs.iter().position(|r| !has(r, latest)) {
            return Err(CutProblem::Misaligned { rung, time: latest, nearest: nearest(&rungs[rung], latest) });
        }
        cuts.push(latest);
    }
    Ok(cuts)
}

/// Indices (decode order) where a video track's fragments start: the keyframe at each cut time.
/// `None` for a cut time that is not one of the track's keyframes.
pub fn video_boundaries(samples: &[SourceSample], cuts: &[i64]) -> Result<Vec<usize>, i64> {
    let mut out = Vec::with_capacity(cuts.len());
    let mut from = 0;
    for &t in cuts {
        let i = samples[from..].iter().position(|s| s.sync && s.pts == t).map(|i| i + from).ok_or(t)?;
        out.push(i);
        from = i;
    }
    Ok(out)
}

/// Indices where an audio track's fragments start: at each cut time, the frame boundary nearest to
/// it (the first frame whose middle is at or after the cut), never an empty fragment.
pub fn audio_boundaries(samples: &[SourceSample], cuts: &[i64]) -> Vec<usize> {
    let mut out: Vec<usize> = vec![0];
    for &t in cuts {
        let i = samples.partition_point(|s| s.pts + i64::from(s.duration / 2) < t);
        if i < samples.len() && i > out[out.len() - 1] {
            out.push(i);
        }
    }
    out
}

/// Audio-only presentations: cuts every `d` on the audio's own timeline.
pub fn audio_grid(samples: &[SourceSample], d: i64) -> Vec<i64> {
    let end = samples.last().map(|s| s.pts + i64::from(s.duration)).unwrap_or(0);
    let d = d.max(1);
    (1..).map(|k| k * d).take_while(|&t| t < end).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pts: i64, sync: bool) -> SourceSample {
        SourceSample { pts, duration: 10, sync, offset: 0, size: 1 }
    }

    #[test]
    fn open_gop_is_found() {
        // I0 P3 B1 B2 | I4 B3' ... a B-frame after I4 presented at 35 < 40.
        let v = [s(0, true), s(30, false), s(10, false), s(20, false), s(40, true), s(35, false)];
        assert_eq!(check_gops(&v), Err(CutProblem::OpenGop { time: 40 }));
        let closed = [s(0, true), s(30, false), s(10, false), s(20, false), s(40, true), s(50, false)];
        assert_eq!(check_gops(&closed), Ok(()));
        assert_eq!(check_gops(&[s(0, false)]), Err(CutProblem::NoLeadingKeyframe));
    }

    #[test]
    fn cuts_are_common_keyframes_at_least_d_apart() {
        let a = vec![0, 48, 96, 144, 192];
        let b = vec![0, 30, 48, 96, 144, 192]; // an extra scene cut at 30
        assert_eq!(video_cuts(&[a.clone(), b], 50), Ok(vec![0, 96, 192]));
        assert_eq!(video_cuts(&[a], 40), Ok(vec![0, 48, 96, 144, 192]));
    }

    #[test]
    fn drifting_gops_are_refused_at_the_first_disagreement() {
        let g48 = vec![0, 48, 96, 144, 192];
        let g50 = vec![0, 50, 100, 150, 200];
        assert_eq!(video_cuts(&[g48, g50], 50), Err(CutProblem::Misaligned { rung: 1, time: 96, nearest: Some(100) }));
        assert_eq!(
            video_cuts(&[vec![0, 50], vec![10, 50]], 50),
            Err(CutProblem::Misaligned { rung: 0, time: 10, nearest: Some(0) })
        );
    }

    #[test]
    fn boundaries() {
        let v = [s(0, true), s(20, false), s(10, false), s(30, true), s(40, false)];
        assert_eq!(video_boundaries(&v, &[0, 30]), Ok(vec![0, 3]));
        assert_eq!(video_boundaries(&v, &[0, 20]), Err(20));
        let a: Vec<_> = (0..10).map(|i| s(i * 10, true)).collect();
        assert_eq!(audio_boundaries(&a, &[0, 26, 44, 45]), vec![0, 3, 4]);
        assert_eq!(audio_grid(&a, 30), vec![30, 60, 90]);
    }
}
