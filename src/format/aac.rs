//! AAC-LC for Smooth Streaming: the AudioSpecificConfig, `CodecPrivateData` and the `mp4a` entry.

use shiguredo_mp4::bitstream::aac::{self, Mp4aSampleEntryConfig};
use shiguredo_mp4::boxes::Mp4aBox;

use super::error::{FormatError, Result};

/// AAC samples per frame (AAC-LC, frameLengthFlag 0).
pub const FRAME_SAMPLES: u32 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// The AudioSpecificConfig bytes (`CodecPrivateData`, e.g. `1190` for 48 kHz stereo).
    pub asc: Vec<u8>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl AacConfig {
    /// Parses an AAC-LC AudioSpecificConfig and keeps its canonical 2-byte form.
    ///
    /// FFmpeg's native encoder appends an explicit "no SBR" sync extension (`…56E500`); that tail says
    /// nothing a player needs, so it is dropped here rather than refused.
    pub fn from_asc(asc: &[u8]) -> Result<Self> {
        let canonical = match asc {
            [b0, b1, ..] if b0 >> 3 == 2 && ((b0 & 7) << 1 | b1 >> 7) < 13 => vec![*b0, *b1 & 0xf8],
            _ => asc.to_vec(),
        };
        let parsed = aac::parse_audio_specific_config(&canonical)
            .map_err(|e| FormatError::invalid("AAC AudioSpecificConfig", e))?;
        Ok(AacConfig {
            asc: aac::encode_audio_specific_config(&parsed),
            sample_rate: parsed.sampling_frequency.hz(),
            channels: parsed.channel_configuration.channel_count(),
        })
    }

    /// The `mp4a` sample entry with its `esds`.
    pub fn mp4a_box(&self, bitrate: u32) -> Result<Mp4aBox> {
        let parsed = aac::parse_audio_specific_config(&self.asc)
            .map_err(|e| FormatError::invalid("AAC AudioSpecificConfig", e))?;
        let config = Mp4aSampleEntryConfig {
            es_id: 1,
            buffer_size_db: 6144 * u32::from(self.channels) / 8,
            max_bitrate: bitrate,
            avg_bitrate: bitrate,
        };
        aac::build_mp4a_box(&parsed, &config).map_err(|e| FormatError::invalid("mp4a sample entry", e))
    }

    /// Duration of one frame in [`super::TIMESCALE`] units, rounded down (use exact sample counts
    /// for timelines).
    pub fn frame_ticks(&self) -> u64 {
        u64::from(FRAME_SAMPLES) * super::TIMESCALE / u64::from(self.sample_rate.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_48k_stereo() {
        let c = AacConfig::from_asc(&[0x11, 0x90]).unwrap();
        assert_eq!((c.sample_rate, c.channels), (48000, 2));
        assert!(c.mp4a_box(128_000).is_ok());
        assert!(AacConfig::from_asc(&[0xff]).is_err());
        let ffmpeg = AacConfig::from_asc(&[0x11, 0x90, 0x56, 0xe5, 0x00]).unwrap();
        assert_eq!(ffmpeg.asc, vec![0x11, 0x90]);
        let mono = AacConfig::from_asc(&[0x12, 0x08]).unwrap();
        assert_eq!((mono.sample_rate, mono.channels), (44100, 1));
    }
}
