//! One audio track: resample + AAC encode + fragment + write, on its own thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Receiver;

use crate::format::aac::AacConfig;
use crate::format::fragmenter::{CutRule, Fragment, Fragmenter};
use crate::format::presentation::TrackOutput;
use crate::format::writer::FragmentEvent;
use crate::format::{CodecConfig, Sample, TrackInfo};
use crate::media::aac::{AacEncoder, AacSettings, FRAME};
use crate::media::{AudioFrame, EncodedPacket};

use super::error::PipelineError;
use super::report::{Bar, Report};
use super::sink::{Live, Sink};
use super::timeline::{samples_to_ticks, ticks_to_samples};

/// A decoded audio frame and the presentation time (ticks, may be negative: before the start) of
/// its first sample, if the source says.
pub struct AudioPiece {
    pub frame: AudioFrame,
    pub pts: Option<i64>,
}

/// Audio whose timestamps jump further than this from the samples actually decoded (a gap or an
/// overlap in the source) is re-synchronised with silence or by dropping samples, as
/// `aresample=async` would; below it, the decoded samples are simply laid end to end.
pub const RESYNC_SECONDS: f64 = 0.1;

pub struct AudioJob {
    pub file: String,
    pub path: PathBuf,
    pub track_id: u32,
    /// Stream name: `audio`, or `audio_eng`, `audio_fra`… ([`super::tracks::stream_names`]).
    pub name: String,
    pub language: String,
    pub settings: AacSettings,
    pub fragment: u64,
    /// Where the fragments go instead of `path`, if anywhere.
    pub live: Live,
}

/// Runs the track until the channel closes; returns the written track.
pub fn run(
    job: AudioJob,
    pieces: Receiver<AudioPiece>,
    cancel: &AtomicBool,
    bar: Bar,
    report: &dyn Report,
) -> Result<TrackOutput, PipelineError> {
    let ctx = job.file.clone();
    let mut encoder = AacEncoder::open(job.settings, ctx.as_str())?;
    let config = AacConfig::from_asc(encoder.asc())
        .map_err(|e| PipelineError::format(format!("{ctx}: AudioSpecificConfig"), e))?;
    let rate = job.settings.sample_rate;
    let bitrate = u32::try_from(job.settings.bitrate).unwrap_or(u32::MAX);
    let track = TrackInfo {
        track_id: job.track_id,
        codec: CodecConfig::Aac(config),
        bitrate,
        language: job.language.clone(),
        name: job.name.clone(),
    };
    let writer = Sink::open(&job.live, &job.path, track.clone(), &ctx)?;
    let mut out = AudioOutput {
        ctx: ctx.clone(),
        rate,
        fragmenter: Fragmenter::new(
            CutRule::AudioGrid { duration: job.fragment },
            format!("{ctx} track {}", job.track_id),
        ),
        writer,
        events: Vec::new(),
        bar,
    };
    let threshold = (RESYNC_SECONDS * f64::from(rate)) as i64;
    let mut first = true;
    for piece in pieces {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        if let Some(pts) = piece.pts {
            let drift = ticks_to_samples(pts, rate) - encoder.position();
            if first || drift.abs() > threshold {
                if !first {
                    report.warn(&format!("{ctx}: audio timestamps jump by {drift} samples at {pts}; re-synchronising"));
                }
                encoder.shift(drift);
            }
        }
        first = false;
        out.packets(encoder.push(&piece.frame)?)?;
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(PipelineError::Cancelled);
    }
    out.packets(encoder.finish()?)?;
    if let Some(f) = out.fragmenter.finish().map_err(|e| PipelineError::format(ctx.as_str(), e))? {
        out.write(&f)?;
    }
    out.writer.close(&job.path, &ctx)?;
    out.bar.done();
    Ok(TrackOutput { file: job.file, track, fragments: out.events })
}

struct AudioOutput {
    ctx: String,
    rate: u32,
    fragmenter: Fragmenter,
    writer: Sink,
    events: Vec<FragmentEvent>,
    bar: Bar,
}

impl AudioOutput {
    fn packets(&mut self, packets: Vec<EncodedPacket>) -> Result<(), PipelineError> {
        for p in packets {
            // Times from the sample count: frame k at round(k·1024·10⁷/rate), no drift.
            let pts = samples_to_ticks(p.pts, self.rate);
            let end = samples_to_ticks(p.pts + FRAME as i64, self.rate);
            let sample = Sample { pts, duration: (end - pts) as u32, sync: true, data: p.data };
            if let Some(f) = self.fragmenter.push(sample).map_err(|e| PipelineError::format(self.ctx.as_str(), e))? {
                self.write(&f)?;
            }
            self.bar.frame(end);
        }
        Ok(())
    }

    fn write(&mut self, fragment: &Fragment) -> Result<(), PipelineError> {
        let event = self.writer.write_fragment(fragment).map_err(|e| PipelineError::format(self.ctx.as_str(), e))?;
        self.events.push(event);
        Ok(())
    }
}
