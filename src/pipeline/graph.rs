//! The encode graph of the main job and of `ssfpack push`: the decode thread, the scalers, one
//! encoder per video rung and one worker per audio track (see the [module doc](super)).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Sender};

use super::report::{Bar, Collecting, Report};
use super::{
    audio, cancel_on_error, decode, estimated_frames, rung, stop, stream, video, DecodeStats, Fanout, PipelineError,
};
use super::{AUDIO_QUEUE, VIDEO_QUEUE};
use crate::format::presentation::TrackOutput;
use crate::media::input::{AudioInfo, Source, VideoInfo};

/// What the encode graph shares with its caller.
pub(super) struct Graph<'a> {
    pub video_info: Option<&'a VideoInfo>,
    pub audio_infos: &'a [AudioInfo],
    pub fragment: u64,
    pub signal: &'a AtomicUsize,
    /// Real-time pacing and an end-of-input request (`ssfpack push`).
    pub pace: Option<&'a stream::Pace<'a>>,
}

type GraphResults = (Result<DecodeStats, PipelineError>, Vec<Result<TrackOutput, PipelineError>>);

/// Runs the decode thread, the scalers, the rung encoders and the audio workers to the end of the
/// source (or the first error); returns the decode's outcome and every worker's.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    source: &mut Source,
    graph: &Graph,
    plan: &[video::ScaleNode],
    rung_jobs: Vec<rung::RungJob>,
    audio_jobs: Vec<audio::AudioJob>,
    cancel: &AtomicBool,
    overall: &Bar,
    report: &Collecting,
) -> GraphResults {
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        // Encoders first, then the scaler threads that feed them (see `video::scale_plan`); each
        // sender is moved to exactly one producer, so every channel closes when its producer ends.
        let mut rung_txs = Vec::new();
        for job in rung_jobs {
            let (tx, rx) = bounded(VIDEO_QUEUE);
            let total = graph.video_info.and_then(estimated_frames);
            let bar = Bar::new(report.meter(Some(&job.file), total));
            let label = job.file.clone();
            handles.push((label, scope.spawn(move || cancel_on_error(cancel, rung::run(job, rx, cancel, bar)))));
            rung_txs.push(Some(tx));
        }
        let (mut node_txs, mut node_rxs): (Vec<_>, Vec<_>) =
            plan.iter().map(|_| bounded(VIDEO_QUEUE)).map(|(tx, rx)| (Some(tx), Some(rx))).unzip();
        let mut outputs: Vec<Vec<Sender<Arc<video::SourceFrame>>>> = plan.iter().map(|_| Vec::new()).collect();
        let mut video_txs = Vec::new();
        for (i, node) in plan.iter().enumerate() {
            outputs[i].extend(node.rungs.iter().filter_map(|&r| rung_txs.get_mut(r).and_then(Option::take)));
            let tx = node_txs[i].take();
            match node.parent {
                Some(p) => outputs[p].extend(tx),
                None => video_txs.extend(tx),
            }
        }
        let mut scalers = Vec::new();
        for ((i, node), outs) in plan.iter().enumerate().zip(outputs) {
            let Some(rx) = node_rxs[i].take() else { continue };
            let label = format!("scaler {}x{}", node.width, node.height);
            scalers.push((
                label.clone(),
                scope.spawn(move || cancel_on_error(cancel, video::scale(node, &label, rx, outs, cancel))),
            ));
        }
        let mut audio_txs = Vec::new();
        for job in audio_jobs {
            let (tx, rx) = bounded(AUDIO_QUEUE);
            let total = source.duration().map(|d| (d * f64::from(job.settings.sample_rate) / 1024.0).ceil() as u64);
            let bar = Bar::new(report.meter(Some(&job.file), total));
            let label = job.file.clone();
            handles
                .push((label, scope.spawn(move || cancel_on_error(cancel, audio::run(job, rx, cancel, bar, report)))));
            audio_txs.push(tx);
        }
        let stop = stop::Stop { cancel, signal: graph.signal };
        let fan = Fanout { video: video_txs, audio: audio_txs, stop, pace: graph.pace };
        let decoded = decode(source, graph.video_info, graph.audio_infos, graph.fragment, fan, overall, report);
        if decoded.is_err() {
            cancel.store(true, Ordering::SeqCst);
        }
        let mut results: Vec<Result<TrackOutput, PipelineError>> =
            handles.into_iter().map(|(label, h)| h.join().unwrap_or(Err(PipelineError::Panicked(label)))).collect();
        for (label, h) in scalers {
            if let Err(e) = h.join().unwrap_or(Err(PipelineError::Panicked(label))) {
                results.push(Err(e));
            }
        }
        (decoded, results)
    })
}
