//! The PIFF reader: parses `.ismv`/`.isma` files (ours or anyone's) into tracks, fragments (with their
//! `tfxd` times and sample tables) and the `mfra` index, reading box by box, never whole files.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use shiguredo_mp4::boxes::{FtypBox, MfraBox, MoofBox, MoovBox, SampleEntry, TfraBox, TrafBox, TrexBox};
use shiguredo_mp4::BoxType;

use super::aac::AacConfig;
use super::avc::AvcConfig;
use super::boxes::{declared_trun_samples, decode, read_span, type_name, BoxSpan, PiffBox, Tfxd, MAX_FRAGMENT_SAMPLES};
use super::error::{FormatError, Result};
use super::{CodecConfig, TrackKind};

/// Largest `moov`/`moof`/`mfra` we load into memory (a hostile size must not exhaust memory).
const MAX_META_BOX: u64 = 64 << 20;

/// A track as declared in `moov`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEntry {
    pub track_id: u32,
    pub kind: Option<TrackKind>,
    pub timescale: u32,
    pub language: String,
    /// The sample entry four-cc (`avc1`, `mp4a`, …).
    pub sample_entry: String,
    /// The codec configuration, when it is H.264 or AAC-LC and parses.
    pub codec: Option<CodecConfig>,
    trex: Option<TrexBox>,
}

/// One sample of a fragment, located in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRecord {
    pub offset: u64,
    pub size: u32,
    pub duration: u32,
    pub flags: u32,
    pub composition_offset: i64,
}

impl SampleRecord {
    /// `sample_is_non_sync_sample` is clear.
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
}

/// One `traf` of a `moof`: a fragment of one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRecord {
    pub track_id: u32,
    pub sequence: u32,
    pub moof_offset: u64,
    pub moof_size: u64,
    /// The `mdat` that follows the `moof`, if any.
    pub mdat: Option<BoxSpan>,
    pub tfxd: Option<Tfxd>,
    /// `tfdt`'s base media decode time, when the `traf` has one (not PIFF; some encoders send it).
    pub tfdt: Option<u64>,
    pub samples: Vec<SampleRecord>,
}

impl FragmentRecord {
    /// Sum of the sample durations (the fragment's decode span).
    pub fn decode_duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }

    /// Bytes from the `moof` start to the end of its `mdat`.
    pub fn byte_len(&self) -> u64 {
        match self.mdat {
            Some(m) if m.offset == self.moof_offset + self.moof_size => self.moof_size + m.size,
            _ => self.moof_size,
        }
    }
}

/// A parsed fragmented MP4 file.
#[derive(Debug, Clone)]
pub struct MediaFile {
    pub path: PathBuf,
    pub len: u64,
    pub ftyp: Option<FtypBox>,
    pub tracks: Vec<TrackEntry>,
    pub fragments: Vec<FragmentRecord>,
    pub mfra: Option<MfraBox>,
    /// Every top-level box, in file order.
    pub top_level: Vec<BoxSpan>,
}

impl MediaFile {
    /// Parses a whole file: every top-level box, `moov`, each `moof` and `mfra`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
        let len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
        Self::parse(BufReader::with_capacity(64 * 1024, file), len, path)
    }

    /// Parses from any seekable reader of `len` bytes (a file, or a fragment held in memory);
    /// `path` names it in errors.
    pub fn parse<R: Read + Seek>(r: R, len: u64, path: &Path) -> Result<Self> {
        Self::parse_with(r, len, path, Vec::new())
    }

    /// Parses `moof`+`mdat` boxes held in memory (a live ingest fragment) against the `tracks` of
    /// an earlier `moov`; sample offsets are relative to `bytes`.
    pub fn parse_fragments(bytes: &[u8], tracks: &[TrackEntry], context: &str) -> Result<Vec<FragmentRecord>> {
        let parsed =
            Self::parse_with(std::io::Cursor::new(bytes), bytes.len() as u64, Path::new(context), tracks.to_vec())?;
        Ok(parsed.fragments)
    }

    fn parse_with<R: Read + Seek>(mut r: R, len: u64, path: &Path, known: Vec<TrackEntry>) -> Result<Self> {
        let ctx = path.display().to_string();
        let mut out = MediaFile {
            path: path.to_path_buf(),
            len,
            ftyp: None,
            tracks: known,
            fragments: Vec::new(),
            mfra: None,
            top_level: Vec::new(),
        };
        let mut offset = 0;
        let mut pending_mdat_for: Vec<usize> = Vec::new();
        while let Some(span) = read_span(&mut r, offset, len, &ctx).map_err(|e| with_path(e, path))? {
            out.top_level.push(span);
            let here = format!("{ctx}: {} at byte {}", type_name(span.box_type), span.offset);
            match span.box_type {
                BoxType::Normal(t) if &t == b"ftyp" => out.ftyp = Some(load(&mut r, span, &here)?),
                BoxType::Normal(t) if &t == b"moov" => {
                    let moov: MoovBox = load(&mut r, span, &here)?;
                    out.tracks = tracks(&moov);
                }
                BoxType::Normal(t) if &t == b"moof" => {
                    let moof: MoofBox = load(&mut r, span, &here)?;
                    pending_mdat_for.clear();
                    for traf in &moof.traf_boxes {
                        pending_mdat_for.push(out.fragments.len());
                        out.fragments.push(fragment(&out.tracks, &moof, traf, span, &here)?);
                    }
                }
                BoxType::Normal(t) if &t == b"mdat" => {
                    for &i in &pending_mdat_for {
                        out.fragments[i].mdat = Some(span);
                    }
                    pending_mdat_for.clear();
                }
                BoxType::Normal(t) if &t == b"mfra" => out.mfra = Some(load(&mut r, span, &here)?),
                _ => {}
            }
            offset = span.offset + span.size;
        }
        Ok(out)
    }

    pub fn track(&self, track_id: u32) -> Option<&TrackEntry> {
        self.tracks.iter().find(|t| t.track_id == track_id)
    }

    /// The fragments of one track, in file order.
    pub fn track_fragments(&self, track_id: u32) -> impl Iterator<Item = &FragmentRecord> {
        self.fragments.iter().filter(move |f| f.track_id == track_id)
    }

    /// Reads bytes of this file (e.g. a sample, or a fragment for `split`).
    pub fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        read_range(&self.path, offset, len)
    }
}

/// Reads `len` bytes at `offset` of a file.
pub fn read_range(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(|e| FormatError::io(path, e))?;
    f.seek(SeekFrom::Start(offset)).map_err(|e| FormatError::io(path, e))?;
    let mut buf = Vec::new();
    f.take(len).read_to_end(&mut buf).map_err(|e| FormatError::io(path, e))?;
    if (buf.len() as u64) < len {
        return Err(FormatError::invalid(
            path.display().to_string(),
            format!("{len} bytes at {offset} run past the end"),
        ));
    }
    Ok(buf)
}

/// The `mfra` index of a file, found through `mfro` at its end without reading the rest.
/// `Ok(None)` when the file has no `mfra`.
pub fn read_mfra(path: &Path) -> Result<Option<MfraBox>> {
    let mut f = File::open(path).map_err(|e| FormatError::io(path, e))?;
    let len = f.metadata().map_err(|e| FormatError::io(path, e))?.len();
    if len < 16 {
        return Ok(None);
    }
    let mut tail = [0u8; 16];
    f.seek(SeekFrom::Start(len - 16)).map_err(|e| FormatError::io(path, e))?;
    f.read_exact(&mut tail).map_err(|e| FormatError::io(path, e))?;
    if &tail[4..8] != b"mfro" {
        return Ok(None);
    }
    let size = u64::from(u32::from_be_bytes([tail[12], tail[13], tail[14], tail[15]]));
    if size < 16 || size > len || size > MAX_META_BOX {
        return Err(FormatError::boxes(format!("{}: mfro", path.display()), format!("mfra size {size} is impossible")));
    }
    let bytes = read_range(path, len - size, size)?;
    let (mfra, _) = decode::<MfraBox>(&bytes, &format!("{}: mfra", path.display()))?;
    Ok(Some(mfra))
}

/// The entries of a track's `tfra`, if the file has one for it.
/// The tracks of a `moov` held in memory (`bytes` is the whole box).
pub fn parse_moov(bytes: &[u8], context: &str) -> Result<Vec<TrackEntry>> {
    if bytes.len() as u64 > MAX_META_BOX {
        return Err(FormatError::boxes(context, format!("moov of {} bytes is too large", bytes.len())));
    }
    let (moov, _): (MoovBox, usize) = decode(bytes, context)?;
    Ok(tracks(&moov))
}

pub fn tfra_for(mfra: &MfraBox, track_id: u32) -> Option<&TfraBox> {
    mfra.tfra_boxes.iter().find(|t| t.track_id == track_id)
}

fn with_path(e: FormatError, path: &Path) -> FormatError {
    match e {
        FormatError::Write(source) => FormatError::io(path, source),
        other => other,
    }
}

fn load<B: shiguredo_mp4::Decode, R: Read + Seek>(r: &mut R, span: BoxSpan, ctx: &str) -> Result<B> {
    if span.size > MAX_META_BOX {
        return Err(FormatError::boxes(ctx, format!("{} bytes is too large", span.size)));
    }
    let mut buf = vec![0u8; span.size as usize];
    r.seek(SeekFrom::Start(span.offset))?;
    r.read_exact(&mut buf)?;
    let samples = declared_trun_samples(&buf);
    if samples > MAX_FRAGMENT_SAMPLES {
        return Err(FormatError::boxes(
            ctx,
            format!("trun declares {samples} samples (at most {MAX_FRAGMENT_SAMPLES})"),
        ));
    }
    Ok(decode::<B>(&buf, ctx)?.0)
}

fn tracks(moov: &MoovBox) -> Vec<TrackEntry> {
    moov.trak_boxes
        .iter()
        .map(|trak| {
            let mdia = &trak.mdia_box;
            let entry = mdia.minf_box.stbl_box.stsd_box.entries.first();
            let (sample_entry, codec) = match entry {
                Some(SampleEntry::Avc1(b)) => {
                    let c = &b.avcc_box;
                    let codec = match (c.sps_list.first(), c.pps_list.first()) {
                        (Some(s), Some(p)) => AvcConfig::new(s.clone(), p.clone()).ok().map(CodecConfig::H264),
                        _ => None,
                    };
                    ("avc1".to_string(), codec)
                }
                Some(SampleEntry::Mp4a(b)) => {
                    let asc = b.esds_box.es.dec_config_descr.dec_specific_info.as_ref().map(|d| d.payload.clone());
                    let codec = asc.and_then(|a| AacConfig::from_asc(&a).ok()).map(CodecConfig::Aac);
                    ("mp4a".to_string(), codec)
                }
                Some(SampleEntry::Stpp(_)) => {
                    ("stpp".to_string(), Some(CodecConfig::Ttml(super::text::TextConfig::default())))
                }
                Some(other) => (type_name(shiguredo_mp4::BaseBox::box_type(other)), None),
                None => (String::new(), None),
            };
            let kind = match &mdia.hdlr_box.handler_type {
                b"vide" => Some(TrackKind::Video),
                b"soun" => Some(TrackKind::Audio),
                b"subt" | b"text" | b"sbtl" => Some(TrackKind::Text),
                _ => None,
            };
            TrackEntry {
                track_id: trak.tkhd_box.track_id,
                kind,
                timescale: mdia.mdhd_box.timescale.get(),
                language: String::from_utf8_lossy(&mdia.mdhd_box.language.as_bytes()).into_owned(),
                sample_entry,
                codec,
                trex: moov
                    .mvex_box
                    .as_ref()
                    .and_then(|m| m.trex_boxes.iter().find(|t| t.track_id == trak.tkhd_box.track_id).cloned()),
            }
        })
        .collect()
}

fn fragment(tracks: &[TrackEntry], moof: &MoofBox, traf: &TrafBox, span: BoxSpan, ctx: &str) -> Result<FragmentRecord> {
    let tfhd = &traf.tfhd_box;
    let trex = tracks.iter().find(|t| t.track_id == tfhd.track_id).and_then(|t| t.trex.as_ref());
    let mut tfxd = None;
    for b in &traf.unknown_boxes {
        if let PiffBox::Tfxd(t) = PiffBox::from_unknown(b)? {
            tfxd = Some(t);
        }
    }
    let base = tfhd.base_data_offset.unwrap_or(span.offset);
    let mut samples = Vec::new();
    let mut next_offset = base;
    for trun in &traf.trun_boxes {
        let mut pos = match trun.data_offset {
            Some(d) => base.checked_add_signed(i64::from(d)),
            None => Some(next_offset),
        }
        .ok_or_else(|| FormatError::boxes(format!("{ctx}/traf/trun"), "data offset before the file start"))?;
        for (i, s) in trun.samples.iter().enumerate() {
            let size = s.size.or(tfhd.default_sample_size).or(trex.map(|t| t.default_sample_size)).unwrap_or(0);
            let flags = s
                .flags
                .map(|f| f.get())
                .or(if i == 0 { trun.first_sample_flags.map(|f| f.get()) } else { None })
                .or(tfhd.default_sample_flags.map(|f| f.get()))
                .or(trex.map(|t| t.default_sample_flags.get()))
                .unwrap_or(0);
            samples.push(SampleRecord {
                offset: pos,
                size,
                duration: s
                    .duration
                    .or(tfhd.default_sample_duration)
                    .or(trex.map(|t| t.default_sample_duration))
                    .unwrap_or(0),
                flags,
                composition_offset: s.composition_time_offset.unwrap_or(0),
            });
            // `base_data_offset` is a hostile 64-bit field: sample offsets must not wrap.
            pos = pos
                .checked_add(u64::from(size))
                .ok_or_else(|| FormatError::boxes(format!("{ctx}/traf/trun"), "sample offsets run past 2^64"))?;
        }
        next_offset = pos;
    }
    Ok(FragmentRecord {
        track_id: tfhd.track_id,
        sequence: moof.mfhd_box.sequence_number,
        moof_offset: span.offset,
        moof_size: span.size,
        mdat: None,
        tfxd,
        tfdt: traf.tfdt_box.as_ref().map(|t| t.base_media_decode_time),
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(t: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = (8 + payload.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(t);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn sample_offsets_that_overflow_are_an_error() {
        // A `tfhd` with base_data_offset 2^64-16 and a `trun` of two 256-byte samples (crafted for
        // fuzz/fuzz_targets/reader.rs: an overflow panic in debug builds).
        let mfhd = boxed(b"mfhd", &[0, 0, 0, 0, 0, 0, 0, 1]);
        let mut tfhd = vec![0, 0, 0, 1, 0, 0, 0, 1];
        tfhd.extend_from_slice(&(u64::MAX - 15).to_be_bytes());
        let trun = [0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 1, 0];
        let traf = boxed(b"traf", &[boxed(b"tfhd", &tfhd), boxed(b"trun", &trun)].concat());
        let moof = boxed(b"moof", &[mfhd, traf].concat());
        let err = MediaFile::parse(std::io::Cursor::new(&moof), moof.len() as u64, Path::new("t")).unwrap_err();
        assert!(err.to_string().contains("2^64"), "{err}");
    }

    #[test]
    fn a_hostile_trun_sample_count_is_refused_before_decoding() {
        let mfhd = boxed(b"mfhd", &[0, 0, 0, 0, 0, 0, 0, 1]);
        let tfhd = boxed(b"tfhd", &[0, 0, 0, 0, 0, 0, 0, 1]);
        let trun = boxed(b"trun", &[0, 0, 0, 0, 1, 0, 0, 0]);
        let traf = boxed(b"traf", &[tfhd, trun.clone(), trun].concat());
        let moof = boxed(b"moof", &[mfhd, traf].concat());
        let err = MediaFile::parse(std::io::Cursor::new(&moof), moof.len() as u64, Path::new("t")).unwrap_err();
        assert!(err.to_string().contains("trun declares 33554432 samples"), "{err}");
    }
}
