//! The Smooth Streaming format layer: PIFF boxes, the fragment writer and reader, the `.ism`/`.ismc`
//! manifests and the rules that tie them together. It knows nothing of FFmpeg or HTTP, so it builds and
//! tests without either; `check`, `dump`, `serve`, the pipeline and (later) live ingest all stand on it.

pub mod aac;
pub mod avc;
pub mod bandwidth;
pub mod boxes;
pub mod check;
pub mod cmaf;
pub mod dash;
pub mod dump;
pub mod error;
pub mod fragmenter;
pub mod hls;
pub mod language;
pub mod live;
pub mod manifest;
pub mod presentation;
pub mod reader;
pub mod scan;
pub mod text;
pub mod ttml;
pub mod webvtt;
pub mod writer;

pub use error::FormatError;

/// Smooth Streaming's clock: 100 ns units, used by every track, manifest and URL ssfpack writes.
pub const TIMESCALE: u64 = 10_000_000;

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Video,
    Audio,
    Text,
}

impl TrackKind {
    /// The `StreamIndex` name and the key used in fragment URLs (`Fragments(video=…)`).
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
            TrackKind::Text => "text",
        }
    }
}

/// The codec configuration of a track: everything a player needs before the first sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecConfig {
    H264(avc::AvcConfig),
    Aac(aac::AacConfig),
    /// TTML in `stpp` (a text track: one document per fragment).
    Ttml(text::TextConfig),
}

impl CodecConfig {
    pub fn kind(&self) -> TrackKind {
        match self {
            CodecConfig::H264(_) => TrackKind::Video,
            CodecConfig::Aac(_) => TrackKind::Audio,
            CodecConfig::Ttml(_) => TrackKind::Text,
        }
    }

    /// `CodecPrivateData` as the client manifest carries it (upper-case hex).
    pub fn codec_private_data(&self) -> String {
        match self {
            CodecConfig::H264(c) => hex(&c.annexb_private_data()),
            CodecConfig::Aac(c) => hex(&c.asc),
            CodecConfig::Ttml(_) => String::new(),
        }
    }

    /// The manifest `FourCC`.
    pub fn fourcc(&self) -> &'static str {
        match self {
            CodecConfig::H264(_) => "H264",
            CodecConfig::Aac(_) => "AACL",
            CodecConfig::Ttml(_) => "TTML",
        }
    }
}

/// One track of one output file: its codec, bitrate and identity in the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// `trackID` in the file and in the server manifest.
    pub track_id: u32,
    pub codec: CodecConfig,
    /// Nominal bitrate in bits per second (`Bitrate` / `systemBitrate`).
    pub bitrate: u32,
    /// ISO 639-2 language code (`und` when unknown).
    pub language: String,
    /// The `StreamIndex` name, `video` or `audio` (or `audio_eng`… for several audio tracks).
    pub name: String,
}

impl TrackInfo {
    pub fn kind(&self) -> TrackKind {
        self.codec.kind()
    }
}

/// One encoded access unit, in decode order.
///
/// Times are in [`TIMESCALE`] units on the presentation timeline that starts at 0. The writer derives
/// decode times itself (see [`fragmenter`]), so encoders' decode timestamps are not needed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Presentation time.
    pub pts: i64,
    /// Duration in presentation order (used for the last sample of the track).
    pub duration: u32,
    /// An IDR picture (video) or any audio frame.
    pub sync: bool,
    /// For H.264: 4-byte length-prefixed NAL units. For AAC: one raw frame. For TTML: one
    /// UTF-8 document.
    pub data: Vec<u8>,
}

/// FNV-1a, 64 bits: a fixed, documented hash (std's `DefaultHasher` may change between Rust
/// releases). Used wherever a value must be the same across runs, builds and machines: batch
/// shards and locks, input fingerprints, ETags.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Upper-case hex, as manifests write binary data.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses hex in either case; `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x11, 0x90, 0xab]), "1190AB");
        assert_eq!(unhex("1190ab").unwrap(), vec![0x11, 0x90, 0xab]);
        assert!(unhex("119").is_none());
        assert!(unhex("zz").is_none());
    }
}
