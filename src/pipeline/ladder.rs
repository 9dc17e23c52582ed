//! The bitrate ladder: which video rungs to encode.
//!
//! - The default is derived from the source's display size (sample aspect ratio and rotation
//!   applied): the top rung is the source itself (capped at 1080p), then the standard sizes below it
//!   (720p, 540p, 360p, 180p, as in Azure's "H264 Multiple Bitrate 1080p" preset); so HD sources get
//!   at least 3 rungs and small ones 1–3, never upscaled. The "p" is the short side, so portrait
//!   video gets the same treatment.
//! - Bitrates follow one curve over the pixel count through Azure's points (400k at 320×180, 1000k
//!   at 640×360, 2250k at 960×540, 3400k at 1280×720, 6000k at 1920×1080).
//! - `--ladder` takes named presets or explicit `WxH@BITRATE` lists; `-1` for one side keeps the
//!   display aspect ratio, and a `WxH` of another aspect than the source's is a box the picture is
//!   fitted into (display aspect kept, even sizes, like ffmpeg's
//!   `force_original_aspect_ratio=decrease`): a rung is never stretched.
//! - Bitrates need a unit, `k` (kbit/s) or `M` (Mbit/s): `2500` alone is refused rather than
//!   guessed (ffmpeg reads it as bit/s, a player UI as kbit/s).
//!
//! Every rung has even dimensions (4:2:0) and a unique bitrate (the manifests key rungs by it).

use serde::Serialize;

/// One video rung: encoded size and nominal bitrate (bits per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rung {
    pub width: u32,
    pub height: u32,
    pub bitrate: u32,
}

impl Rung {
    pub fn kbps(&self) -> u32 {
        self.bitrate / 1000
    }
}

/// A requested rung before it meets the source: a missing side follows the aspect ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RungSpec {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bitrate: u32,
}

/// What `--ladder` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LadderSpec {
    /// Derived from the source (the default).
    #[default]
    Auto,
    /// A named preset: the rungs no larger than the source (short side) are kept.
    Preset(&'static str, Vec<(u32, u32)>),
    /// Exactly these rungs.
    Explicit(Vec<RungSpec>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LadderError(pub String);

/// The largest short side the default ladder encodes (1080p).
pub const MAX_AUTO_SHORT_SIDE: u32 = 1080;

/// Short sides of the standard rungs below the top one.
const STANDARD: [u32; 4] = [720, 540, 360, 180];

/// (pixels, kbps) points of the bitrate curve (Azure's 16:9 rungs).
const CURVE: [(u64, u64); 5] =
    [(320 * 180, 400), (640 * 360, 1000), (960 * 540, 2250), (1280 * 720, 3400), (1920 * 1080, 6000)];

/// Named presets: (short side, kbps) pairs, largest first.
pub const PRESETS: [(&str, &[(u32, u32)]); 4] = [
    (
        "azure-1080p",
        &[(1080, 6000), (1080, 4700), (720, 3400), (540, 2250), (540, 1500), (360, 1000), (360, 650), (180, 400)],
    ),
    ("hd", &[(1080, 6000), (720, 3400), (540, 2250), (360, 1000), (180, 400)]),
    ("sd", &[(480, 1500), (360, 800), (240, 400)]),
    ("mobile", &[(360, 800), (240, 400), (180, 200)]),
];

/// The displayed size of a `width`×`height` picture with sample aspect ratio `sar` (num, den) and a
/// clockwise `rotation` of 0/90/180/270 degrees, in square pixels and never larger than the coded
/// picture: the display aspect is reached by shrinking the other side (an anamorphic 1440x1080 of
/// SAR 4:3, displayed 16:9, is 1440x810; a SAR 3:4 720x480 is 360x480), so the ladder, fitted to
/// this size, never upscales either side.
pub fn display_size(width: u32, height: u32, sar: Option<(i64, i64)>, rotation: u32) -> (u32, u32) {
    let (w, h) = match sar {
        Some((n, d)) if n > d && d > 0 => {
            (width, ((u64::from(height) * d as u64 + n as u64 / 2) / n as u64).max(1) as u32)
        }
        Some((n, d)) if n > 0 && n < d => {
            (((u64::from(width) * n as u64 + d as u64 / 2) / d as u64).max(1) as u32, height)
        }
        _ => (width, height),
    };
    if rotation % 180 == 90 {
        (h, w)
    } else {
        (w, h)
    }
}

/// Parses `--ladder`: a preset name (`auto`, `azure-1080p`, `hd`, `sd`, `mobile`) or
/// `WxH@BITRATE[,WxH@BITRATE...]` (bitrate with optional `k`/`M`; `-1` for a side keeps the aspect).
pub fn parse_ladder(text: &str) -> Result<LadderSpec, LadderError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("auto") || text.eq_ignore_ascii_case("default") {
        return Ok(LadderSpec::Auto);
    }
    if let Some((name, rungs)) = PRESETS.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) {
        return Ok(LadderSpec::Preset(name, rungs.to_vec()));
    }
    let mut rungs = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |why: &str| {
            LadderError(format!(
                "`{item}`: {why} (expected WxH@BITRATE like 1280x720@2500k, or a preset: auto, {})",
                PRESETS.map(|p| p.0).join(", ")
            ))
        };
        let (size, rate) = item.split_once('@').ok_or_else(|| bad("no @BITRATE"))?;
        let (w, h) = size.split_once(['x', 'X']).ok_or_else(|| bad("no WxH"))?;
        let side = |s: &str| -> Result<Option<u32>, LadderError> {
            match s.trim() {
                "-1" | "" => Ok(None),
                v => match v.parse::<u32>() {
                    Ok(n) if n >= 2 && n % 2 == 0 && n <= 8192 => Ok(Some(n)),
                    Ok(_) => Err(bad("sides must be even, between 2 and 8192")),
                    Err(_) => Err(bad("bad size")),
                },
            }
        };
        let (width, height) = (side(w)?, side(h)?);
        if width.is_none() && height.is_none() {
            return Err(bad("give at least one side"));
        }
        let bitrate = parse_bitrate(rate).map_err(|e| bad(&e.0))?;
        rungs.push(RungSpec { width, height, bitrate });
    }
    if rungs.is_empty() {
        return Err(LadderError("empty ladder".into()));
    }
    let mut seen = Vec::new();
    for r in &rungs {
        if seen.contains(&r.bitrate) {
            return Err(LadderError(format!(
                "two rungs share the bitrate {} (rungs are identified by bitrate)",
                r.bitrate
            )));
        }
        seen.push(r.bitrate);
    }
    Ok(LadderSpec::Explicit(rungs))
}

/// Parses `2500k`, `2.5M`, `128k` into bits per second; a number without a unit is refused.
pub fn parse_bitrate(text: &str) -> Result<u32, LadderError> {
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000.0),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000.0),
        _ if t.parse::<f64>().is_ok() => {
            return Err(LadderError(format!(
                "bitrate `{t}` has no unit: write {t}k (kbit/s) or a value in M (Mbit/s), e.g. 2500k or 2.5M"
            )))
        }
        _ => (t, 1.0),
    };
    let value: f64 = digits.parse().map_err(|_| LadderError(format!("bad bitrate `{text}` (e.g. 2500k, 2.5M)")))?;
    let bps = (value * mult).round();
    if !(1000.0..=1_000_000_000.0).contains(&bps) {
        return Err(LadderError(format!("bitrate `{text}` out of range (1k..1000M)")));
    }
    Ok(bps as u32)
}

/// Resolves a ladder for a source displayed at `display` (width, height). Rungs come out largest
/// first with unique bitrates.
pub fn resolve(spec: &LadderSpec, display: (u32, u32)) -> Vec<Rung> {
    let (dw, dh) = (display.0.max(2), display.1.max(2));
    let short = dw.min(dh);
    let mut rungs = match spec {
        LadderSpec::Auto => {
            let top = even(short.min(MAX_AUTO_SHORT_SIDE));
            let mut sides = vec![top];
            sides.extend(STANDARD.iter().copied().filter(|&s| (s as f64) < 0.85 * top as f64));
            sides
                .into_iter()
                .map(|s| {
                    let (w, h) = size_for_short_side(s, dw, dh);
                    Rung { width: w, height: h, bitrate: curve_bitrate(u64::from(w) * u64::from(h)) }
                })
                .collect::<Vec<_>>()
        }
        LadderSpec::Preset(_, items) => {
            let fitting: Vec<(u32, u32)> = items.iter().copied().filter(|(s, _)| *s <= short).collect();
            let chosen = if fitting.is_empty() {
                // Everything would upscale: keep the smallest rung, at the source size.
                items.last().map(|&(_, k)| vec![(short, k)]).unwrap_or_default()
            } else {
                fitting
            };
            chosen
                .into_iter()
                .map(|(s, kbps)| {
                    let (w, h) = size_for_short_side(s, dw, dh);
                    Rung { width: w, height: h, bitrate: kbps * 1000 }
                })
                .collect()
        }
        LadderSpec::Explicit(items) => items
            .iter()
            .map(|r| {
                let (w, h) = match (r.width, r.height) {
                    (Some(w), Some(h)) => fit_inside(w, h, dw, dh),
                    (Some(w), None) => (w, even_round(f64::from(w) * f64::from(dh) / f64::from(dw))),
                    (None, Some(h)) => (even_round(f64::from(h) * f64::from(dw) / f64::from(dh)), h),
                    (None, None) => (even(dw), even(dh)),
                };
                Rung { width: w, height: h, bitrate: r.bitrate }
            })
            .collect(),
    };
    if matches!(spec, LadderSpec::Explicit(_)) {
        // The user's order and bitrates are kept (uniqueness was checked while parsing).
        return rungs;
    }
    // Largest first, bitrates strictly decreasing (so unique).
    rungs.sort_by_key(|r| std::cmp::Reverse((r.width * r.height, r.bitrate)));
    for i in 1..rungs.len() {
        if rungs[i].bitrate >= rungs[i - 1].bitrate {
            rungs[i].bitrate = rungs[i - 1].bitrate.saturating_sub(10_000).max(1000);
        }
    }
    rungs.dedup_by_key(|r| r.bitrate);
    rungs
}

/// What [`resolve`] changed about an explicit ladder for a source displayed at `display`: one line
/// per `WxH` rung fitted into its box with the source's aspect (for the job's `notes`).
pub fn fit_notes(spec: &LadderSpec, display: (u32, u32)) -> Vec<String> {
    let LadderSpec::Explicit(items) = spec else { return Vec::new() };
    items
        .iter()
        .zip(resolve(spec, display))
        .filter_map(|(asked, got)| match (asked.width, asked.height) {
            (Some(w), Some(h)) if (w, h) != (got.width, got.height) => Some(format!(
                "--ladder {w}x{h}@{}k: encoded as {}x{}, the largest size inside {w}x{h} with the source's \
                 display aspect ({}x{}); use -1 for a side to choose it from the other",
                asked.bitrate / 1000,
                got.width,
                got.height,
                display.0,
                display.1
            )),
            _ => None,
        })
        .collect()
}

/// The largest even size inside `w`×`h` with the display aspect of `dw`×`dh` (one side is `w` or
/// `h`, the other rounded to even).
fn fit_inside(w: u32, h: u32, dw: u32, dh: u32) -> (u32, u32) {
    let scale = (f64::from(w) / f64::from(dw)).min(f64::from(h) / f64::from(dh));
    (even_round(f64::from(dw) * scale).min(w), even_round(f64::from(dh) * scale).min(h))
}

/// The size with short side `s` and the display aspect of `dw`×`dh`, even, never above the display.
fn size_for_short_side(s: u32, dw: u32, dh: u32) -> (u32, u32) {
    let (w, h) = if dw >= dh {
        (even_round(f64::from(s) * f64::from(dw) / f64::from(dh)), even(s))
    } else {
        (even(s), even_round(f64::from(s) * f64::from(dh) / f64::from(dw)))
    };
    (w.min(even(dw)).max(2), h.min(even(dh)).max(2))
}

/// The default bitrate for a picture of `pixels`, bits per second: piecewise linear through
/// [`CURVE`], proportional below its first point, flat above its last; rounded to 10k (50k above 1M).
pub fn curve_bitrate(pixels: u64) -> u32 {
    let kbps = match CURVE.iter().position(|&(p, _)| pixels <= p) {
        Some(0) => (CURVE[0].1 as f64 * pixels as f64 / CURVE[0].0 as f64).max(64.0),
        Some(i) => {
            let ((p0, k0), (p1, k1)) = (CURVE[i - 1], CURVE[i]);
            k0 as f64 + (k1 - k0) as f64 * (pixels - p0) as f64 / (p1 - p0) as f64
        }
        None => CURVE[CURVE.len() - 1].1 as f64,
    };
    let step = if kbps >= 1000.0 { 50.0 } else { 10.0 };
    ((kbps / step).round() * step * 1000.0) as u32
}

fn even(v: u32) -> u32 {
    (v & !1).max(2)
}

fn even_round(v: f64) -> u32 {
    (((v / 2.0).round() as u32) * 2).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(r: &[Rung]) -> Vec<(u32, u32, u32)> {
        r.iter().map(|r| (r.width, r.height, r.kbps())).collect()
    }

    #[test]
    fn default_for_1080p_follows_azure() {
        let r = resolve(&LadderSpec::Auto, (1920, 1080));
        assert_eq!(
            sizes(&r),
            vec![(1920, 1080, 6000), (1280, 720, 3400), (960, 540, 2250), (640, 360, 1000), (320, 180, 400)]
        );
    }

    #[test]
    fn hd_sources_get_three_rungs_or_more_and_small_ones_never_upscale() {
        assert!(resolve(&LadderSpec::Auto, (1280, 720)).len() >= 3);
        let r = resolve(&LadderSpec::Auto, (854, 480));
        assert_eq!(sizes(&r), vec![(854, 480, 1800), (640, 360, 1000), (320, 180, 400)]);
        let r = resolve(&LadderSpec::Auto, (640, 360));
        assert_eq!(sizes(&r), vec![(640, 360, 1000), (320, 180, 400)]);
        let r = resolve(&LadderSpec::Auto, (160, 90));
        assert_eq!(sizes(&r), vec![(160, 90, 100)]);
        for (w, h) in [(426, 240), (352, 288), (320, 240), (3840, 2160), (1080, 1920), (853, 481)] {
            let r = resolve(&LadderSpec::Auto, (w, h));
            assert!(!r.is_empty());
            for x in &r {
                assert!(x.width <= w.max(1920) && x.height <= h.max(1920), "{x:?} for {w}x{h}");
                assert!(x.width % 2 == 0 && x.height % 2 == 0, "{x:?}");
            }
            let mut b: Vec<_> = r.iter().map(|x| x.bitrate).collect();
            b.dedup();
            assert_eq!(b.len(), r.len(), "unique bitrates for {w}x{h}");
        }
    }

    #[test]
    fn odd_and_4k_and_portrait() {
        assert_eq!(resolve(&LadderSpec::Auto, (853, 481))[0], Rung { width: 852, height: 480, bitrate: 1_800_000 });
        assert_eq!(sizes(&resolve(&LadderSpec::Auto, (3840, 2160)))[0], (1920, 1080, 6000));
        assert_eq!(sizes(&resolve(&LadderSpec::Auto, (1080, 1920)))[..2], [(1080, 1920, 6000), (720, 1280, 3400)]);
    }

    #[test]
    fn display_size_applies_sar_and_rotation() {
        // Never larger than the coded picture: the other side shrinks to the display aspect.
        assert_eq!(display_size(720, 576, Some((16, 15)), 0), (720, 540));
        assert_eq!(display_size(1440, 1080, Some((4, 3)), 0), (1440, 810));
        assert_eq!(display_size(720, 480, Some((3, 4)), 90), (480, 540));
        assert_eq!(display_size(1920, 1080, None, 90), (1080, 1920));
        assert_eq!(display_size(1920, 1080, None, 180), (1920, 1080));
    }

    #[test]
    fn parses_explicit_ladders_and_presets() {
        let spec = parse_ladder("1280x720@2500k,640x360@800k, 320x180@300k").unwrap();
        let r = resolve(&spec, (1920, 1080));
        assert_eq!(sizes(&r), vec![(1280, 720, 2500), (640, 360, 800), (320, 180, 300)]);
        let r = resolve(&parse_ladder("-1x360@1M,320x-1@0.3M").unwrap(), (640, 480));
        assert_eq!(sizes(&r), vec![(480, 360, 1000), (320, 240, 300)]);
        assert!(parse_ladder("1280x721@1M").is_err());
        assert!(parse_ladder("1280x720").is_err());
        assert!(parse_ladder("1280x720@1M,640x360@1000k").is_err());
        assert!(parse_ladder("").is_err());
        assert_eq!(parse_ladder("auto").unwrap(), LadderSpec::Auto);
        let r = resolve(&parse_ladder("azure-1080p").unwrap(), (1280, 720));
        assert_eq!(r.len(), 6);
        assert_eq!(sizes(&r)[0], (1280, 720, 3400));
        let r = resolve(&parse_ladder("hd").unwrap(), (160, 90));
        assert_eq!(sizes(&r), vec![(160, 90, 400)]);
    }

    #[test]
    fn an_explicit_size_of_another_aspect_is_a_box_the_picture_fits_in() {
        let r = |spec: &str, src| sizes(&resolve(&parse_ladder(spec).unwrap(), src));
        assert_eq!(r("640x640@500k", (1920, 1080)), vec![(640, 360, 500)]);
        assert_eq!(r("1280x720@1M", (1440, 1080)), vec![(960, 720, 1000)]);
        assert_eq!(r("1280x720@1M", (1080, 1920)), vec![(406, 720, 1000)]);
        assert_eq!(r("1280x720@1M,640x360@500k", (1920, 1080)), vec![(1280, 720, 1000), (640, 360, 500)]);
        assert_eq!(r("300x300@1M", (853, 480)), vec![(300, 168, 1000)]);
        let notes = fit_notes(&parse_ladder("640x640@500k,320x180@200k").unwrap(), (1920, 1080));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("--ladder 640x640@500k: encoded as 640x360"), "{notes:?}");
    }

    #[test]
    fn bitrates() {
        assert_eq!(parse_bitrate("2500k").unwrap(), 2_500_000);
        assert_eq!(parse_bitrate("2.5M").unwrap(), 2_500_000);
        assert!(parse_bitrate("128000").unwrap_err().0.contains("no unit"));
        assert!(parse_ladder("160x90@2500").unwrap_err().0.contains("2500k"));
        assert!(parse_bitrate("fast").is_err());
        assert!(parse_bitrate("0k").is_err());
    }
}
