//! Codec configuration parsers: H.264 extradata (avcC record or Annex-B), AAC AudioSpecificConfig and
//! the NAL-type scan of a length-prefixed sample. The first byte picks the parser so one corpus
//! feeds all three.
//!
//! Properties: no panic; a parsed configuration re-serializes and parses back to itself
//! (`CodecPrivateData` is what players rebuild their decoder from). For H.264 that holds only for
//! NAL units Annex-B can carry: a NAL unit that ends in a zero byte (H.264 7.4.1 forbids it; the
//! Annex-B parser takes it for `trailing_zero_8bits`) or contains a start-code prefix (`00 00 00`,
//! `00 00 01`, `00 00 02`: missing emulation prevention) cannot round-trip and is skipped here.
//! Such NAL units come only from broken or hostile `avcC` records; see docs/fuzzing.md.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssfpack::format::aac::AacConfig;
use ssfpack::format::avc::{sample_is_idr, sample_nal_types, AvcConfig};

/// A NAL unit that survives Annex-B framing unchanged.
fn annexb_safe(nal: &[u8]) -> bool {
    nal.last().is_some_and(|&b| b != 0) && !nal.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 3 {
        0 => {
            if let Ok(c) = AvcConfig::from_extradata(rest) {
                let _ = c.codec_string();
                let _ = c.avc1_box();
                if !annexb_safe(&c.sps) || !annexb_safe(&c.pps) {
                    return;
                }
                let pd = c.annexb_private_data();
                let again = AvcConfig::from_private_data(&pd).expect("CodecPrivateData of a parsed config must parse");
                assert_eq!(again, c, "AvcConfig does not round-trip through CodecPrivateData");
            }
        }
        1 => {
            if let Ok(c) = AacConfig::from_asc(rest) {
                let _ = c.frame_ticks();
                let _ = c.mp4a_box(128_000);
                let again = AacConfig::from_asc(&c.asc).expect("a canonical ASC must parse");
                assert_eq!(again, c, "AacConfig does not round-trip through its canonical ASC");
            }
        }
        _ => {
            let types = sample_nal_types(rest);
            assert_eq!(sample_is_idr(rest), types.as_ref().is_some_and(|t| t.contains(&5)));
        }
    }
});
