//! Video conversions libavfilter does for the pipeline, through ffmpeg-next's filter graph:
//! deinterlacing (`bwdif`), HDR (PQ/HLG) → SDR BT.709 tone mapping (`zscale` + `tonemap`), and
//! interlace detection (`idet`) for a source whose stream does not say its field order. Nothing
//! here is a filter of our own: [`plan`] decides from the source's facts which chain to build,
//! [`VideoFilter`] runs it, [`detect_interlace`] runs `idet` over the first seconds.

use std::path::Path;

use ff::color::TransferCharacteristic;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::{MediaError, Ratio, VideoFrame};

/// `--deinterlace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deinterlace {
    /// From the stream's field order; when it does not say, `idet` over the first seconds.
    #[default]
    Auto,
    On,
    Off,
}

/// How the source's fields are ordered, as the stream says (`field_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOrder {
    Progressive,
    /// Top field first (`tt`, or `tb`: top coded first, bottom displayed first, treated alike).
    TopFirst,
    BottomFirst,
    Unknown,
}

/// The dynamic range of the source, from its transfer characteristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dynamic {
    Sdr,
    /// SMPTE ST 2084.
    Pq,
    /// ARIB STD-B67.
    Hlg,
}

impl Dynamic {
    pub fn from_transfer(t: TransferCharacteristic) -> Dynamic {
        match t {
            TransferCharacteristic::SMPTE2084 => Dynamic::Pq,
            TransferCharacteristic::ARIB_STD_B67 => Dynamic::Hlg,
            _ => Dynamic::Sdr,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dynamic::Sdr => "SDR",
            Dynamic::Pq => "HDR PQ (SMPTE ST 2084)",
            Dynamic::Hlg => "HDR HLG (ARIB STD-B67)",
        }
    }
}

/// What `idet` counted over the first frames (its "multiple frame" detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interlace {
    pub tff: u64,
    pub bff: u64,
    pub progressive: u64,
}

impl Interlace {
    /// Interlaced when most decided frames are: `Some(top_first)`, else `None`.
    pub fn verdict(&self) -> Option<bool> {
        let interlaced = self.tff + self.bff;
        (interlaced > self.progressive && interlaced >= 4).then_some(self.tff >= self.bff)
    }
}

/// Why the source is deinterlaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeinterlaceCause {
    /// The stream says its fields are ordered (`top_first`).
    FieldOrder { top_first: bool },
    /// `idet` found most of the first frames interlaced.
    Detected(Interlace),
    /// `--deinterlace on`.
    Forced,
}

/// The conversions the video of a job goes through before scaling.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoPlan {
    pub deinterlace: Option<DeinterlaceCause>,
    /// One picture per field (`--deinterlace-rate field`): the frame rate doubles.
    pub field_rate: bool,
    /// Tone-mapped from this range to SDR BT.709 (`zscale` + `tonemap`).
    pub tone_map: Option<Dynamic>,
    /// HDR that could not be tone-mapped (this FFmpeg lacks `zscale` or `tonemap`): converted as
    /// if SDR, colours and highlights are off.
    pub untone_mapped: Option<Dynamic>,
    /// Bits per sample of the source when above 8 (coded as 8-bit).
    pub reduced_depth: Option<u8>,
}

impl VideoPlan {
    /// The libavfilter chain, or `None` when the frames go to the scaler as decoded.
    pub fn filter_spec(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        if let Some(cause) = self.deinterlace {
            let mode = if self.field_rate { "send_field" } else { "send_frame" };
            // Frames the stream flags as interlaced only, when it flags them; all frames when the
            // flags cannot be trusted (detected or forced).
            let (parity, deint) = match cause {
                DeinterlaceCause::FieldOrder { .. } => ("auto", "interlaced"),
                DeinterlaceCause::Detected(i) => (if i.tff >= i.bff { "tff" } else { "bff" }, "all"),
                DeinterlaceCause::Forced => ("auto", "all"),
            };
            parts.push(format!("bwdif=mode={mode}:parity={parity}:deint={deint}"));
        }
        if let Some(range) = self.tone_map {
            let tin = if range == Dynamic::Hlg { "arib-std-b67" } else { "smpte2084" };
            parts.push(format!(
                "zscale=tin={tin}:pin=bt2020:min=bt2020nc:rin=tv:t=linear:npl=100,format=gbrpf32le,\
                 zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
            ));
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

/// Decides the conversions from the source's facts. `detect` runs `idet` (only called for `auto`
/// when the stream does not say its field order).
pub fn plan(
    mode: Deinterlace,
    field_rate: bool,
    field_order: FieldOrder,
    dynamic: Dynamic,
    depth: u8,
    detect: impl FnOnce() -> Option<Interlace>,
) -> VideoPlan {
    let deinterlace = match (mode, field_order) {
        (Deinterlace::Off, _) => None,
        (Deinterlace::On, _) => Some(DeinterlaceCause::Forced),
        (Deinterlace::Auto, FieldOrder::Progressive) => None,
        (Deinterlace::Auto, FieldOrder::TopFirst) => Some(DeinterlaceCause::FieldOrder { top_first: true }),
        (Deinterlace::Auto, FieldOrder::BottomFirst) => Some(DeinterlaceCause::FieldOrder { top_first: false }),
        (Deinterlace::Auto, FieldOrder::Unknown) => {
            detect().filter(|i| i.verdict().is_some()).map(DeinterlaceCause::Detected)
        }
    };
    let hdr = dynamic != Dynamic::Sdr;
    let can_tone_map = hdr && has_filters(&["zscale", "tonemap"]);
    VideoPlan {
        field_rate: field_rate && deinterlace.is_some(),
        deinterlace,
        tone_map: can_tone_map.then_some(dynamic),
        untone_mapped: (hdr && !can_tone_map).then_some(dynamic),
        reduced_depth: (depth > 8).then_some(depth),
    }
}

/// Whether this FFmpeg has all these filters.
pub fn has_filters(names: &[&str]) -> bool {
    names.iter().all(|n| ff::filter::find(n).is_some())
}

/// The field order the stream's codec parameters state.
pub fn field_order(params: &ff::codec::Parameters) -> FieldOrder {
    // SAFETY: `params` wraps a valid AVCodecParameters owned by the open stream; reading a plain
    // enum field of it has no side effect.
    let order = unsafe { (*params.as_ptr()).field_order };
    use ff::ffi::AVFieldOrder::*;
    match order {
        AV_FIELD_PROGRESSIVE => FieldOrder::Progressive,
        AV_FIELD_TT | AV_FIELD_TB => FieldOrder::TopFirst,
        AV_FIELD_BB | AV_FIELD_BT => FieldOrder::BottomFirst,
        _ => FieldOrder::Unknown,
    }
}

/// Bits per sample of a pixel format (its first component), 8 when unknown.
pub fn bit_depth(format: ff::format::Pixel) -> u8 {
    match format.descriptor() {
        // SAFETY: the descriptor is a pointer to FFmpeg's static, immutable table of pixel
        // formats (valid for the program's life); `comp[0].depth` is a plain integer.
        Some(d) => u8::try_from(unsafe { (*d.as_ptr()).comp[0].depth }).unwrap_or(8),
        None => 8,
    }
}

/// A running libavfilter graph: decoded frames in, converted frames out.
pub struct VideoFilter {
    graph: ff::filter::Graph,
    time_base: Ratio,
    context: String,
}

impl VideoFilter {
    /// Builds `spec` for frames of `width`×`height` in `format`, timed in `time_base`.
    pub fn new(
        spec: &str,
        width: u32,
        height: u32,
        format: ff::format::Pixel,
        time_base: Ratio,
        sample_aspect: Ratio,
        context: &str,
    ) -> Result<Self, MediaError> {
        let err = |what: &str, e| MediaError::ffmpeg(format!("{context}: {what} `{spec}`"), e);
        let missing = |name: &str| MediaError::invalid(context, format!("this FFmpeg has no `{name}` filter"));
        let mut graph = ff::filter::Graph::new();
        let sar = sample_aspect.positive().unwrap_or(Ratio::new(1, 1));
        let args = format!(
            "video_size={width}x{height}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
            ff::ffi::AVPixelFormat::from(format) as i32,
            time_base.num,
            time_base.den.max(1),
            sar.num,
            sar.den
        );
        let buffer = ff::filter::find("buffer").ok_or_else(|| missing("buffer"))?;
        let sink = ff::filter::find("buffersink").ok_or_else(|| missing("buffersink"))?;
        graph.add(&buffer, "in", &args).map_err(|e| err("filter source", e))?;
        graph.add(&sink, "out", "").map_err(|e| err("filter sink", e))?;
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(spec))
            .map_err(|e| err("filter graph", e))?;
        graph.validate().map_err(|e| err("filter graph", e))?;
        let time_base = match graph.get("out") {
            Some(mut out) => Ratio::from(out.sink().time_base()),
            None => time_base,
        };
        Ok(VideoFilter { graph, time_base, context: context.to_string() })
    }

    /// The time base of the frames out.
    pub fn time_base(&self) -> Ratio {
        self.time_base
    }

    /// Sends one decoded frame (its best-effort timestamp as its pts), or the end (`None`).
    pub fn push(&mut self, frame: Option<&mut VideoFrame>) -> Result<(), MediaError> {
        let ctx = self.context.clone();
        let mut src = self.graph.get("in").ok_or_else(|| MediaError::invalid(&ctx, "filter graph without input"))?;
        let r = match frame {
            Some(f) => {
                let ts = f.timestamp();
                f.set_pts(ts);
                src.source().add(f)
            }
            None => src.source().flush(),
        };
        r.map_err(|e| MediaError::ffmpeg(format!("{ctx}: filtering"), e))
    }

    /// The next converted frame, if one is ready.
    pub fn pull(&mut self) -> Result<Option<VideoFrame>, MediaError> {
        let ctx = self.context.clone();
        let mut out = self.graph.get("out").ok_or_else(|| MediaError::invalid(&ctx, "filter graph without output"))?;
        let mut frame = VideoFrame::empty();
        match out.sink().frame(&mut frame) {
            Ok(()) => {
                // SAFETY: `frame` is a live AVFrame we own (the sink handed us a reference);
                // `best_effort_timestamp` is a plain integer the rest of the pipeline reads as the
                // frame's time, set to the filter's output pts (a second field's own time).
                unsafe {
                    let raw = frame.as_mut_ptr();
                    (*raw).best_effort_timestamp = (*raw).pts;
                }
                Ok(Some(frame))
            }
            Err(ff::Error::Eof) => Ok(None),
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => Ok(None),
            Err(e) => Err(MediaError::ffmpeg(format!("{ctx}: filtering"), e)),
        }
    }
}

/// Frames `idet` looks at: about 4 s of 25/30 fps video.
const DETECT_FRAMES: usize = 120;

/// Runs `idet` over the first [`DETECT_FRAMES`] frames of video stream `index` of `path` (a
/// separate open of the file); `None` when it cannot tell (no frames, no `idet`).
pub fn detect_interlace(path: &Path, index: usize) -> Option<Interlace> {
    let mut ictx = ff::format::input(&path).ok()?;
    let stream = ictx.stream(index).filter(|s| s.parameters().medium() == MediaType::Video)?;
    let tb = stream.time_base();
    let mut dec = ff::codec::Context::from_parameters(stream.parameters()).ok()?.decoder();
    dec.set_packet_time_base(tb);
    let mut dec = dec.video().ok()?;
    let mut filter: Option<VideoFilter> = None;
    let mut last = Interlace::default();
    let mut seen = 0usize;
    let take = |filter: &mut VideoFilter, last: &mut Interlace, seen: &mut usize| {
        while let Ok(Some(f)) = filter.pull() {
            *seen += 1;
            let meta = f.metadata();
            // idet writes its counts as fixed-point decimals (`75.00`).
            let count = |k: &str| meta.get(k).and_then(|v| v.trim().parse::<f64>().ok()).map_or(0, |v| v as u64);
            *last = Interlace {
                tff: count("lavfi.idet.multiple.tff"),
                bff: count("lavfi.idet.multiple.bff"),
                progressive: count("lavfi.idet.multiple.progressive"),
            };
        }
    };
    let mut frame = VideoFrame::empty();
    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        if dec.send_packet(&packet).is_err() {
            continue;
        }
        while dec.receive_frame(&mut frame).is_ok() {
            if filter.is_none() {
                filter = VideoFilter::new(
                    "idet",
                    frame.width(),
                    frame.height(),
                    frame.format(),
                    tb.into(),
                    Ratio::new(1, 1),
                    "idet",
                )
                .ok();
            }
            let f = filter.as_mut()?;
            f.push(Some(&mut frame)).ok()?;
            take(f, &mut last, &mut seen);
        }
        if seen >= DETECT_FRAMES {
            break;
        }
    }
    if let Some(f) = filter.as_mut() {
        let _ = f.push(None);
        take(f, &mut last, &mut seen);
    }
    (seen > 0).then_some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_field_order_and_asks_idet_only_when_it_is_unknown() {
        let never = || -> Option<Interlace> { panic!("idet must not run") };
        let p = plan(Deinterlace::Auto, false, FieldOrder::Progressive, Dynamic::Sdr, 8, never);
        assert_eq!(p, VideoPlan::default());
        assert_eq!(p.filter_spec(), None);
        let p = plan(Deinterlace::Auto, false, FieldOrder::TopFirst, Dynamic::Sdr, 8, never);
        assert_eq!(p.filter_spec().as_deref(), Some("bwdif=mode=send_frame:parity=auto:deint=interlaced"));
        let found = Interlace { tff: 90, bff: 2, progressive: 3 };
        let p = plan(Deinterlace::Auto, true, FieldOrder::Unknown, Dynamic::Sdr, 8, || Some(found));
        assert_eq!(p.deinterlace, Some(DeinterlaceCause::Detected(found)));
        assert_eq!(p.filter_spec().as_deref(), Some("bwdif=mode=send_field:parity=tff:deint=all"));
        let progressive = Interlace { tff: 1, bff: 0, progressive: 90 };
        assert_eq!(
            plan(Deinterlace::Auto, false, FieldOrder::Unknown, Dynamic::Sdr, 8, || Some(progressive)).deinterlace,
            None
        );
        assert_eq!(plan(Deinterlace::Off, true, FieldOrder::TopFirst, Dynamic::Sdr, 8, never).filter_spec(), None);
        assert!(!plan(Deinterlace::Off, true, FieldOrder::TopFirst, Dynamic::Sdr, 8, never).field_rate);
    }

    #[test]
    fn ten_bit_sdr_needs_no_filter_but_is_noted() {
        let p = plan(Deinterlace::Auto, false, FieldOrder::Progressive, Dynamic::Sdr, 10, || None);
        assert_eq!((p.reduced_depth, p.filter_spec()), (Some(10), None));
    }
}
