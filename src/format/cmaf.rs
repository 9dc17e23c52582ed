//! Smooth fragments as CMAF/DASH/HLS (fMP4) segments, and the init segments and codecs strings
//! those players need.
//!
//! A DASH or HLS segment is the Smooth fragment itself with what Smooth does not carry but MSE
//! players require: a `tfdt` (version 1, base media decode time = the fragment's Smooth `t`) in every
//! `traf`, `default-base-is-moof` with no explicit base offset, the `tfhd` track_ID of the init
//! segment, and the `trun` data offsets moved by the size the `moof` grew. `tfxd` stays. The init
//! segment is a CMAF `ftyp` and the presentation file's own `moov` (with `mvex`), cut to the one
//! track. Everything is decoded into the box structs and encoded again, in memory.

use shiguredo_mp4::boxes::{Brand, FtypBox, MoofBox, MoovBox, TfdtBox};

use super::avc::AvcConfig;
use super::boxes::{decode, encode};
use super::error::{FormatError, Result};

/// The codecs string of a DASH text track: TTML, IMSC1 text profile, in `stpp`.
pub const TEXT_CODECS: &str = "stpp.ttml.im1t";

/// The `ftyp` of an init segment: CMAF (`cmfc`) over ISO BMFF 6, also DASH.
pub fn init_ftyp() -> FtypBox {
    FtypBox {
        major_brand: Brand::new(*b"iso6"),
        minor_version: 0,
        compatible_brands: vec![
            Brand::new(*b"iso6"),
            Brand::new(*b"cmfc"),
            Brand::new(*b"iso5"),
            Brand::new(*b"dash"),
            Brand::new(*b"mp41"),
        ],
    }
}

/// The init segment of track `track_id` of `moov` (the `.ismv`'s own): `ftyp` + that `moov` with
/// only this track's `trak` and `trex`. `context` names the file in errors.
pub fn init_segment(moov: &MoovBox, track_id: u32, context: &str) -> Result<Vec<u8>> {
    let mut moov = moov.clone();
    moov.trak_boxes.retain(|t| t.tkhd_box.track_id == track_id);
    if moov.trak_boxes.is_empty() {
        return Err(FormatError::boxes(context, format!("moov has no track {track_id}")));
    }
    let mvex = moov
        .mvex_box
        .as_mut()
        .ok_or_else(|| FormatError::boxes(context, "moov has no mvex (not a fragmented file)"))?;
    mvex.trex_boxes.retain(|t| t.track_id == track_id);
    if mvex.trex_boxes.is_empty() {
        return Err(FormatError::boxes(context, format!("mvex has no trex for track {track_id}")));
    }
    let mut out = encode(&init_ftyp(), "ftyp")?;
    out.extend(encode(&moov, "moov")?);
    Ok(out)
}

/// A Smooth fragment (`moof` + `mdat`, as stored at `moof_offset` of its file) as a CMAF segment:
/// `tfdt` = `decode_time` (the track's media timescale) in every `traf`, `tfhd` track_ID
/// `track_id` with `default-base-is-moof`, data offsets recomputed. `context` names the fragment.
pub fn segment(fragment: &[u8], moof_offset: u64, track_id: u32, decode_time: u64, context: &str) -> Result<Vec<u8>> {
    let (mut moof, moof_len): (MoofBox, usize) = decode(fragment, context)?;
    if moof.traf_boxes.is_empty() {
        return Err(FormatError::boxes(context, "moof has no traf"));
    }
    // Where each trun's samples start, relative to the moof, before anything changes.
    let mut starts = Vec::new();
    for (i, traf) in moof.traf_boxes.iter().enumerate() {
        let base = match traf.tfhd_box.base_data_offset {
            Some(b) => i64::try_from(b).unwrap_or(i64::MAX) - i64::try_from(moof_offset).unwrap_or(i64::MAX),
            None if i == 0 || traf.tfhd_box.default_base_is_moof => 0,
            None => return Err(FormatError::boxes(context, "traf after the first without a base offset")),
        };
        for trun in &traf.trun_boxes {
            let d = trun.data_offset.ok_or_else(|| FormatError::boxes(context, "trun without a data offset"))?;
            starts.push(base + i64::from(d));
        }
    }
    for traf in &mut moof.traf_boxes {
        traf.tfhd_box.track_id = track_id;
        traf.tfhd_box.base_data_offset = None;
        traf.tfhd_box.default_base_is_moof = true;
        traf.tfdt_box = Some(TfdtBox { version: 1, base_media_decode_time: decode_time });
    }
    let grown = encode(&moof, context)?.len() as i64 - moof_len as i64;
    let mut starts = starts.into_iter();
    for trun in moof.traf_boxes.iter_mut().flat_map(|t| t.trun_boxes.iter_mut()) {
        let start = starts.next().unwrap_or_default() + grown;
        if start < 0 || start > fragment.len() as i64 + grown {
            return Err(FormatError::boxes(context, format!("trun data offset {start} is outside the fragment")));
        }
        trun.data_offset =
            Some(i32::try_from(start).map_err(|_| FormatError::boxes(context, "trun data offset overflows"))?);
    }
    let mut out = encode(&moof, context)?;
    out.extend_from_slice(&fragment[moof_len..]);
    Ok(out)
}

/// A Smooth text fragment (one TTML document per sample, times relative to the sample's start:
/// what dash.js's MSS code offsets by) as a DASH/CMAF `stpp` segment (ISO/IEC 14496-30: times on
/// the track's timeline, which dash.js and Shaka read with no offset for DASH). Every document is
/// parsed, its cues moved by the sample's start and written again from the model; the sizes
/// change, so the fragment is built anew by the writer and then given its `tfdt` by [`segment`].
/// `timescale` is the track's media timescale, `decode_time` the fragment's start in it.
pub fn text_segment(
    fragment: &[u8],
    moof_offset: u64,
    track_id: u32,
    timescale: u32,
    decode_time: u64,
    context: &str,
) -> Result<Vec<u8>> {
    use super::ttml::{Cue, Document};

    let mut samples = Vec::new();
    let mut end = decode_time;
    for s in text_samples(fragment, moof_offset, track_id, timescale, decode_time, context)? {
        let shift = s.start_ticks;
        let cues = s.doc.cues.into_iter().map(|c| Cue { begin: c.begin + shift, end: c.end + shift, ..c }).collect();
        let xml = Document { lang: s.doc.lang.unwrap_or_else(|| "und".into()), cues }.to_xml()?;
        let pts = i64::try_from(s.start).map_err(|_| FormatError::boxes(context, "decode time overflows"))?;
        samples.push(super::Sample { pts, duration: s.duration, sync: true, data: xml });
        end = s.start + u64::from(s.duration);
    }
    let track = super::TrackInfo {
        track_id,
        codec: super::CodecConfig::Ttml(super::text::TextConfig::default()),
        bitrate: 0,
        language: String::new(),
        name: String::new(),
    };
    let rebuilt = super::fragmenter::Fragment { start: decode_time, end, samples };
    let sequence = super::boxes::decode::<MoofBox>(fragment, context)?.0.mfhd_box.sequence_number;
    let bytes = super::writer::fragment_bytes(&track, &rebuilt, sequence)?;
    segment(&bytes, 0, track_id, decode_time, context)
}

/// One sample of a Smooth text fragment, parsed.
#[derive(Debug, Clone)]
pub struct TextSample {
    /// Its decode time, in the track's timescale.
    pub start: u64,
    /// Its start on the track's timeline, in [`super::TIMESCALE`] ticks.
    pub start_ticks: u64,
    pub duration: u32,
    /// Its TTML document; cue times relative to the sample's start.
    pub doc: super::ttml::Parsed,
}

/// The TTML documents of a Smooth text fragment (as stored at `moof_offset` of its file), with
/// where each sample starts. Shared by the DASH `stpp` and the HLS WebVTT forms.
pub fn text_samples(
    fragment: &[u8],
    moof_offset: u64,
    track_id: u32,
    timescale: u32,
    decode_time: u64,
    context: &str,
) -> Result<Vec<TextSample>> {
    use super::reader::MediaFile;
    use super::TIMESCALE;

    // Offsets made relative to the moof first, so the reader finds the samples in these bytes.
    let normal = segment(fragment, moof_offset, track_id, decode_time, context)?;
    let parsed = MediaFile::parse(std::io::Cursor::new(&normal), normal.len() as u64, context.as_ref())?;
    let record = match parsed.fragments.as_slice() {
        [one] => one,
        _ => return Err(FormatError::boxes(context, "a text segment holds one moof")),
    };
    let to_ticks = |t: u64| (u128::from(t) * u128::from(TIMESCALE) / u128::from(timescale.max(1))) as u64;
    let mut samples = Vec::with_capacity(record.samples.len());
    let mut at = decode_time;
    for (i, s) in record.samples.iter().enumerate() {
        let start = usize::try_from(s.offset).unwrap_or(usize::MAX);
        let data = start
            .checked_add(s.size as usize)
            .and_then(|end| normal.get(start..end))
            .ok_or_else(|| FormatError::boxes(context, format!("sample {i} is outside the fragment")))?;
        let doc = super::ttml::parse(data, &format!("{context}, sample {i}"))?;
        samples.push(TextSample { start: at, start_ticks: to_ticks(at), duration: s.duration, doc });
        at += u64::from(s.duration);
    }
    Ok(samples)
}

/// The RFC 6381 codecs string of a Smooth `QualityLevel`: `avc1.PPCCLL` from the SPS in its
/// `CodecPrivateData`, `mp4a.40.N` from the AudioSpecificConfig (N the audio object type;
/// `mp4a.40.2` when an AAC level carries no configuration). `None` for other codecs.
pub fn codecs(fourcc: &str, codec_private_data: &str) -> Option<String> {
    let data = super::unhex(codec_private_data).unwrap_or_default();
    match fourcc.to_ascii_uppercase().as_str() {
        "H264" | "AVC1" | "DAVC" => AvcConfig::from_private_data(&data).ok().map(|c| c.codec_string()),
        "AACL" | "AACH" | "MP4A" => Some(format!("mp4a.40.{}", audio_object_type(&data).unwrap_or(2))),
        // IMSC1 text profile in `stpp` (ISO/IEC 14496-30, W3C "Codecs parameter for TTML").
        "TTML" | "STPP" => Some(TEXT_CODECS.to_string()),
        _ => None,
    }
}

/// The audio object type of an AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1: 5 bits, 31 escapes
/// to 32 + 6 more bits).
fn audio_object_type(asc: &[u8]) -> Option<u8> {
    let first = *asc.first()? >> 3;
    if first != 31 {
        return (first != 0).then_some(first);
    }
    let next = ((asc.first()? & 7) << 3) | (asc.get(1)? >> 5);
    Some(32 + next)
}

/// Where a packaged presentation's segments and playlists are, as templates with `{name}` (the
/// Smooth stream name), `{bitrate}` and `{time}` (the Smooth `t`) placeholders. The origin answers
/// Azure-style URLs; the static layout writes files under `cmaf/` that DASH and HLS share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// A DASH segment, relative to the MPD.
    pub dash_segment: String,
    /// A DASH init segment, relative to the MPD.
    pub dash_init: String,
    /// An HLS media playlist, relative to the master playlist.
    pub playlist: String,
    /// An HLS segment, relative to its media playlist.
    pub hls_segment: String,
    /// An HLS WebVTT segment of a text track, relative to its media playlist.
    pub hls_text_segment: String,
    /// An HLS init segment (`EXT-X-MAP`), relative to its media playlist.
    pub hls_init: String,
}

impl Naming {
    /// The origin's URLs for `format` (`mpd-time-csf`, `m3u8-cmaf`, …).
    pub fn origin(format: &str) -> Self {
        Naming {
            dash_segment: format!("QualityLevels({{bitrate}})/Fragments({{name}}={{time}},format={format})"),
            dash_init: format!("QualityLevels({{bitrate}})/Fragments({{name}}=i,format={format})"),
            playlist: format!("QualityLevels({{bitrate}})/Manifest({{name}},format={format})"),
            hls_segment: format!("Fragments({{name}}={{time}},format={format})"),
            hls_text_segment: format!("Fragments({{name}}={{time}},format={format})"),
            hls_init: format!("Fragments({{name}}=i,format={format})"),
        }
    }

    /// The static layout's files (`--layout dash,hls`): one folder per rung under `cmaf/`, holding
    /// `init.mp4`, `T.m4s` per fragment and the HLS media playlist `index.m3u8` (a text track's
    /// folder: `T.m4s` for DASH, `T.vtt` for HLS).
    pub fn static_files() -> Self {
        Naming {
            dash_segment: "cmaf/{name}_{bitrate}/{time}.m4s".into(),
            dash_init: "cmaf/{name}_{bitrate}/init.mp4".into(),
            playlist: "cmaf/{name}_{bitrate}/index.m3u8".into(),
            hls_segment: "{time}.m4s".into(),
            hls_text_segment: "{time}.vtt".into(),
            hls_init: "init.mp4".into(),
        }
    }

    /// The static layout's HLS MPEG-TS files (`--layout hls-ts`): one folder per rung under `ts/`,
    /// holding `T.ts` (or a text track's `T.vtt`) per fragment and the media playlist `index.m3u8`.
    pub fn static_ts_files() -> Self {
        Naming {
            dash_segment: String::new(),
            dash_init: String::new(),
            playlist: "ts/{name}_{bitrate}/index.m3u8".into(),
            hls_segment: "{time}.ts".into(),
            hls_text_segment: "{time}.vtt".into(),
            hls_init: String::new(),
        }
    }

    /// `template` with its placeholders filled.
    pub fn fill(template: &str, name: &str, bitrate: &str, time: &str) -> String {
        template.replace("{name}", name).replace("{bitrate}", bitrate).replace("{time}", time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::aac::AacConfig;
    use crate::format::fragmenter::Fragment;
    use crate::format::reader::MediaFile;
    use crate::format::writer::{fragment_bytes, moov};
    use crate::format::{CodecConfig, Sample, TrackInfo};

    fn track() -> TrackInfo {
        TrackInfo {
            track_id: 3,
            codec: CodecConfig::Aac(AacConfig::from_asc(&[0x11, 0x90]).unwrap()),
            bitrate: 128_000,
            language: "und".into(),
            name: "audio".into(),
        }
    }

    #[test]
    fn tfdt_is_added_and_samples_still_resolve() {
        let samples = vec![
            Sample { pts: 20_000_000, duration: 100, sync: true, data: vec![1, 2, 3] },
            Sample { pts: 20_000_100, duration: 100, sync: true, data: vec![4, 5] },
        ];
        let frag = fragment_bytes(&track(), &Fragment { start: 20_000_000, end: 20_000_200, samples }, 7).unwrap();
        let seg = segment(&frag, 1234, 3, 20_000_000, "t").unwrap();
        let parsed = MediaFile::parse(std::io::Cursor::new(&seg), seg.len() as u64, "t".as_ref()).unwrap();
        let f = &parsed.fragments[0];
        assert_eq!(f.tfdt, Some(20_000_000));
        assert_eq!(f.tfxd.map(|x| x.time), Some(20_000_000), "tfxd stays");
        let s = f.samples[1];
        assert_eq!(&seg[s.offset as usize..s.offset as usize + 2], &[4, 5]);
        let (moof, _): (MoofBox, usize) = decode(&seg, "t").unwrap();
        assert!(moof.traf_boxes[0].tfhd_box.default_base_is_moof);
        assert_eq!(moof.traf_boxes[0].tfdt_box.as_ref().map(|t| t.version), Some(1));
        // A segment made again from a segment is the same (the tfdt is replaced, not added).
        assert_eq!(segment(&seg, 0, 3, 20_000_000, "t").unwrap(), seg);
    }

    #[test]
    fn text_segments_get_track_timeline_times() {
        use crate::format::ttml::{parse, Cue, Document, Placement, Span, Style};
        let cue = |b, e, t: &str| Cue {
            begin: b,
            end: e,
            lines: vec![vec![Span { text: t.into(), style: Style::default() }]],
            placement: Placement::default(),
        };
        let doc = Document { lang: "en".into(), cues: vec![cue(5_000_000, 15_000_000, "a & b")] }.to_xml().unwrap();
        let text = TrackInfo {
            track_id: 2,
            codec: CodecConfig::Ttml(crate::format::text::TextConfig::default()),
            bitrate: 1000,
            language: "en".into(),
            name: "text_en".into(),
        };
        let samples = vec![Sample { pts: 20_000_000, duration: 20_000_000, sync: true, data: doc }];
        let frag = fragment_bytes(&text, &Fragment { start: 20_000_000, end: 40_000_000, samples }, 9).unwrap();
        let seg = text_segment(&frag, 0, 2, 10_000_000, 20_000_000, "t").unwrap();
        let parsed = MediaFile::parse(std::io::Cursor::new(&seg), seg.len() as u64, "t".as_ref()).unwrap();
        let f = &parsed.fragments[0];
        assert_eq!((f.tfdt, f.samples.len(), f.samples[0].duration), (Some(20_000_000), 1, 20_000_000));
        let s = f.samples[0];
        let back = parse(&seg[s.offset as usize..s.offset as usize + s.size as usize], "t").unwrap();
        assert_eq!(back.cues, vec![cue(25_000_000, 35_000_000, "a & b")], "shifted by the fragment start");
        assert_eq!(back.lang.as_deref(), Some("en"));
        assert!(text_segment(&seg[..seg.len() - 3], 0, 2, 10_000_000, 20_000_000, "t").is_err(), "cut short");
    }

    #[test]
    fn init_keeps_one_track() {
        let m = moov(&track()).unwrap();
        let init = init_segment(&m, 3, "t").unwrap();
        assert_eq!(&init[4..8], b"ftyp");
        assert!(init_segment(&m, 4, "t").is_err());
    }

    #[test]
    fn codecs_strings() {
        assert_eq!(codecs("AACL", "1190").as_deref(), Some("mp4a.40.2"));
        assert_eq!(codecs("AACL", "").as_deref(), Some("mp4a.40.2"));
        assert_eq!(codecs("AACH", "2B920800").as_deref(), Some("mp4a.40.5"));
        assert_eq!(audio_object_type(&[0xF8, 0x20]), Some(33));
        let sps = [
            0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
            0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60,
        ];
        let c = crate::format::avc::AvcConfig::new(sps.to_vec(), vec![0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0]).unwrap();
        assert_eq!(codecs("H264", &crate::format::hex(&c.annexb_private_data())).as_deref(), Some("avc1.64000D"));
        assert_eq!(codecs("WVC1", "00"), None);
    }
}
