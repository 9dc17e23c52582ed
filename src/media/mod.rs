//! The FFmpeg boundary: open and decode the source, scale frames, encode H.264 (libx264) and AAC.
//! The only module that touches `ffmpeg-next`, and the only one allowed `unsafe` (each block says why
//! it is sound in a `// SAFETY:` comment). Everything above it sees plain Rust types and typed errors.

pub mod aac;
pub mod demux;
mod error;
pub mod input;
pub mod scale;
pub mod x264;

pub use error::MediaError;

/// Re-exported so the pipeline can name frames without depending on `ffmpeg-next` itself.
pub use ffmpeg_next::frame::{Audio as AudioFrame, Video as VideoFrame};

/// Initialises FFmpeg once and quiets its logging (errors only: warnings about the source would
/// otherwise interleave with the progress bars).
pub fn init() -> Result<(), MediaError> {
    ffmpeg_next::init().map_err(|e| MediaError::ffmpeg("FFmpeg initialisation", e))?;
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Error);
    Ok(())
}

/// One compressed packet from an encoder, with its presentation time in the encoder's time base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    pub pts: i64,
    pub key: bool,
    pub data: Vec<u8>,
}

/// An exact rational (time bases, frame rates, aspect ratios) without FFmpeg types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: i64,
    pub den: i64,
}

impl Ratio {
    pub fn new(num: i64, den: i64) -> Self {
        Ratio { num, den }
    }

    /// `None` when zero, negative or undefined (FFmpeg's 0/0 and 0/1 for "unknown").
    pub fn positive(self) -> Option<Self> {
        (self.num > 0 && self.den > 0).then_some(self)
    }
}

impl From<ffmpeg_next::Rational> for Ratio {
    fn from(r: ffmpeg_next::Rational) -> Self {
        Ratio::new(i64::from(r.numerator()), i64::from(r.denominator()))
    }
}
