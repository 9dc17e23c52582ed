//! Reads an MP4/MOV file's sample tables directly (no FFmpeg): the H.264 and AAC tracks, their codec
//! configurations, and every sample's presentation time (100 ns ticks, edit list applied), sync flag
//! and byte range. Sample bytes are read later, fragment by fragment, with positioned reads.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use shiguredo_mp4::aux::SampleTableAccessor;
use shiguredo_mp4::boxes::{HdlrBox, MoovBox, SampleEntry, TrakBox};
use shiguredo_mp4::{BaseBox, BoxType};

use super::CopyError;
use crate::format::aac::AacConfig;
use crate::format::avc::AvcConfig;
use crate::format::boxes::{decode, read_span};
use crate::format::{CodecConfig, TrackKind, TIMESCALE};

/// Largest `moov` loaded into memory (a hostile size must not exhaust memory).
const MAX_MOOV: u64 = 512 << 20;
/// Largest sample accepted (a 4K intra frame is a few MB; a hostile `stsz` must not exhaust memory).
const MAX_SAMPLE: u32 = 256 << 20;

/// One sample of a source track: where its bytes are and when it is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSample {
    /// Presentation time in [`TIMESCALE`] units, edit list applied (may be negative: AAC priming).
    pub pts: i64,
    /// Duration in [`TIMESCALE`] units.
    pub duration: u32,
    pub sync: bool,
    pub offset: u64,
    pub size: u32,
}

/// One H.264 or AAC track of a source file, samples in decode order.
#[derive(Debug, Clone)]
pub struct SourceTrack {
    pub path: PathBuf,
    pub track_id: u32,
    pub codec: CodecConfig,
    pub language: String,
    /// NAL unit length field size of H.264 samples (1, 2 or 4); 4 for audio.
    pub nal_length_size: u8,
    pub samples: Vec<SourceSample>,
}

impl SourceTrack {
    pub fn kind(&self) -> TrackKind {
        self.codec.kind()
    }

    /// Total sample bytes.
    pub fn bytes(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.size)).sum()
    }

    /// `[first presentation time, last presentation end)` in ticks.
    pub fn span(&self) -> (i64, i64) {
        let start = self.samples.iter().map(|s| s.pts).min().unwrap_or(0);
        let end = self.samples.iter().map(|s| s.pts + i64::from(s.duration)).max().unwrap_or(start);
        (start, end)
    }

    /// `file track N (video)`, for messages.
    pub fn label(&self) -> String {
        format!("{} track {} ({})", self.path.display(), self.track_id, self.kind().name())
    }
}

/// The H.264 and AAC tracks of one file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub video: Vec<SourceTrack>,
    pub audio: Vec<SourceTrack>,
    /// Subtitle/text tracks (handler `sbtl`, `text` or `subt`): track id and language. `--copy`
    /// does not carry them (one note each).
    pub text: Vec<(u32, String)>,
}

/// Opens an MP4/MOV file and reads its `moov`. Tracks other than video and audio (subtitles, data,
/// chapters) are ignored; a video or audio track that is not H.264 or AAC is an error.
pub fn open(path: &Path) -> Result<SourceFile, CopyError> {
    let io = |e| CopyError::Io { path: path.to_path_buf(), source: e };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut r = BufReader::with_capacity(64 * 1024, file);
    if !looks_like_mp4(&mut r).map_err(io)? {
        return Err(super::not_mp4(path));
    }
    let ctx = path.display().to_string();
    let mut offset = 0;
    let mut moov = None;
    while let Some(span) = read_span(&mut r, offset, len, &ctx)? {
        match span.box_type {
            BoxType::Normal(t) if &t == b"moov" => {
                if span.size > MAX_MOOV {
                    return Err(CopyError::input(path, format!("moov box of {} bytes is too large", span.size)));
                }
                let mut buf = vec![0u8; span.size as usize];
                r.seek(SeekFrom::Start(span.offset)).map_err(io)?;
                r.read_exact(&mut buf).map_err(io)?;
                moov = Some(decode::<MoovBox>(&buf, &format!("{ctx}: moov"))?.0);
            }
            BoxType::Normal(t) if &t == b"moof" => {
                return Err(CopyError::unsupported(
                    path,
                    "is a fragmented MP4 (moof boxes); --copy reads progressive MP4/MOV files",
                ));
            }
            _ => {}
        }
        offset = span.offset + span.size;
    }
    let moov = moov.ok_or_else(|| CopyError::input(path, "no moov box"))?;
    let movie_timescale = u64::from(moov.mvhd_box.timescale.get());
    let mut out = SourceFile { path: path.to_path_buf(), video: Vec::new(), audio: Vec::new(), text: Vec::new() };
    for trak in &moov.trak_boxes {
        let handler = trak.mdia_box.hdlr_box.handler_type;
        if matches!(&handler, b"sbtl" | b"text" | b"subt") {
            let lang = String::from_utf8_lossy(&trak.mdia_box.mdhd_box.language.as_bytes()).into_owned();
            out.text.push((trak.tkhd_box.track_id, lang));
            continue;
        }
        if handler != HdlrBox::HANDLER_TYPE_VIDE && handler != HdlrBox::HANDLER_TYPE_SOUN {
            continue;
        }
        let track = read_track(path, trak, movie_timescale)?;
        match track.kind() {
            TrackKind::Video => out.video.push(track),
            TrackKind::Audio => out.audio.push(track),
            TrackKind::Text => {}
        }
    }
    Ok(out)
}

/// ISO-BMFF files start with one of a few top-level box types.
fn looks_like_mp4<R: Read + Seek>(r: &mut R) -> std::io::Result<bool> {
    let mut head = [0u8; 8];
    let n = r.read(&mut head)?;
    r.seek(SeekFrom::Start(0))?;
    Ok(n == 8 && [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin"].iter().any(|t| head[4..8] == t[..]))
}

fn read_track(path: &Path, trak: &TrakBox, movie_timescale: u64) -> Result<SourceTrack, CopyError> {
    let track_id = trak.tkhd_box.track_id;
    let stbl = &trak.mdia_box.minf_box.stbl_box;
    let entries = &stbl.stsd_box.entries;
    let first =
        entries.first().ok_or_else(|| CopyError::input(path, format!("track {track_id} has no sample entry")))?;
    let (codec, nal_length_size) = codec_of(path, track_id, first)?;
    if entries.len() > 1
        && entries.iter().skip(1).any(|e| codec_of(path, track_id, e).ok().map(|c| c.0) != Some(codec.clone()))
    {
        return Err(CopyError::unsupported(
            path,
            format!("track {track_id} changes its codec configuration mid-stream (several sample entries)"),
        ));
    }
    let timescale = u64::from(trak.mdia_box.mdhd_box.timescale.get());
    let (media_time, delay_ticks) = edit_shift(trak, movie_timescale);
    let table = SampleTableAccessor::new(stbl)
        .map_err(|e| CopyError::input(path, format!("track {track_id}: bad sample table: {e}")))?;
    let mut samples = Vec::with_capacity(table.sample_count().min(1 << 20) as usize);
    for s in table.samples() {
        let dts = i128::from(s.timestamp());
        let pts = dts + i128::from(s.composition_time_offset().unwrap_or(0)) - i128::from(media_time);
        let start = to_ticks(pts, timescale) + i128::from(delay_ticks);
        let end = to_ticks(pts + i128::from(s.duration()), timescale) + i128::from(delay_ticks);
        let (Ok(pts), Ok(duration)) = (i64::try_from(start), u32::try_from(end - start)) else {
            return Err(CopyError::input(
                path,
                format!("track {track_id}: sample {} has an impossible time", s.index()),
            ));
        };
        if s.data_size() > MAX_SAMPLE {
            return Err(CopyError::input(
                path,
                format!("track {track_id}: sample {} claims {} bytes", s.index(), s.data_size()),
            ));
        }
        samples.push(SourceSample {
            pts,
            duration,
            sync: s.is_sync_sample(),
            offset: s.data_offset(),
            size: s.data_size(),
        });
    }
    if samples.is_empty() {
        return Err(CopyError::input(path, format!("track {track_id} has no samples")));
    }
    let language = trak.mdia_box.mdhd_box.language.to_string();
    let language =
        if language.len() == 3 && language.bytes().all(|b| b.is_ascii_lowercase()) { language } else { "und".into() };
    Ok(SourceTrack { path: path.to_path_buf(), track_id, codec, language, nal_length_size, samples })
}

/// The codec configuration of a sample entry, or the "not H.264/AAC" error.
fn codec_of(path: &Path, track_id: u32, entry: &SampleEntry) -> Result<(CodecConfig, u8), CopyError> {
    let what = match entry {
        SampleEntry::Avc1(avc1) => {
            let c = &avc1.avcc_box;
            let (Some(sps), Some(pps)) = (c.sps_list.first(), c.pps_list.first()) else {
                return Err(CopyError::unsupported(
                    path,
                    format!("track {track_id}: H.264 without SPS/PPS in its avcC (parameter sets in band)"),
                ));
            };
            if c.sps_list.len() > 1 || c.pps_list.len() > 1 {
                return Err(CopyError::unsupported(
                    path,
                    format!("track {track_id}: H.264 with several SPS/PPS (Smooth Streaming carries one of each)"),
                ));
            }
            let config = AvcConfig::new(sps.clone(), pps.clone())?;
            return Ok((CodecConfig::H264(config), c.length_size_minus_one.get() + 1));
        }
        SampleEntry::Mp4a(mp4a) => {
            let dc = &mp4a.esds_box.es.dec_config_descr;
            let asc = dc.dec_specific_info.as_ref().map(|d| d.payload.as_slice()).unwrap_or_default();
            // 0x40: MPEG-4 audio; AAC-LC is audio object type 2.
            if dc.object_type_indication == 0x40 && asc.first().map(|b| b >> 3) == Some(2) {
                return Ok((CodecConfig::Aac(AacConfig::from_asc(asc)?), 4));
            }
            if dc.object_type_indication == 0x40 {
                "MPEG-4 audio that is not AAC-LC (HE-AAC or another object type)".to_string()
            } else {
                format!("mp4a audio with object type 0x{:02x} (MP3 or another codec)", dc.object_type_indication)
            }
        }
        SampleEntry::Hev1(_) | SampleEntry::Hvc1(_) => "HEVC (H.265) video".to_string(),
        SampleEntry::Vp08(_) => "VP8 video".to_string(),
        SampleEntry::Vp09(_) => "VP9 video".to_string(),
        SampleEntry::Av01(_) => "AV1 video".to_string(),
        SampleEntry::Opus(_) => "Opus audio".to_string(),
        SampleEntry::Flac(_) => "FLAC audio".to_string(),
        other => format!("a {} track", crate::format::boxes::type_name(other.box_type())),
    };
    Err(CopyError::unsupported(path, format!("track {track_id} is {what}")))
}

/// The edit list as a shift: the media time the presentation starts at (subtract it, track units),
/// and the empty edits before it (add them, ticks). Only the first non-empty edit is honoured.
fn edit_shift(trak: &TrakBox, movie_timescale: u64) -> (i64, i64) {
    let Some(elst) = trak.edts_box.as_ref().and_then(|e| e.elst_box.as_ref()) else {
        return (0, 0);
    };
    let mut delay = 0u128;
    for e in &elst.entries {
        if e.media_time < 0 {
            delay += u128::from(e.edit_duration);
        } else {
            let ticks = to_ticks(delay as i128, movie_timescale.max(1));
            return (e.media_time, i64::try_from(ticks).unwrap_or(0));
        }
    }
    (0, 0)
}

/// `t / timescale` seconds in [`TIMESCALE`] units, rounded to the nearest (halves up), exact in integers.
pub fn to_ticks(t: i128, timescale: u64) -> i128 {
    let ts = i128::from(timescale.max(1));
    (2 * t * i128::from(TIMESCALE) + ts).div_euclid(2 * ts)
}

/// Reads one sample's bytes and returns them as 4-byte length-prefixed NAL units (H.264) or as is.
pub fn read_sample(file: &File, track: &SourceTrack, s: &SourceSample) -> Result<Vec<u8>, CopyError> {
    Ok(read_samples(file, track, std::slice::from_ref(s))?.pop().unwrap_or_default())
}

/// Most bytes read at once by [`read_samples`].
const MAX_READ: u64 = 8 << 20;

/// Reads the bytes of `samples` (as [`read_sample`] does for one), with one positioned read per run
/// of samples stored back to back (an MP4 chunk), not one per sample: a 60 s 25 fps ladder is
/// ~13,000 samples in a few hundred chunks.
pub fn read_samples(file: &File, track: &SourceTrack, samples: &[SourceSample]) -> Result<Vec<Vec<u8>>, CopyError> {
    use std::os::unix::fs::FileExt;
    let mut out = Vec::with_capacity(samples.len());
    let mut rest = samples;
    while let Some(first) = rest.first() {
        let mut end = first.offset + u64::from(first.size);
        let run = 1 + rest[1..]
            .iter()
            .take_while(|s| {
                let next = s.offset == end && end + u64::from(s.size) - first.offset <= MAX_READ;
                end += u64::from(s.size);
                next
            })
            .count();
        let (chunk, tail) = rest.split_at(run);
        rest = tail;
        let len = chunk.iter().map(|s| s.size as usize).sum();
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, first.offset)
            .map_err(|e| CopyError::Io { path: track.path.clone(), source: e })?;
        let mut at = 0;
        for s in chunk {
            let data = &buf[at..at + s.size as usize];
            at += s.size as usize;
            out.push(if track.kind() == TrackKind::Video && track.nal_length_size != 4 {
                widen_nal_lengths(data, track.nal_length_size).ok_or_else(|| {
                    CopyError::input(
                        &track.path,
                        format!("track {}: a sample's NAL unit lengths overrun it", track.track_id),
                    )
                })?
            } else {
                data.to_vec()
            });
        }
    }
    Ok(out)
}

/// Rewrites 1- or 2-byte NAL unit lengths as 4-byte ones (Smooth Streaming players assume 4).
fn widen_nal_lengths(data: &[u8], size: u8) -> Option<Vec<u8>> {
    let size = usize::from(size);
    if !(1..=4).contains(&size) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut pos = 0;
    while pos < data.len() {
        let len = data.get(pos..pos + size)?.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
        let nal = data.get(pos + size..(pos + size).checked_add(len)?)?;
        out.extend_from_slice(&u32::try_from(len).ok()?.to_be_bytes());
        out.extend_from_slice(nal);
        pos += size + len;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_exactly() {
        assert_eq!(to_ticks(512, 12800), 400_000);
        assert_eq!(to_ticks(1001, 30000), 333_667);
        assert_eq!(to_ticks(2002, 30000), 667_333);
        assert_eq!(to_ticks(-1024, 48000), -213_333);
        assert_eq!(to_ticks(1024, 44100), 232_200);
    }

    #[test]
    fn widens_short_nal_lengths() {
        assert_eq!(
            widen_nal_lengths(&[0, 2, 0x65, 1, 0, 1, 0x06], 2),
            Some(vec![0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x06])
        );
        assert_eq!(widen_nal_lengths(&[0, 9, 0x65], 2), None);
    }
}
