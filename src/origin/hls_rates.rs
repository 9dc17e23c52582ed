//! Measured `BANDWIDTH`/`AVERAGE-BANDWIDTH` of the HLS master playlists ([`crate::format::bandwidth`]):
//! every segment's size from the source's fragment index, never by reading every fragment.
//!
//! - `m3u8-cmaf`: a segment is the stored fragment plus what [`crate::format::cmaf::segment`]
//!   adds (a `tfdt`, the `tfhd` rewrite; the same boxes in every fragment of a track, so one
//!   number per track): the growth of the track's first segment, measured by building it.
//! - `m3u8-aapl`: the MPEG-TS segment of a fragment is larger than its CMAF segment (188-byte
//!   packets with 4-byte headers, PES headers, ADTS headers, PAT/PMT, SPS/PPS before each IDR).
//!   Per track, up to three of its segments (the first, the middle one and the one of the
//!   highest CMAF rate) are remuxed through [`crate::media::ts`] and a line `ts = a·cmaf + b` is
//!   fitted to them (least squares; `a` the per-byte packetization, `b` what each segment costs
//!   whatever its size: PAT/PMT, per-frame PES/ADTS/AUD headers at a fixed fragment duration,
//!   the last packet's stuffing). The three remuxed segments count with their real TS sizes,
//!   every other segment with that line at its CMAF size (an estimate).
//!
//! Both numbers are kept per media file stamp by an on-demand source; a live point measures them
//! over the fragments its window lists each time its master playlist is asked for.

use std::collections::HashMap;

use super::packaged::ts_bytes;
use super::source::{rescale, FragmentSource, SourceError};
use crate::format::bandwidth::{measure, SegmentRates};
use crate::format::hls::{target_duration, HlsFlavor};
use crate::format::manifest::{ClientManifest, StreamIndex};

/// The measured rates of every audio and video rung of `m` as `flavor` serves them, by (stream
/// name, bitrate).
pub fn rates(
    source: &dyn FragmentSource,
    m: &ClientManifest,
    flavor: HlsFlavor,
) -> Result<HashMap<(String, u32), SegmentRates>, SourceError> {
    let mut out = HashMap::new();
    for s in m.streams.iter().filter(|s| s.kind == "video" || s.kind == "audio") {
        for q in &s.quality_levels {
            if let Some(r) = rung(source, m, s, q.bitrate, flavor)? {
                out.insert((s.name.clone(), q.bitrate), r);
            }
        }
    }
    Ok(out)
}

fn rung(
    source: &dyn FragmentSource,
    m: &ClientManifest,
    s: &StreamIndex,
    bitrate: u32,
    flavor: HlsFlavor,
) -> Result<Option<SegmentRates>, SourceError> {
    let Some(first) = s.chunks.first() else { return Ok(None) };
    let name = s.name.as_str();
    let sizes = source.fragment_sizes(name, bitrate)?;
    let (from, to) = (s.effective_timescale(m), u64::from(source.track(name, bitrate)?.timescale));
    let mut stored = Vec::with_capacity(s.chunks.len());
    for c in &s.chunks {
        let size = sizes.get(&rescale(c.t, from, to)).ok_or_else(|| {
            SourceError::Broken(format!(
                "{name} at {bitrate}: the manifest lists fragment {} that the media does not have",
                c.t
            ))
        })?;
        stored.push(*size);
    }
    let growth = source.remember(name, bitrate, "cmaf-growth", &mut || {
        Ok(vec![source.segment(name, bitrate, first.t)?.bytes.len() as f64 - stored[0] as f64])
    })?[0];
    let cmaf: Vec<f64> = stored.iter().map(|&b| (b as f64 + growth).max(0.0)).collect();
    let bytes: Vec<f64> = match flavor {
        HlsFlavor::Cmaf => cmaf,
        HlsFlavor::Aapl => {
            let line = source.remember(name, bitrate, "ts-line", &mut || ts_line(source, s, bitrate, &cmaf))?;
            let (a, b) = (line.first().copied().unwrap_or(1.0), line.get(1).copied().unwrap_or(0.0));
            // The remuxed segments' own sizes, (time, bytes) pairs after the line.
            let exact: HashMap<u64, f64> =
                line.get(2..).unwrap_or_default().chunks(2).map(|p| (p[0] as u64, p[1])).collect();
            s.chunks.iter().zip(cmaf).map(|(c, x)| exact.get(&c.t).copied().unwrap_or(a * x + b)).collect()
        }
    };
    let segments: Vec<(u64, u64)> = s.chunks.iter().zip(bytes).map(|(c, b)| (c.d, b.round() as u64)).collect();
    Ok(measure(&segments, from, target_duration(m, s)))
}

/// `[a, b, t1, ts1, t2, ts2, …]`: `ts = a·cmaf + b` fitted to up to three segments of the track
/// (the first, the middle one and the one with the highest CMAF bit rate; one size: `b` = 0),
/// then each of those segments' time and TS size (`t` exact in an f64 below 2^53).
fn ts_line(source: &dyn FragmentSource, s: &StreamIndex, bitrate: u32, cmaf: &[f64]) -> Result<Vec<f64>, SourceError> {
    let rate = |i: usize| cmaf[i] / s.chunks[i].d.max(1) as f64;
    let peak = (0..s.chunks.len()).max_by(|&a, &b| rate(a).total_cmp(&rate(b))).unwrap_or(0);
    let mut picks = vec![0, s.chunks.len() / 2, peak];
    picks.sort_unstable();
    picks.dedup();
    let (mut points, mut exact) = (Vec::new(), Vec::new());
    for i in picks {
        let (bytes, seg) = ts_bytes(source, &s.name, bitrate, s.chunks[i].t)?;
        points.push((seg.bytes.len() as f64, bytes.len() as f64));
        exact.extend([s.chunks[i].t as f64, bytes.len() as f64]);
    }
    let mut out = fit(&points).to_vec();
    out.extend(exact);
    Ok(out)
}

/// Least squares `y = a·x + b` through `points`; through the origin when the `x` are all equal.
fn fit(points: &[(f64, f64)]) -> [f64; 2] {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n.max(1.0), sy / n.max(1.0));
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    if sxx > 0.0 && slope > 0.0 {
        [slope, my - slope * mx]
    } else if sx > 0.0 {
        [sy / sx, 0.0]
    } else {
        [1.0, 0.0]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_fits() {
        let [a, b] = super::fit(&[(100.0, 350.0), (200.0, 550.0), (300.0, 750.0)]);
        assert!((a - 2.0).abs() < 1e-9 && (b - 150.0).abs() < 1e-9, "{a} {b}");
        assert_eq!(super::fit(&[(100.0, 110.0)]), [1.1, 0.0]);
        assert_eq!(super::fit(&[(100.0, 110.0), (100.0, 130.0)]), [1.2, 0.0]);
        assert_eq!(super::fit(&[]), [1.0, 0.0]);
    }
}
