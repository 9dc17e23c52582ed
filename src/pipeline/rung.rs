//! One video rung: libx264, the fragmenter and the `.ismv` writer.
//!
//! A rung's fragments are dealt round-robin to `lanes` independent single-threaded libx264
//! instances, and a writer thread takes the coded fragments back in order:
//!
//! ```text
//!                       ┌─▶ lane 0: libx264 (fragments 0, 2, 4…) ─┐
//!   scaled pictures ─▶ router                                      writer ─▶ NAME_3400k.ismv
//!                       └─▶ lane 1: libx264 (fragments 1, 3, 5…) ─┘
//! ```
//!
//! Every fragment starts with a forced IDR and GOPs are closed, so no picture references another
//! fragment and a fragment can be coded by any encoder with the same settings: the lanes give the
//! big rungs more than one core while each libx264 stays single-threaded, the only configuration
//! whose output is reproducible under VBV (see [`super::encoder_lanes`]). Each lane numbers its
//! own frames 0, 1, 2… so its rate control sees a continuous stream, and it sees every L-th
//! fragment of the whole title, so its ABR converges on the title's complexity as one encoder
//! would. The output is byte-identical for the same input, settings and lane count.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use crate::format::avc::{self, AvcConfig};
use crate::format::fragmenter::{CutRule, Fragment, Fragmenter};
use crate::format::presentation::TrackOutput;
use crate::format::writer::FragmentEvent;
use crate::format::{CodecConfig, Sample, TrackInfo};
use crate::media::x264::{H264Encoder, H264Settings};
use crate::media::EncodedPacket;

use super::error::PipelineError;
use super::ladder::Rung;
use super::report::Bar;
use super::sink::{Live, Sink};
use super::video::SourceFrame;

/// Everything a rung worker needs.
pub struct RungJob {
    pub rung: Rung,
    /// File name in the presentation folder, and its full path while staged.
    pub file: String,
    pub path: PathBuf,
    pub track_id: u32,
    pub settings: H264Settings,
    /// Fragment duration in ticks.
    pub fragment: u64,
    /// libx264 instances coding alternate fragments (≥ 1).
    pub lanes: usize,
    /// Pictures queued for the lanes, all lanes together (see [`Budget`]).
    pub queue: usize,
    /// Where the fragments go instead of `path`, if anywhere.
    pub live: Live,
}

/// How many pictures may wait for a rung's lanes, all lanes together. A shared limit, not one per
/// lane: while the router fills the next lane with a new fragment, the lane before it still holds
/// the rest of its own, and each picture it takes makes room for one more of the next fragment, so
/// the lanes run side by side with about half a fragment queued in all (two lanes), where separate
/// queues would each need that much.
struct Budget {
    /// Pictures queued, and whether a lane has stopped.
    state: Mutex<(usize, bool)>,
    room: Condvar,
    limit: usize,
}

impl Budget {
    fn new(limit: usize) -> Self {
        Budget { state: Mutex::new((0, false)), room: Condvar::new(), limit: limit.max(1) }
    }

    /// Waits for room for one more picture; false once a lane has stopped.
    fn acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 >= self.limit && !state.1 {
            state = self.room.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.0 += 1;
        !state.1
    }

    /// A lane has taken a picture.
    fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = state.0.saturating_sub(1);
        self.room.notify_one();
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.room.notify_all();
    }
}

/// Coded fragments queued per lane for the writer.
const CODED_QUEUE: usize = 2;

/// A picture as it went into a lane's encoder.
#[derive(Debug, Clone, Copy)]
struct FrameMeta {
    pts: i64,
    duration: u32,
    boundary: bool,
}

/// Runs the rung until `frames` closes; returns the written track. The pictures arrive scaled.
pub fn run(
    job: RungJob,
    frames: Receiver<Arc<SourceFrame>>,
    cancel: &AtomicBool,
    bar: Bar,
) -> Result<TrackOutput, PipelineError> {
    let ctx = job.file.as_str();
    let encoders =
        (0..job.lanes.max(1)).map(|_| H264Encoder::open(&job.settings, ctx)).collect::<Result<Vec<_>, _>>()?;
    // Same settings, same parameter sets: any lane's fragments decode with the first one's.
    let extradata = encoders[0].extradata().to_vec();
    if encoders.iter().any(|e| e.extradata() != extradata) {
        return Err(PipelineError::Invalid(format!("{ctx}: libx264 instances disagree on SPS/PPS")));
    }
    let mut config = AvcConfig::from_extradata(&extradata)
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
    let writer = Sink::open(&job.live, &job.path, track.clone(), ctx)?;
    let fragmenter = Fragmenter::new(CutRule::Grid { duration: job.fragment }, format!("{ctx} track {}", job.track_id));

    let budget = Budget::new(job.queue);
    let (routed, lanes, written) = std::thread::scope(|scope| {
        let mut inputs = Vec::new();
        let mut coded = Vec::new();
        let mut handles = Vec::new();
        for encoder in encoders {
            let (tx, rx) = unbounded();
            let (coded_tx, coded_rx) = bounded(CODED_QUEUE);
            let (config, budget, bar) = (&config, &budget, &bar);
            handles.push(scope.spawn(move || {
                let r = lane(encoder, config, ctx, rx, coded_tx, budget, cancel, bar);
                // A lane that stops early must not leave the router waiting for room.
                budget.close();
                r
            }));
            inputs.push(tx);
            coded.push(coded_rx);
        }
        let out = TrackWriter { ctx, fragmenter, writer, events: Vec::new() };
        let writer = scope.spawn(|| out.write(coded));
        let routed = route(frames, inputs, &budget, cancel);
        let lanes: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(PipelineError::Panicked(ctx.to_string()))))
            .collect();
        let written = writer.join().unwrap_or_else(|_| Err(PipelineError::Panicked(ctx.to_string())));
        (routed, lanes, written)
    });
    // When one thread fails, the others stop with `Cancelled` (a closed channel or budget): report
    // the failure itself, whichever thread had it.
    let mut first = None;
    for e in lanes.into_iter().filter_map(Result::err).chain(routed.err()) {
        if first.is_none() || matches!(first, Some(PipelineError::Cancelled)) {
            first = Some(e);
        }
    }
    let (writer, events) = match (written, first) {
        (Err(e), None | Some(PipelineError::Cancelled)) => return Err(e),
        (_, Some(e)) => return Err(e),
        (Ok(w), None) => w,
    };
    if cancel.load(Ordering::Relaxed) {
        return Err(PipelineError::Cancelled);
    }
    writer.close(&job.path, ctx)?;
    bar.done();
    Ok(TrackOutput { file: job.file, track, fragments: events })
}

/// Deals whole fragments to the lanes in turn (a new fragment starts at each boundary picture).
fn route(
    frames: Receiver<Arc<SourceFrame>>,
    lanes: Vec<Sender<Arc<SourceFrame>>>,
    budget: &Budget,
    cancel: &AtomicBool,
) -> Result<(), PipelineError> {
    let mut boundaries = 0usize;
    for frame in frames {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        boundaries += usize::from(frame.boundary);
        let lane = boundaries.saturating_sub(1) % lanes.len();
        // A closed lane stopped on an error: that error is the one reported.
        if !budget.acquire() {
            return Err(PipelineError::Cancelled);
        }
        lanes[lane].send(frame).map_err(|_| PipelineError::Cancelled)?;
    }
    Ok(())
}

/// One libx264 instance: encodes the pictures it is given and sends each fragment's samples, in
/// decode order, as soon as libx264 has returned all of them. Each picture counts on the rung's
/// `bar` once libx264 has taken it, so a rung coded by several lanes moves frame by frame, not a
/// whole fragment at a time when the writer gets it.
#[allow(clippy::too_many_arguments)]
fn lane(
    mut encoder: H264Encoder,
    config: &AvcConfig,
    ctx: &str,
    frames: Receiver<Arc<SourceFrame>>,
    coded: Sender<Vec<Sample>>,
    budget: &Budget,
    cancel: &AtomicBool,
    bar: &Bar,
) -> Result<(), PipelineError> {
    let mut lane = Lane { config, ctx, pending: BTreeMap::new(), fragment: Vec::new(), coded };
    for (index, frame) in (0i64..).zip(frames) {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        lane.pending.insert(index, FrameMeta { pts: frame.pts, duration: frame.duration, boundary: frame.boundary });
        let packets = encoder.encode(&frame.frame, index, frame.boundary)?;
        bar.frame(frame.pts + i64::from(frame.duration));
        drop(frame);
        budget.release();
        lane.take(packets)?;
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(PipelineError::Cancelled);
    }
    lane.take(encoder.finish()?)?;
    if !lane.pending.is_empty() {
        return Err(PipelineError::Invalid(format!(
            "{ctx}: libx264 returned {} frames fewer than it was given",
            lane.pending.len()
        )));
    }
    lane.send()
}

struct Lane<'a> {
    config: &'a AvcConfig,
    ctx: &'a str,
    /// Pictures inside the encoder, by the lane's own frame number.
    pending: BTreeMap<i64, FrameMeta>,
    /// The fragment being returned by libx264.
    fragment: Vec<Sample>,
    coded: Sender<Vec<Sample>>,
}

impl Lane<'_> {
    fn take(&mut self, packets: Vec<EncodedPacket>) -> Result<(), PipelineError> {
        for p in packets {
            let meta = self.pending.remove(&p.pts).ok_or_else(|| {
                PipelineError::Invalid(format!("{}: libx264 returned an unknown frame {}", self.ctx, p.pts))
            })?;
            let data = avc::annexb_to_sample(&p.data, self.config)
                .map_err(|e| PipelineError::format(format!("{} frame at {}", self.ctx, meta.pts), e))?;
            let sync = avc::sample_is_idr(&data);
            if meta.boundary && !sync {
                return Err(PipelineError::Invalid(format!(
                    "{}: the frame at {} should start a fragment but libx264 did not make it an IDR",
                    self.ctx, meta.pts
                )));
            }
            // GOPs are closed, so a fragment's IDR comes out after every picture of the previous one.
            if meta.boundary {
                self.send()?;
            }
            self.fragment.push(Sample { pts: meta.pts, duration: meta.duration, sync, data });
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), PipelineError> {
        if self.fragment.is_empty() {
            return Ok(());
        }
        // A closed channel means the writer stopped on an error: that error is the one reported.
        self.coded.send(std::mem::take(&mut self.fragment)).map_err(|_| PipelineError::Cancelled)
    }
}

/// Takes the coded fragments from the lanes in fragment order and writes them.
struct TrackWriter<'a> {
    ctx: &'a str,
    fragmenter: Fragmenter,
    writer: Sink,
    events: Vec<FragmentEvent>,
}

impl TrackWriter<'_> {
    fn write(mut self, lanes: Vec<Receiver<Vec<Sample>>>) -> Result<(Sink, Vec<FragmentEvent>), PipelineError> {
        // Fragment k comes from lane k mod L; the first lane to run out has seen the last fragment.
        let mut next = 0;
        while let Ok(samples) = lanes[next % lanes.len()].recv() {
            next += 1;
            for sample in samples {
                if let Some(f) = self.fragmenter.push(sample).map_err(|e| PipelineError::format(self.ctx, e))? {
                    self.write_fragment(&f)?;
                }
            }
        }
        // Every other lane must be done too (a lane that stopped on an error is reported by itself).
        if lanes.iter().any(|lane| lane.recv().is_ok()) {
            return Err(PipelineError::Invalid(format!("{}: fragment {next} is missing", self.ctx)));
        }
        if let Some(f) = self.fragmenter.finish().map_err(|e| PipelineError::format(self.ctx, e))? {
            self.write_fragment(&f)?;
        }
        Ok((self.writer, self.events))
    }

    fn write_fragment(&mut self, fragment: &Fragment) -> Result<(), PipelineError> {
        let event = self.writer.write_fragment(fragment).map_err(|e| PipelineError::format(self.ctx, e))?;
        self.events.push(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::media::{x264::H264Settings, Ratio, VideoFrame};
    use crate::pipeline::report::Meter;

    #[derive(Default)]
    struct Count(Arc<AtomicU64>);

    impl Meter for Count {
        fn item(&self, _: i64) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn media(&self, _: i64) {}
        fn done(&self) {}
    }

    #[test]
    fn a_lane_counts_each_picture_as_libx264_takes_it() {
        crate::media::init().unwrap();
        let settings = H264Settings {
            width: 16,
            height: 16,
            bitrate: 100_000,
            preset: "ultrafast".into(),
            keyint: 100,
            frame_rate: Ratio::new(25, 1),
            vbv_init: 0.1,
            bt709: false,
        };
        let encoder = H264Encoder::open(&settings, "test").unwrap();
        let config = AvcConfig::from_extradata(encoder.extradata()).unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let bar = Bar::new(Box::new(Count(count.clone())));
        let (tx, rx) = unbounded();
        let (coded_tx, coded_rx) = unbounded();
        let budget = Budget::new(100);
        for i in 0..10 {
            let mut frame = VideoFrame::new(crate::media::scale::OUTPUT_FORMAT, 16, 16);
            for plane in 0..frame.planes() {
                frame.data_mut(plane).fill((i * 20) as u8);
            }
            assert!(budget.acquire());
            tx.send(Arc::new(SourceFrame { frame, pts: i * 400_000, duration: 400_000, boundary: i % 5 == 0 }))
                .unwrap();
        }
        drop(tx);
        lane(encoder, &config, "test", rx, coded_tx, &budget, &AtomicBool::new(false), &bar).unwrap();
        // The lane itself reported every picture (the writer, which gets whole fragments, does not).
        assert_eq!(count.load(Ordering::SeqCst), 10);
        assert_eq!(coded_rx.iter().map(|f| f.len()).collect::<Vec<_>>(), [5, 5]);
    }
}
