//! Container probing without decoding, for the `--copy` job: which streams a file has and in which
//! codecs, so that a file `--copy` cannot read gets an error that names what is in it.

use std::path::Path;

use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::MediaError;

/// One audio or video stream of a probed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedStream {
    /// `video` or `audio`.
    pub kind: &'static str,
    /// FFmpeg's codec name (`h264`, `hevc`, `vp9`, `aac`, `opus`…).
    pub codec: String,
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// FFmpeg's long container name (e.g. `Matroska / WebM`).
    pub container: String,
    pub streams: Vec<ProbedStream>,
}

/// Opens the container and lists its audio and video streams; no decoder is opened. FFmpeg's own
/// log is silenced: the caller turns a failure into its own message.
pub fn probe(path: &Path) -> Result<Probe, MediaError> {
    super::init()?;
    ff::util::log::set_level(ff::util::log::Level::Quiet);
    let ictx = ff::format::input(&path).map_err(|e| MediaError::ffmpeg(path.display().to_string(), e))?;
    let streams = ictx
        .streams()
        .filter_map(|s| {
            let p = s.parameters();
            let kind = match p.medium() {
                MediaType::Video => "video",
                MediaType::Audio => "audio",
                _ => return None,
            };
            let codec = ff::codec::decoder::find(p.id())
                .map(|c| c.name().to_string())
                .unwrap_or_else(|| format!("{:?}", p.id()).to_lowercase());
            Some(ProbedStream { kind, codec })
        })
        .collect();
    Ok(Probe { container: ictx.format().description().to_string(), streams })
}
