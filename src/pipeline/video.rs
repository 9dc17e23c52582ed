//! The pictures of the job: scaler threads, one per distinct rung size, fed by the decode thread
//! or by a larger size (see [`scale_plan`]), linked to each other and to the rung encoders
//! ([`super::rung`]) by bounded channels that carry shared, reference-counted pictures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::media::scale::Scaler;
use crate::media::VideoFrame;

use super::error::PipelineError;

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

/// One distinct picture size of the ladder and where it is scaled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleNode {
    pub width: u32,
    pub height: u32,
    /// Clockwise rotation applied while scaling: the source's for nodes fed by the source, 0 for
    /// nodes fed by a larger (already upright) size.
    pub rotation: u32,
    /// The node this one scales from (always an earlier one), or `None` for the decoded source.
    pub parent: Option<usize>,
    /// Indexes of the rungs encoded at this size (rungs of the same size share their pictures).
    pub rungs: Vec<usize>,
}

/// Plans the scaling of the rungs (upright `width`×`height`, in ladder order) from a source that
/// needs `rotation`: one node per distinct size, largest first. A size is scaled from the smallest
/// larger size that is at least twice as wide and twice as high (the cost of a scale is that of its
/// input, so 720p→360p→180p costs about half of three scales from 1080p; after encoding, the SSIM
/// against a Lanczos reference changes by < 0.001, see docs/benchmarks.md), else from the source.
pub fn scale_plan(rungs: &[(u32, u32)], rotation: u32) -> Vec<ScaleNode> {
    let mut sizes: Vec<(u32, u32)> = Vec::new();
    for &r in rungs {
        if !sizes.contains(&r) {
            sizes.push(r);
        }
    }
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    sizes.sort_by_key(|&s| std::cmp::Reverse(area(s)));
    let mut nodes: Vec<ScaleNode> = Vec::new();
    for (w, h) in sizes {
        let parent = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.width >= 2 * w && n.height >= 2 * h)
            .min_by_key(|(_, n)| area((n.width, n.height)))
            .map(|(i, _)| i);
        nodes.push(ScaleNode {
            width: w,
            height: h,
            rotation: if parent.is_some() { 0 } else { rotation },
            parent,
            rungs: (0..rungs.len()).filter(|&i| rungs[i] == (w, h)).collect(),
        });
    }
    nodes
}

/// A scaler thread: scales every picture it receives to its node's size once and shares the result
/// with the rungs and the smaller sizes fed from it, until its input closes.
pub fn scale(
    node: &ScaleNode,
    context: &str,
    frames: Receiver<Arc<SourceFrame>>,
    outputs: Vec<Sender<Arc<SourceFrame>>>,
    cancel: &AtomicBool,
) -> Result<(), PipelineError> {
    let mut scaler = Scaler::new(node.width, node.height, node.rotation, context);
    for frame in frames {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        let picture = scaler.scale(&frame.frame)?;
        let scaled = Arc::new(SourceFrame {
            frame: picture,
            pts: frame.pts,
            duration: frame.duration,
            boundary: frame.boundary,
        });
        drop(frame);
        for tx in &outputs {
            // A closed channel means that consumer stopped on an error: it is the one reported.
            tx.send(Arc::clone(&scaled)).map_err(|_| PipelineError::Cancelled)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{scale_plan, ScaleNode};

    fn node(width: u32, height: u32, rotation: u32, parent: Option<usize>, rungs: &[usize]) -> ScaleNode {
        ScaleNode { width, height, rotation, parent, rungs: rungs.to_vec() }
    }

    #[test]
    fn sizes_scale_from_the_smallest_size_twice_as_large() {
        // azure-1080p: 8 rungs, 5 sizes; 720p from the source, 540p from 1080p, 360p from 720p, 180p from 360p.
        let rungs =
            [(1920, 1080), (1920, 1080), (1280, 720), (960, 540), (960, 540), (640, 360), (640, 360), (320, 180)];
        assert_eq!(
            scale_plan(&rungs, 90),
            vec![
                node(1920, 1080, 90, None, &[0, 1]),
                node(1280, 720, 90, None, &[2]),
                node(960, 540, 0, Some(0), &[3, 4]),
                node(640, 360, 0, Some(1), &[5, 6]),
                node(320, 180, 0, Some(3), &[7]),
            ]
        );
        // Not twice as large in both directions: from the source.
        assert_eq!(
            scale_plan(&[(1280, 720), (854, 480), (640, 480)], 0),
            vec![node(1280, 720, 0, None, &[0]), node(854, 480, 0, None, &[1]), node(640, 480, 0, None, &[2])]
        );
    }
}
