//! One video rung: scale + encode (libx264) + fragment + write, on its own thread, fed by the
//! decode thread through a bounded channel.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::format::avc::{self, AvcConfig};
use crate::format::fragmenter::{CutRule, Fragment, Fragmenter};
use crate::format::presentation::TrackOutput;
use crate::format::writer::{FragmentEvent, IsmvWriter};
use crate::format::{CodecConfig, Sample, TrackInfo};
use crate::media::scale::Scaler;
use crate::media::x264::{H264Encoder, H264Settings};
use crate::media::{EncodedPacket, VideoFrame};

use super::error::PipelineError;
use super::ladder::Rung;
use super::progress::Bar;

/// A decoded source frame with its place on the presentation timeline, shared by all rungs.
pub struct SourceFrame {
    pub frame: VideoFrame,
    /// Presentation time, ticks from 0.
    pub pts: i64,
    /// Ticks until the next frame (for the last frame: its own duration).
    pub duration: u32,
    /// Starts a fragment: every rung forces an IDR here.
    pub boundary: bool,
}

/// Everything a rung worker needs.
pub struct RungJob {
    pub rung: Rung,
    /// File name in the presentation folder, and its full path while staged.
    pub file: String,
    pub path: PathBuf,
    pub track_id: u32,
    pub settings: H264Settings,
    pub rotation: u32,
    /// Fragment duration in ticks.
    pub fragment: u64,
}

/// Runs the rung until the channel closes; returns the written track.
pub fn run(
    job: RungJob,
    frames: Receiver<Arc<SourceFrame>>,
    cancel: &AtomicBool,
    bar: Bar,
) -> Result<TrackOutput, PipelineError> {
    let ctx = job.file.clone();
    let mut scaler = Scaler::new(job.rung.width, job.rung.height, job.rotation, ctx.as_str());
    let mut encoder = H264Encoder::open(&job.settings, ctx.as_str())?;
    let mut config = AvcConfig::from_extradata(encoder.extradata())
        .map_err(|e| PipelineError::format(format!("{ctx}: libx264 extradata"), e))?;
    config.display_width = job.rung.width;
    config.display_height = job.rung.height;
    let track = TrackInfo {
        track_id: job.track_id,
        codec: CodecConfig::H264(config.clone()),
        bitrate: job.rung.bitrate,
        language: "und".to_string(),
        name: "video".to_string(),
    };
    let file = File::create(&job.path).map_err(|e| PipelineError::io(&job.path, e))?;
    let writer =
        IsmvWriter::new(BufWriter::new(file), track.clone()).map_err(|e| PipelineError::format(ctx.as_str(), e))?;
    let mut out = RungOutput {
        ctx: ctx.clone(),
        config,
        fragmenter: Fragmenter::new(CutRule::Grid { duration: job.fragment }, format!("{ctx} track {}", job.track_id)),
        writer,
        events: Vec::new(),
        pending: BTreeMap::new(),
    };
    for (index, frame) in (0i64..).zip(frames) {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        let scaled = scaler.scale(&frame.frame)?;
        out.pending.insert(index, (frame.pts, frame.duration, frame.boundary));
        let packets = encoder.encode(scaled, index, frame.boundary)?;
        out.packets(packets)?;
        bar.frame(frame.pts + i64::from(frame.duration));
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(PipelineError::Cancelled);
    }
    out.packets(encoder.finish()?)?;
    if !out.pending.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "{ctx}: libx264 returned {} frames fewer than it was given",
            out.pending.len()
        )));
    }
    if let Some(f) = out.fragmenter.finish().map_err(|e| PipelineError::format(ctx.as_str(), e))? {
        out.write(&f)?;
    }
    let writer = out.writer.finish().map_err(|e| PipelineError::format(ctx.as_str(), e))?;
    writer
        .into_inner()
        .map_err(|e| PipelineError::io(&job.path, e.into_error()))?
        .sync_all()
        .map_err(|e| PipelineError::io(&job.path, e))?;
    bar.done();
    Ok(TrackOutput { file: job.file, track, fragments: out.events })
}

struct RungOutput {
    ctx: String,
    config: AvcConfig,
    fragmenter: Fragmenter,
    writer: IsmvWriter<BufWriter<File>>,
    events: Vec<FragmentEvent>,
    /// Frames inside the encoder: index → (pts, duration, boundary).
    pending: BTreeMap<i64, (i64, u32, bool)>,
}

impl RungOutput {
    fn packets(&mut self, packets: Vec<EncodedPacket>) -> Result<(), PipelineError> {
        for p in packets {
            let (pts, duration, boundary) = self.pending.remove(&p.pts).ok_or_else(|| {
                PipelineError::Invalid(format!("{}: libx264 returned an unknown frame {}", self.ctx, p.pts))
            })?;
            let data = avc::annexb_to_sample(&p.data, &self.config)
                .map_err(|e| PipelineError::format(format!("{} frame {}", self.ctx, p.pts), e))?;
            let sync = avc::sample_is_idr(&data);
            if boundary && !sync {
                return Err(PipelineError::Invalid(format!(
                    "{}: frame {} at {pts} should start a fragment but libx264 did not make it an IDR",
                    self.ctx, p.pts
                )));
            }
            let sample = Sample { pts, duration, sync, data };
            if let Some(f) = self.fragmenter.push(sample).map_err(|e| PipelineError::format(self.ctx.as_str(), e))? {
                self.write(&f)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, fragment: &Fragment) -> Result<(), PipelineError> {
        let event = self.writer.write_fragment(fragment).map_err(|e| PipelineError::format(self.ctx.as_str(), e))?;
        self.events.push(event);
        Ok(())
    }
}
