//! What the source's streams are, apart from decoding them: which video stream is packaged
//! (not cover art) and what it is ([`VideoInfo`]), the audio streams ([`AudioInfo`]) and how they
//! are chosen ([`SourceOptions`]), the streams that are not decoded ([`OtherStream`]), display rotation and
//! language tags.

use ff::format::stream::Disposition;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::filter::{Deinterlace, Dynamic, FieldOrder, VideoPlan};
use super::Ratio;

/// The chosen video stream, as the decoder reports it once opened.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    pub stream_index: usize,
    /// Decoder name, e.g. `h264`, `vp9`, `mpeg2video`.
    pub codec: String,
    /// Coded (storage) size, before the sample aspect ratio and rotation are applied.
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio, `None` when unknown or square.
    pub sample_aspect: Option<Ratio>,
    /// Clockwise rotation a player applies (0, 90, 180 or 270), from the display matrix.
    pub rotation: u32,
    pub time_base: Ratio,
    /// Average frame rate if the container knows it, else the real base frame rate.
    pub frame_rate: Option<Ratio>,
    /// Stream duration in seconds if known.
    pub duration: Option<f64>,
    /// Frame count if the container states it (MP4 does, TS doesn't).
    pub frames: Option<u64>,
    /// The field order the stream states.
    pub field_order: FieldOrder,
    pub dynamic: Dynamic,
    /// Bits per sample of the decoded pictures.
    pub bit_depth: u8,
    /// What the frames go through before scaling (deinterlace, tone map); `time_base` and
    /// `frame_rate` above are those of the frames out of it.
    pub plan: VideoPlan,
}

/// One audio stream of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    pub stream_index: usize,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// ISO 639-2/T language from the stream's metadata, `und` if absent.
    pub language: String,
    /// The stream's `title` tag, if any.
    pub title: Option<String>,
    pub time_base: Ratio,
}

/// How the source is opened: what its video goes through, which audio streams are decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOptions {
    pub deinterlace: Deinterlace,
    /// One picture per field when deinterlacing (`--deinterlace-rate field`).
    pub field_rate: bool,
    /// The audio streams to decode, by stream index, in this order; `None`: every one, in file order.
    pub audio: Option<Vec<usize>>,
}

/// A stream of the source that is not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherStream {
    pub stream_index: usize,
    /// `video`, `audio`, `subtitle`, `data`, `attachment` or `unknown`.
    pub kind: &'static str,
    /// Codec name (`mov_text`, `bin_data`, `ttf`…).
    pub codec: String,
    pub language: String,
    /// Cover art (an attached picture).
    pub cover_art: bool,
}

/// What an undecoded stream is.
pub(super) fn other_stream(stream: &ff::format::stream::Stream) -> OtherStream {
    let params = stream.parameters();
    let kind = match params.medium() {
        MediaType::Video => "video",
        MediaType::Audio => "audio",
        MediaType::Subtitle => "subtitle",
        MediaType::Data => "data",
        MediaType::Attachment => "attachment",
        _ => "unknown",
    };
    OtherStream {
        stream_index: stream.index(),
        kind,
        codec: ff::codec::decoder::find(params.id())
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| format!("{:?}", params.id()).to_lowercase()),
        language: stream.metadata().get("language").map(normalize_language).unwrap_or_else(|| "und".into()),
        cover_art: stream.disposition().contains(Disposition::ATTACHED_PIC),
    }
}

/// The best video stream that is not cover art.
pub(super) fn pick_video(ictx: &ff::format::context::Input) -> Option<usize> {
    let is_picture = |s: &ff::format::stream::Stream| s.disposition().contains(Disposition::ATTACHED_PIC);
    if let Some(best) = ictx.streams().best(MediaType::Video) {
        if !is_picture(&best) {
            return Some(best.index());
        }
    }
    ictx.streams().find(|s| s.parameters().medium() == MediaType::Video && !is_picture(s)).map(|s| s.index())
}

/// ISO 639-2/T as manifests want it (a bibliographic code such as `fre` becomes `fra`), else `und`.
pub(super) fn normalize_language(lang: &str) -> String {
    crate::format::language::iso639_2t(lang).unwrap_or_else(|| "und".to_string())
}

/// Clockwise display rotation from the stream's display matrix (the angle `ffmpeg -autorotate`
/// undoes), snapped to a multiple of 90 degrees.
pub(super) fn rotation(stream: &ff::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() == ff::codec::packet::side_data::Type::DisplayMatrix {
            if let Some(deg) = display_matrix_rotation(sd.data()) {
                return deg;
            }
        }
    }
    0
}

/// The rotation encoded by a 3×3 display matrix of 16.16 fixed-point `i32` (native endian), as
/// `-av_display_rotation_get()` computes it, snapped to 0/90/180/270.
pub fn display_matrix_rotation(data: &[u8]) -> Option<u32> {
    let m: Vec<f64> = data
        .chunks_exact(4)
        .take(9)
        .map(|c| f64::from(i32::from_ne_bytes([c[0], c[1], c[2], c[3]])) / 65536.0)
        .collect();
    if m.len() < 9 {
        return None;
    }
    let s0 = m[0].hypot(m[3]);
    let s1 = m[1].hypot(m[4]);
    if s0 == 0.0 || s1 == 0.0 {
        return None;
    }
    let theta = (m[1] / s1).atan2(m[0] / s0).to_degrees();
    let snapped = ((theta / 90.0).round() as i64).rem_euclid(4) as u32 * 90;
    Some(snapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(a: i32, b: i32, c: i32, d: i32) -> Vec<u8> {
        [a, b, 0, c, d, 0, 0, 0, 1 << 30].iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn rotation_from_display_matrix() {
        let one = 1 << 16;
        assert_eq!(display_matrix_rotation(&matrix(one, 0, 0, one)), Some(0));
        assert_eq!(display_matrix_rotation(&matrix(0, one, -one, 0)), Some(90));
        // What FFmpeg 5.1 writes for an MP4 `rotate=90` tag (ffprobe shows `rotation=90`):
        // `ffmpeg -autorotate` turns it with transpose=cclock, i.e. clockwise 270 (checked against
        // ffmpeg's own output in tests/package_generated.rs).
        assert_eq!(display_matrix_rotation(&matrix(0, -one, one, 0)), Some(270));
        assert_eq!(display_matrix_rotation(&matrix(-one, 0, 0, -one)), Some(180));
        assert_eq!(display_matrix_rotation(&[0; 8]), None);
    }

    #[test]
    fn languages() {
        assert_eq!(normalize_language("ENG"), "eng");
        assert_eq!(normalize_language("en"), "und");
        assert_eq!(normalize_language("fre"), "fra");
    }
}
