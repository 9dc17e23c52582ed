//! What live Smooth Streaming adds to the format, shared by the publishing point (ingest) and the
//! push encoder: the live server manifest box an encoder sends first, turning an ingested
//! `moof`+`mdat` into a [`Fragment`] the ordinary [`IsmvWriter`](super::writer::IsmvWriter) writes,
//! and the `tfrf` lookahead added to a fragment as it is served.

use shiguredo_mp4::boxes::MoofBox;

use super::boxes::{decode, encode, Cursor, PiffBox, Tfrf, UuidBox, LIVE_SERVER_MANIFEST_UUID};
use super::error::{FormatError, Result};
use super::fragmenter::Fragment;
use super::reader::FragmentRecord;
use super::{Sample, TIMESCALE};

/// The live server manifest box (`uuid` A5D40B30-E814-11DD-BA2F-0800200C9A66): version/flags,
/// then the SMIL document describing the stream's tracks (MS-SSTR 2.2.7, Azure live ingest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveServerManifestBox {
    pub smil: String,
}

impl UuidBox for LiveServerManifestBox {
    const USER_TYPE: [u8; 16] = LIVE_SERVER_MANIFEST_UUID;
    const NAME: &'static str = "live server manifest";

    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(self.smil.as_bytes());
    }

    /// The SMIL text runs to the end of the box; a trailing NUL (some encoders) is dropped.
    fn decode_payload(r: &mut Cursor<'_>) -> Result<Self> {
        r.skip(4)?;
        let text = r.rest();
        let text = text.strip_suffix(&[0]).unwrap_or(text);
        let smil = String::from_utf8(text.to_vec())
            .map_err(|_| FormatError::boxes("live server manifest", "the SMIL text is not UTF-8"))?;
        Ok(LiveServerManifestBox { smil })
    }
}

/// Converts one ingested `traf` (with its `mdat` bytes) into a fragment on the presentation
/// timeline, in [`TIMESCALE`] units. The start is the `tfxd` time (or `tfdt`), read as signed:
/// encoders write AAC priming as a negative start (FFmpeg: −213333 stored as 2⁶⁴−213333). Samples
/// that end at or before 0 are dropped and one that straddles 0 starts at 0, so the fragment and
/// the manifest agree on a timeline that starts at 0. `None` when nothing is left.
pub fn ingest_fragment(rec: &FragmentRecord, bytes: &[u8], timescale: u32, context: &str) -> Result<Option<Fragment>> {
    let start = match (rec.tfxd, rec.tfdt) {
        (Some(t), _) => t.time as i64,
        (None, Some(t)) => t as i64,
        (None, None) => return Err(FormatError::invalid(context, "fragment has neither tfxd nor tfdt")),
    };
    let scale = |v: i64| -> i64 {
        if u64::from(timescale) == TIMESCALE {
            v
        } else {
            (i128::from(v) * i128::from(TIMESCALE) / i128::from(timescale.max(1))) as i64
        }
    };
    let mut dts = start;
    let mut samples = Vec::with_capacity(rec.samples.len());
    let mut first_pts: Option<i64> = None;
    for (i, s) in rec.samples.iter().enumerate() {
        let begin = usize::try_from(s.offset).ok();
        let end = begin.and_then(|b| b.checked_add(s.size as usize));
        let data = match (begin, end) {
            (Some(b), Some(e)) if e <= bytes.len() => bytes[b..e].to_vec(),
            _ => return Err(FormatError::invalid(context, format!("sample {i} lies outside its mdat"))),
        };
        let pts = scale(dts + s.composition_offset);
        let next = dts + i64::from(s.duration);
        first_pts = Some(first_pts.map_or(pts, |f| f.min(pts)));
        samples.push((pts, scale(next) - scale(dts), s.is_sync(), data));
        dts = next;
    }
    let Some(first_pts) = first_pts else { return Ok(None) };
    // The presentation end: the decode end moved by the first sample's composition offset, so
    // consecutive fragments stay contiguous whatever offset the encoder uses.
    let end = scale(dts) + (first_pts - scale(start));
    if end <= 0 {
        return Ok(None);
    }
    let kept: Vec<Sample> = samples
        .into_iter()
        .filter(|(pts, duration, _, _)| pts + *duration > 0)
        .map(|(pts, duration, sync, data)| Sample { pts: pts.max(0), duration: duration.max(0) as u32, sync, data })
        .collect();
    let Some(start) = kept.iter().map(|s| s.pts).min() else { return Ok(None) };
    Ok(Some(Fragment { start: start as u64, end: end as u64, samples: kept }))
}

/// `fragment` (`moof`+`mdat`, or a `moof` alone) with a `tfrf` announcing `next` ((time, duration)
/// of the following fragments) in its first `traf`, any earlier `tfrf` replaced, and the `trun`
/// data offsets moved by the size the `moof` grew. Built in memory; the stored fragment is untouched.
pub fn with_tfrf(fragment: &[u8], next: &[(u64, u64)]) -> Result<Vec<u8>> {
    let (mut moof, moof_len): (MoofBox, usize) = decode(fragment, "moof")?;
    let traf = moof.traf_boxes.first_mut().ok_or_else(|| FormatError::boxes("moof", "no traf"))?;
    traf.unknown_boxes.retain(|b| !matches!(PiffBox::from_unknown(b), Ok(PiffBox::Tfrf(_))));
    traf.unknown_boxes.push(Tfrf { entries: next.to_vec() }.to_unknown_box());
    let grown = encode(&moof, "moof")?.len() as i64 - moof_len as i64;
    for traf in &mut moof.traf_boxes {
        for trun in &mut traf.trun_boxes {
            if let Some(d) = trun.data_offset.as_mut() {
                *d = i32::try_from(i64::from(*d) + grown)
                    .map_err(|_| FormatError::boxes("trun", "data offset overflows"))?;
            }
        }
    }
    let mut out = encode(&moof, "moof")?;
    out.extend_from_slice(&fragment[moof_len..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::boxes::Tfxd;
    use crate::format::reader::{MediaFile, SampleRecord};
    use crate::format::writer::IsmvWriter;
    use crate::format::{aac::AacConfig, CodecConfig, TrackInfo};

    fn record(time: i64, samples: &[(u32, i64)]) -> FragmentRecord {
        let mut offset = 0;
        FragmentRecord {
            track_id: 1,
            sequence: 1,
            moof_offset: 0,
            moof_size: 0,
            mdat: None,
            tfxd: Some(Tfxd { time: time as u64, duration: 0 }),
            tfdt: None,
            samples: samples
                .iter()
                .map(|&(duration, composition_offset)| {
                    offset += 2;
                    SampleRecord { offset: offset - 2, size: 2, duration, flags: 0, composition_offset }
                })
                .collect(),
        }
    }

    #[test]
    fn negative_audio_start_is_cut_at_zero() {
        // FFmpeg's first AAC fragment: three 1024-sample frames at 48 kHz starting at −213333.
        let rec = record(-213_333, &[(213_333, 0), (213_334, 0), (213_333, 0)]);
        let f = ingest_fragment(&rec, &[0; 6], 10_000_000, "t").unwrap().unwrap();
        assert_eq!((f.start, f.end), (0, 426_667));
        assert_eq!(f.samples.len(), 2, "the priming frame is dropped");
        let rec = record(-100_000, &[(213_333, 0)]);
        let f = ingest_fragment(&rec, &[0; 2], 10_000_000, "t").unwrap().unwrap();
        assert_eq!((f.start, f.end, f.samples[0].pts), (0, 113_333, 0), "a straddling frame starts at 0");
        assert!(ingest_fragment(&record(-500, &[(100, 0)]), &[0; 2], 10_000_000, "t").unwrap().is_none());
    }

    #[test]
    fn composition_offsets_and_timescales() {
        // Video with B-frames in a 1 kHz timescale: I P B with offsets 0, 80, -40 (ms).
        let rec = record(2000, &[(40, 0), (40, 80), (40, -40)]);
        let f = ingest_fragment(&rec, &[0; 6], 1000, "t").unwrap().unwrap();
        assert_eq!((f.start, f.end), (20_000_000, 21_200_000));
        let pts: Vec<i64> = f.samples.iter().map(|s| s.pts).collect();
        assert_eq!(pts, [20_000_000, 21_200_000, 20_400_000]);
        assert!(ingest_fragment(&record(0, &[(40, 0)]), &[0; 1], 1000, "t").is_err(), "sample outside mdat");
    }

    #[test]
    fn tfrf_is_added_and_the_samples_still_resolve() {
        let track = TrackInfo {
            track_id: 2,
            codec: CodecConfig::Aac(AacConfig::from_asc(&[0x11, 0x90]).unwrap()),
            bitrate: 128_000,
            language: "und".into(),
            name: "audio".into(),
        };
        let mut w = IsmvWriter::new(Vec::new(), track).unwrap();
        let samples = vec![Sample { pts: 0, duration: 100, sync: true, data: vec![1, 2, 3] }];
        let ev = w.write_fragment(&Fragment { start: 0, end: 100, samples }).unwrap();
        let file = w.finish().unwrap();
        let frag = &file[ev.offset as usize..(ev.offset + ev.size) as usize];
        let served = with_tfrf(frag, &[(100, 100), (200, 100)]).unwrap();
        let again = with_tfrf(&served, &[(100, 100)]).unwrap();
        for bytes in [&served, &again] {
            let parsed = MediaFile::parse(std::io::Cursor::new(bytes), bytes.len() as u64, "t".as_ref()).unwrap();
            let f = &parsed.fragments[0];
            let s = f.samples[0];
            assert_eq!(&bytes[s.offset as usize..s.offset as usize + 3], &[1, 2, 3]);
        }
        assert_eq!(again.len() + 16, served.len(), "one tfrf, replaced");
        let lsm = LiveServerManifestBox { smil: "<smil/>".into() };
        let b = lsm.to_unknown_box();
        assert_eq!(LiveServerManifestBox::from_payload(&b.payload).unwrap(), lsm);
    }
}
