//! Where a track's fragments go: its file in the presentation folder (the main job), or a live
//! output (`ssfpack push`) that posts them to publishing points. The rung and audio workers write
//! through a [`Sink`] and do not know which.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use crate::format::fragmenter::Fragment;
use crate::format::writer::{FragmentEvent, IsmvWriter};
use crate::format::{FormatError, TrackInfo};

use super::error::PipelineError;

/// One track of a live output: takes the track's fragments in order. Dropping it ends the track.
pub trait LiveTrack: Send {
    /// Sends fragment number `sequence` (from 1); returns its size in bytes (`moof`+`mdat`).
    fn fragment(&mut self, fragment: &Fragment, sequence: u32) -> Result<u64, FormatError>;
}

/// A live output: opens one [`LiveTrack`] per track once the track's codec is known.
pub trait LiveOutput: Send + Sync {
    /// How many tracks the job will open (called once, before any).
    fn expect(&self, tracks: usize);
    fn track(&self, info: &TrackInfo) -> Box<dyn LiveTrack>;
}

/// The live output a job's tracks go to (`None`: files).
pub type Live = Option<Arc<dyn LiveOutput>>;

/// A track's fragments on their way out.
pub enum Sink {
    File(IsmvWriter<BufWriter<File>>),
    Live { track: Box<dyn LiveTrack>, info: TrackInfo, sequence: u32, offset: u64 },
}

impl Sink {
    /// The file at `path` (created), or the track of `live`.
    pub fn open(live: &Live, path: &Path, info: TrackInfo, ctx: &str) -> Result<Self, PipelineError> {
        match live {
            Some(out) => Ok(Sink::Live { track: out.track(&info), info, sequence: 0, offset: 0 }),
            None => {
                let file = File::create(path).map_err(|e| PipelineError::io(path, e))?;
                let w = IsmvWriter::new(BufWriter::new(file), info).map_err(|e| PipelineError::format(ctx, e))?;
                Ok(Sink::File(w))
            }
        }
    }

    pub fn write_fragment(&mut self, fragment: &Fragment) -> Result<FragmentEvent, FormatError> {
        match self {
            Sink::File(w) => w.write_fragment(fragment),
            Sink::Live { track, info, sequence, offset } => {
                let size = track.fragment(fragment, *sequence + 1)?;
                let event = FragmentEvent {
                    track_id: info.track_id,
                    index: *sequence,
                    time: fragment.start,
                    duration: fragment.end - fragment.start,
                    offset: *offset,
                    size,
                    samples: fragment.samples.len() as u32,
                };
                *sequence += 1;
                *offset += size;
                Ok(event)
            }
        }
    }

    /// Finishes the file (`mfra`, synced) or ends the live track.
    pub fn close(self, path: &Path, ctx: &str) -> Result<(), PipelineError> {
        match self {
            Sink::File(w) => super::output::close_track(w, path, ctx),
            Sink::Live { .. } => Ok(()),
        }
    }
}
