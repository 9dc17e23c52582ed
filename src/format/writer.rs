//! The PIFF writer: one track per file, `ftyp` + `moov`, then one `moof`+`mdat` per fragment, then
//! `mfra`. Each fragment is built whole in memory and written in one go; nothing is ever patched by
//! seeking back, so the output can be a file, a pipe or an HTTP body, and memory stays flat.

use std::io::Write;
use std::num::NonZeroU32;

use shiguredo_mp4::boxes::{
    Brand, DinfBox, DrefBox, FtypBox, HdlrBox, MdhdBox, MdiaBox, MediaHeader, MfhdBox, MfraBox, MfroBox, MinfBox,
    MoofBox, MoovBox, MvexBox, MvhdBox, SampleEntry, SmhdBox, StblBox, StcoBox, SthdBox, StppBox, StscBox, StsdBox,
    StszBox, SttsBox, TfhdBox, TfraBox, TfraEntry, TkhdBox, TrafBox, TrakBox, TrexBox, TrunBox, TrunSample, UrlBox,
    VmhdBox,
};
use shiguredo_mp4::{Either, FixedPointNumber, LanguageCode, Mp4FileTime, SampleFlags};

use super::boxes::{encode, Tfxd, UuidBox};
use super::error::{FormatError, Result};
use super::fragmenter::Fragment;
use super::{CodecConfig, TrackInfo, TrackKind, TIMESCALE};

/// Sample flags of a sync sample: depends on no other (ISO/IEC 14496-12 8.8.3.1).
pub const SYNC_FLAGS: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample: depends on others, `sample_is_non_sync_sample` set.
pub const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// What the writer reports for each fragment it wrote; the manifest builder listens to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentEvent {
    pub track_id: u32,
    /// 0-based fragment index within the track.
    pub index: u32,
    /// `tfxd` start time and duration, [`TIMESCALE`] units.
    pub time: u64,
    pub duration: u64,
    /// Byte offset of the `moof` in the file, and the size of `moof`+`mdat`.
    pub offset: u64,
    pub size: u64,
    pub samples: u32,
}

/// Writes one track as a PIFF 1.1 fragmented MP4 (`.ismv` / `.isma`).
pub struct IsmvWriter<W: Write> {
    out: W,
    track: TrackInfo,
    offset: u64,
    sequence: u32,
    tfra: Vec<TfraEntry>,
}

impl<W: Write> IsmvWriter<W> {
    /// Writes `ftyp` and `moov` for `track`.
    pub fn new(mut out: W, track: TrackInfo) -> Result<Self> {
        let mut head = encode(&ftyp(), "ftyp")?;
        head.extend(encode(&moov(&track)?, "moov")?);
        out.write_all(&head)?;
        Ok(IsmvWriter { out, track, offset: head.len() as u64, sequence: 0, tfra: Vec::new() })
    }

    /// Goes on writing a file that already holds `ftyp`, `moov` and the fragments of `written`
    /// (in order), `offset` bytes in all, with `out` positioned at its end: a live archive
    /// reopened after a restart.
    pub fn resume(out: W, track: TrackInfo, written: &[FragmentEvent], offset: u64) -> Self {
        let tfra = written
            .iter()
            .map(|e| TfraEntry {
                time: e.time,
                moof_offset: e.offset,
                traf_number: 1,
                trun_number: 1,
                sample_number: 1,
            })
            .collect();
        IsmvWriter { out, track, offset, sequence: written.len() as u32, tfra }
    }

    pub fn track(&self) -> &TrackInfo {
        &self.track
    }

    /// The output (to sync a file after a fragment).
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes one fragment's `moof` + `mdat`.
    pub fn write_fragment(&mut self, fragment: &Fragment) -> Result<FragmentEvent> {
        let ctx = || {
            format!(
                "track {} ({}) fragment {} at {}",
                self.track.track_id, self.track.name, self.sequence, fragment.start
            )
        };
        let bytes = fragment_bytes(&self.track, fragment, self.sequence + 1).map_err(|e| match e {
            FormatError::Invalid { message, .. } => FormatError::invalid(ctx(), message),
            other => other,
        })?;
        self.out.write_all(&bytes)?;
        let event = FragmentEvent {
            track_id: self.track.track_id,
            index: self.sequence,
            time: fragment.start,
            duration: fragment.end - fragment.start,
            offset: self.offset,
            size: bytes.len() as u64,
            samples: fragment.samples.len() as u32,
        };
        self.tfra.push(TfraEntry {
            time: fragment.start,
            moof_offset: self.offset,
            traf_number: 1,
            trun_number: 1,
            sample_number: 1,
        });
        self.offset += bytes.len() as u64;
        self.sequence += 1;
        Ok(event)
    }

    /// Writes `mfra` (one `tfra`, then `mfro`) and returns the output.
    pub fn finish(mut self) -> Result<W> {
        let mut mfra = MfraBox {
            tfra_boxes: vec![TfraBox {
                version: 1,
                track_id: self.track.track_id,
                length_size_of_traf_num: 0,
                length_size_of_trun_num: 0,
                length_size_of_sample_num: 0,
                entries: std::mem::take(&mut self.tfra),
            }],
            mfro_box: MfroBox { size: 0 },
        };
        let size = encode(&mfra, "mfra")?.len();
        mfra.mfro_box.size = size as u32;
        self.out.write_all(&encode(&mfra, "mfra")?)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// `ftyp`: major brand `isml`, as IIS and FFmpeg write for Smooth Streaming media.
pub fn ftyp() -> FtypBox {
    FtypBox {
        major_brand: Brand::new(*b"isml"),
        minor_version: 1,
        compatible_brands: vec![Brand::new(*b"isml"), Brand::new(*b"piff"), Brand::new(*b"iso2")],
    }
}

/// The `moov` of a one-track fragmented file: empty sample tables, `mvex`/`trex`.
pub fn moov(track: &TrackInfo) -> Result<MoovBox> {
    let id = track.track_id;
    let timescale = NonZeroU32::MIN.saturating_add(TIMESCALE as u32 - 1);
    let (entry, header, handler, name, width, height) = match &track.codec {
        CodecConfig::H264(c) => (
            SampleEntry::Avc1(c.avc1_box()?),
            MediaHeader::Vmhd(VmhdBox { graphicsmode: 0, opcolor: [0; 3] }),
            HdlrBox::HANDLER_TYPE_VIDE,
            "VideoHandler",
            c.display_width,
            c.display_height,
        ),
        CodecConfig::Aac(c) => (
            SampleEntry::Mp4a(c.mp4a_box(track.bitrate)?),
            MediaHeader::Smhd(SmhdBox { balance: FixedPointNumber::new(0, 0) }),
            HdlrBox::HANDLER_TYPE_SOUN,
            "SoundHandler",
            0,
            0,
        ),
        CodecConfig::Ttml(_) => (
            SampleEntry::Stpp(stpp_box()?),
            MediaHeader::Sthd(SthdBox),
            HdlrBox::HANDLER_TYPE_SUBT,
            "SubtitleHandler",
            0,
            0,
        ),
    };
    let fixed = |v: u32| FixedPointNumber::new(v.min(i16::MAX as u32) as i16, 0);
    let language = LanguageCode::from_ascii(&track.language).unwrap_or_default();
    Ok(MoovBox {
        mvhd_box: MvhdBox {
            creation_time: Mp4FileTime::from_secs(0),
            modification_time: Mp4FileTime::from_secs(0),
            timescale,
            duration: 0,
            rate: MvhdBox::DEFAULT_RATE,
            volume: MvhdBox::DEFAULT_VOLUME,
            matrix: MvhdBox::DEFAULT_MATRIX,
            next_track_id: id + 1,
        },
        trak_boxes: vec![TrakBox {
            tkhd_box: TkhdBox {
                flag_track_enabled: true,
                flag_track_in_movie: true,
                flag_track_in_preview: true,
                flag_track_size_is_aspect_ratio: false,
                creation_time: Mp4FileTime::from_secs(0),
                modification_time: Mp4FileTime::from_secs(0),
                track_id: id,
                duration: 0,
                layer: TkhdBox::DEFAULT_LAYER,
                alternate_group: TkhdBox::DEFAULT_ALTERNATE_GROUP,
                volume: if track.kind() == TrackKind::Audio {
                    TkhdBox::DEFAULT_AUDIO_VOLUME
                } else {
                    TkhdBox::DEFAULT_VIDEO_VOLUME
                },
                matrix: TkhdBox::DEFAULT_MATRIX,
                width: fixed(width),
                height: fixed(height),
            },
            edts_box: None,
            mdia_box: MdiaBox {
                mdhd_box: MdhdBox {
                    creation_time: Mp4FileTime::from_secs(0),
                    modification_time: Mp4FileTime::from_secs(0),
                    timescale,
                    duration: 0,
                    language,
                },
                hdlr_box: HdlrBox { handler_type: handler, name: format!("{name}\0").into_bytes() },
                minf_box: MinfBox {
                    media_header: Some(header),
                    dinf_box: DinfBox {
                        dref_box: DrefBox { url_box: Some(UrlBox { location: None }), unknown_boxes: Vec::new() },
                        unknown_boxes: Vec::new(),
                    },
                    stbl_box: StblBox {
                        stsd_box: StsdBox { entries: vec![entry] },
                        stts_box: SttsBox { entries: Vec::new() },
                        ctts_box: None,
                        cslg_box: None,
                        stsc_box: StscBox { entries: Vec::new() },
                        stsz_box: StszBox::Variable { entry_sizes: Vec::new() },
                        stco_or_co64_box: Either::A(StcoBox { chunk_offsets: Vec::new() }),
                        stss_box: None,
                        sdtp_box: None,
                        unknown_boxes: Vec::new(),
                    },
                    unknown_boxes: Vec::new(),
                },
                unknown_boxes: Vec::new(),
            },
            unknown_boxes: Vec::new(),
        }],
        mvex_box: Some(MvexBox {
            mehd_box: None,
            trex_boxes: vec![TrexBox {
                track_id: id,
                default_sample_description_index: 1,
                default_sample_duration: 0,
                default_sample_size: 0,
                default_sample_flags: SampleFlags::new(0),
            }],
            unknown_boxes: Vec::new(),
        }),
        unknown_boxes: Vec::new(),
    })
}

/// The `stpp` sample entry of a TTML track (ISO/IEC 14496-30): the TTML namespace, no schema,
/// no auxiliary MIME types.
fn stpp_box() -> Result<StppBox> {
    let text = |s: &str| {
        shiguredo_mp4::Utf8String::new(s).ok_or_else(|| FormatError::invalid("stpp", "a string holds a NUL byte"))
    };
    Ok(StppBox {
        data_reference_index: StppBox::DEFAULT_DATA_REFERENCE_INDEX,
        namespace: text(super::text::STPP_NAMESPACE)?,
        schema_location: text("")?,
        auxiliary_mime_types: text("")?,
        unknown_boxes: Vec::new(),
    })
}

/// One fragment as bytes: its `moof` (sequence number `sequence`) and `mdat`, what a file holds
/// and what a live encoder posts.
pub fn fragment_bytes(track: &TrackInfo, fragment: &Fragment, sequence: u32) -> Result<Vec<u8>> {
    let (moof, mdat_payload) = build_moof(track, fragment, sequence)?;
    let mut bytes = encode(&moof, "moof")?;
    let mdat_len =
        u32::try_from(mdat_payload + 8).map_err(|_| FormatError::invalid("fragment", "larger than 4 GiB"))?;
    bytes.reserve(mdat_payload + 8);
    bytes.extend_from_slice(&mdat_len.to_be_bytes());
    bytes.extend_from_slice(b"mdat");
    for s in &fragment.samples {
        bytes.extend_from_slice(&s.data);
    }
    Ok(bytes)
}

/// The `moov` of a fragmented file holding several tracks (a live encoder's single POST): one
/// `trak` and one `trex` per track, in order. The track ids must differ.
pub fn moov_tracks(tracks: &[TrackInfo]) -> Result<MoovBox> {
    let (first, rest) = tracks.split_first().ok_or_else(|| FormatError::invalid("moov", "no track"))?;
    let mut out = moov(first)?;
    for t in rest {
        if tracks.iter().filter(|o| o.track_id == t.track_id).count() > 1 {
            return Err(FormatError::invalid("moov", format!("track id {} used twice", t.track_id)));
        }
        let m = moov(t)?;
        out.trak_boxes.extend(m.trak_boxes);
        if let (Some(into), Some(from)) = (out.mvex_box.as_mut(), m.mvex_box) {
            into.trex_boxes.extend(from.trex_boxes);
        }
    }
    out.mvhd_box.next_track_id = tracks.iter().map(|t| t.track_id).max().unwrap_or(0) + 1;
    Ok(out)
}

/// Builds the `moof` of a fragment and returns it with the `mdat` payload size.
///
/// Decode times are the fragment's presentation times in ascending order: the first decoded sample
/// (the IDR) decodes at the fragment's start time, durations fill the fragment exactly, and the
/// composition offsets (signed, `trun` version 1 when any is negative) put every sample on its
/// presentation time. The fragment's decode span is therefore exactly `[start, end)`, whatever
/// decode timestamps an encoder reported.
pub fn build_moof(track: &TrackInfo, fragment: &Fragment, sequence: u32) -> Result<(MoofBox, usize)> {
    let samples = &fragment.samples;
    let mut decode_times: Vec<i64> = samples.iter().map(|s| s.pts).collect();
    decode_times.sort_unstable();
    if decode_times.first() != Some(&(fragment.start as i64)) {
        return Err(FormatError::invalid("fragment", "first presented sample does not start the fragment"));
    }
    let video = track.kind() == TrackKind::Video;
    let mut trun_samples = Vec::with_capacity(samples.len());
    let mut payload = 0usize;
    for (i, s) in samples.iter().enumerate() {
        let next = decode_times.get(i + 1).copied().unwrap_or(fragment.end as i64);
        let duration = u32::try_from(next - decode_times[i])
            .map_err(|_| FormatError::invalid("fragment", format!("sample {i} has an impossible duration")))?;
        let size = u32::try_from(s.data.len())
            .map_err(|_| FormatError::invalid("fragment", format!("sample {i} is larger than 4 GiB")))?;
        payload += s.data.len();
        trun_samples.push(TrunSample {
            duration: Some(duration),
            size: Some(size),
            flags: video.then(|| SampleFlags::new(if s.sync { SYNC_FLAGS } else { NON_SYNC_FLAGS })),
            composition_time_offset: video.then_some(s.pts - decode_times[i]),
        });
    }
    let mut moof = MoofBox {
        mfhd_box: MfhdBox { sequence_number: sequence },
        traf_boxes: vec![TrafBox {
            tfhd_box: TfhdBox {
                track_id: track.track_id,
                base_data_offset: None,
                sample_description_index: None,
                default_sample_duration: None,
                default_sample_size: None,
                default_sample_flags: (!video).then_some(SampleFlags::new(SYNC_FLAGS)),
                duration_is_empty: false,
                default_base_is_moof: false,
            },
            tfdt_box: None,
            trun_boxes: vec![TrunBox { data_offset: Some(0), first_sample_flags: None, samples: trun_samples }],
            unknown_boxes: vec![Tfxd { time: fragment.start, duration: fragment.end - fragment.start }.to_unknown_box()],
        }],
        unknown_boxes: Vec::new(),
    };
    // The data offset counts from the start of the moof to the first sample byte after mdat's header.
    let moof_size = encode(&moof, "moof")?.len();
    moof.traf_boxes[0].trun_boxes[0].data_offset = Some((moof_size + 8) as i32);
    Ok((moof, payload))
}
