//! H.264 for Smooth Streaming: the codec configuration (SPS/PPS), `CodecPrivateData`, the `avc1`
//! sample entry, and Annex-B → 4-byte length-prefixed (AVCC) sample conversion.

use shiguredo_mp4::bitstream::h264::{self, H264NalUnitType, H264SampleEntryConfig, LengthSize};
use shiguredo_mp4::boxes::Avc1Box;

use super::error::{FormatError, Result};

/// One SPS and one PPS, with the picture size the SPS declares (after cropping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// The SPS NAL unit (header byte included, no start code).
    pub sps: Vec<u8>,
    /// The PPS NAL unit.
    pub pps: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Display size (`DisplayWidth`/`DisplayHeight`); differs from the coded size for non-square pixels.
    pub display_width: u32,
    pub display_height: u32,
    /// profile_idc, constraint flags, level_idc (the `avc1.PPCCLL` codec string).
    pub profile: [u8; 3],
}

impl AvcConfig {
    /// Builds the configuration from one SPS and one PPS NAL unit.
    pub fn new(sps: Vec<u8>, pps: Vec<u8>) -> Result<Self> {
        let parsed = h264::parse_sps(&sps).map_err(|e| FormatError::invalid("H.264 SPS", e))?;
        // nal_unit_type 8 with forbidden_zero_bit clear: a PPS whose forbidden bit is set would be
        // written into CodecPrivateData that no H.264 parser (ours included) accepts.
        if pps.first().map(|b| b & 0x9f) != Some(8) {
            return Err(FormatError::invalid("H.264 PPS", "not a PPS NAL unit"));
        }
        let (width, height) = (u32::from(parsed.width), u32::from(parsed.height));
        Ok(AvcConfig {
            profile: [sps[1], sps[2], sps[3]],
            sps,
            pps,
            width,
            height,
            display_width: width,
            display_height: height,
        })
    }

    /// From codec extradata: an `avcC` record (as MP4/MKV carry it) or Annex-B SPS+PPS (as x264 emits
    /// with a global header off, or TS streams carry).
    pub fn from_extradata(extradata: &[u8]) -> Result<Self> {
        if extradata.first() == Some(&1) {
            return Self::from_avcc_record(extradata);
        }
        let nals = h264::parse_annexb_nal_units(extradata).map_err(|e| FormatError::invalid("H.264 extradata", e))?;
        let find = |t| {
            nals.iter()
                .find(|n| n.nal_unit_type == t)
                .map(|n| n.data.to_vec())
                .ok_or_else(|| FormatError::invalid("H.264 extradata", format!("no {t:?} NAL unit")))
        };
        Self::new(find(H264NalUnitType::Sps)?, find(H264NalUnitType::Pps)?)
    }

    fn from_avcc_record(rec: &[u8]) -> Result<Self> {
        let bad = || FormatError::invalid("H.264 avcC record", "truncated");
        let mut pos = 5;
        let nsps = usize::from(*rec.get(pos).ok_or_else(bad)? & 0x1f);
        pos += 1;
        let read = |pos: &mut usize| -> Result<Vec<u8>> {
            let len =
                usize::from(u16::from_be_bytes([*rec.get(*pos).ok_or_else(bad)?, *rec.get(*pos + 1).ok_or_else(bad)?]));
            let nal = rec.get(*pos + 2..*pos + 2 + len).ok_or_else(bad)?.to_vec();
            *pos += 2 + len;
            Ok(nal)
        };
        let mut sps = None;
        for _ in 0..nsps {
            let nal = read(&mut pos)?;
            sps.get_or_insert(nal);
        }
        let npps = usize::from(*rec.get(pos).ok_or_else(bad)?);
        pos += 1;
        let mut pps = None;
        for _ in 0..npps {
            let nal = read(&mut pos)?;
            pps.get_or_insert(nal);
        }
        match (sps, pps) {
            (Some(s), Some(p)) => Self::new(s, p),
            _ => Err(FormatError::invalid("H.264 avcC record", "no SPS or no PPS")),
        }
    }

    /// `00000001 SPS 00000001 PPS`: what players split to build their init segment.
    pub fn annexb_private_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.sps.len() + self.pps.len());
        for nal in [&self.sps, &self.pps] {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
        out
    }

    /// Parses `CodecPrivateData` bytes (Annex-B SPS+PPS) back into a configuration.
    pub fn from_private_data(data: &[u8]) -> Result<Self> {
        Self::from_extradata(data)
    }

    /// The `avc1` sample entry with its `avcC`, 4-byte NAL lengths.
    pub fn avc1_box(&self) -> Result<Avc1Box> {
        let config = H264SampleEntryConfig { length_size: LengthSize::FourBytes };
        h264::build_avc1_box(std::slice::from_ref(&self.sps), std::slice::from_ref(&self.pps), &config)
            .map_err(|e| FormatError::invalid("avc1 sample entry", e))
    }

    /// The RFC 6381 codec string, e.g. `avc1.64001F`.
    pub fn codec_string(&self) -> String {
        format!("avc1.{}", super::hex(&self.profile))
    }
}

/// Converts one Annex-B access unit into 4-byte length-prefixed NAL units, dropping access unit
/// delimiters and any in-band SPS/PPS identical to the configuration (players take those from
/// `CodecPrivateData`). A differing in-band SPS/PPS is an error: Smooth Streaming cannot signal it.
pub fn annexb_to_sample(au: &[u8], config: &AvcConfig) -> Result<Vec<u8>> {
    let nals = h264::parse_annexb_nal_units(au).map_err(|e| FormatError::invalid("H.264 sample", e))?;
    let mut out = Vec::with_capacity(au.len() + 4);
    for nal in nals {
        match nal.nal_unit_type {
            H264NalUnitType::Aud => continue,
            H264NalUnitType::Sps | H264NalUnitType::Pps => {
                if nal.data == config.sps.as_slice() || nal.data == config.pps.as_slice() {
                    continue;
                }
                return Err(FormatError::invalid(
                    "H.264 sample",
                    "in-band SPS/PPS differs from the track's configuration",
                ));
            }
            _ => {}
        }
        push_nal(&mut out, nal.data)?;
    }
    Ok(out)
}

fn push_nal(out: &mut Vec<u8>, nal: &[u8]) -> Result<()> {
    let len = u32::try_from(nal.len()).map_err(|_| FormatError::invalid("H.264 sample", "NAL unit over 4 GiB"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
    Ok(())
}

/// The NAL unit types of a 4-byte length-prefixed sample, in order; `None` if the lengths overrun.
pub fn sample_nal_types(sample: &[u8]) -> Option<Vec<u8>> {
    let mut types = Vec::new();
    let mut pos = 0usize;
    while pos < sample.len() {
        let len = u32::from_be_bytes(sample.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let nal = sample.get(pos + 4..pos.checked_add(4)?.checked_add(len)?)?;
        types.push(nal.first()? & 0x1f);
        pos += 4 + len;
    }
    Some(types)
}

/// True when a length-prefixed sample contains an IDR slice (NAL type 5).
pub fn sample_is_idr(sample: &[u8]) -> bool {
    sample_nal_types(sample).is_some_and(|t| t.contains(&5))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A real x264 SPS/PPS for 320x240 High profile (from `ffmpeg -f lavfi -i testsrc2=s=320x240 -c:v libx264`).
    pub const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
        0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60,
    ];
    pub const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    #[test]
    fn config_from_sps_pps() {
        let c = AvcConfig::new(SPS.to_vec(), PPS.to_vec()).unwrap();
        assert_eq!((c.width, c.height), (320, 240));
        assert_eq!(c.codec_string(), "avc1.64000D");
        let pd = c.annexb_private_data();
        assert_eq!(&pd[..4], &[0, 0, 0, 1]);
        assert_eq!(AvcConfig::from_private_data(&pd).unwrap(), c);
    }

    #[test]
    fn annexb_sample_drops_parameter_sets_and_aud() {
        let c = AvcConfig::new(SPS.to_vec(), PPS.to_vec()).unwrap();
        let mut au = vec![0, 0, 0, 1, 0x09, 0xf0];
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(SPS);
        au.extend_from_slice(&[0, 0, 1]);
        au.extend_from_slice(PPS);
        au.extend_from_slice(&[0, 0, 1, 0x65, 0x88, 0x84, 0x21]);
        let s = annexb_to_sample(&au, &c).unwrap();
        assert_eq!(s, vec![0, 0, 0, 4, 0x65, 0x88, 0x84, 0x21]);
        assert!(sample_is_idr(&s));
        assert_eq!(sample_nal_types(&[0, 0, 0, 9, 1]), None);
    }

    #[test]
    fn pps_with_forbidden_bit_is_refused() {
        // Found by fuzz/fuzz_targets/codec_config.rs: an avcC whose PPS starts 0xE8 (type 8, forbidden
        // bit set) was accepted, and its CodecPrivateData then failed to parse.
        assert!(AvcConfig::new(SPS.to_vec(), vec![0xe8, 0xeb, 0xe3]).is_err());
        let mut pd = AvcConfig::new(SPS.to_vec(), PPS.to_vec()).unwrap().annexb_private_data();
        let at = pd.len() - PPS.len();
        pd[at] |= 0x80;
        assert!(AvcConfig::from_extradata(&pd).is_err());
    }
}
