//! Subtitles through FFmpeg: every text subtitle stream of a file (mov_text, SubRip, ASS/SSA,
//! WebVTT, and the other text formats FFmpeg decodes) read and decoded to
//! [`Cue`](crate::format::ttml::Cue)s, and a sidecar `.srt`/`.vtt`/`.ass` read the same way through
//! FFmpeg's demuxers. Bitmap subtitles (PGS, DVB, VobSub, XSUB) are not converted: they are
//! reported in [`SubtitleScan::dropped`] for the caller's notes.
//!
//! One pass over the file's packets, subtitle streams only (nothing is decoded for audio or
//! video; a file without a text subtitle stream is not read past its header). Cue times are ticks on the file's own timeline (the stream timestamps, not rebased): the
//! caller subtracts the presentation's origin.

pub mod ass;

use std::path::Path;

use ff::codec::Id;
use ff::format::stream::Disposition;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::error::open_error;
use super::{MediaError, Ratio};
use crate::format::language;
use crate::format::ttml::Cue;
use crate::format::TIMESCALE;

/// How long a cue whose end no one states lasts, at most (until the next cue otherwise).
const OPEN_CUE_TICKS: u64 = 5 * TIMESCALE;

/// One text subtitle stream, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextStream {
    /// The stream's index in the file.
    pub index: usize,
    /// FFmpeg's codec name (`mov_text`, `subrip`, `ass`, `webvtt`…).
    pub codec: String,
    /// ISO 639-2/T from the stream's metadata, `und` if absent or unknown.
    pub language: String,
    pub title: Option<String>,
    /// Flagged for the deaf and hard of hearing (a `CAPT` stream).
    pub hearing_impaired: bool,
    /// In time order, times in [`TIMESCALE`] units on the file's timeline.
    pub cues: Vec<Cue>,
}

/// A subtitle stream that is not converted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedStream {
    pub index: usize,
    pub codec: String,
    pub language: String,
    pub reason: String,
}

/// The subtitle streams of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubtitleScan {
    pub text: Vec<TextStream>,
    pub dropped: Vec<DroppedStream>,
}

/// Bitmap subtitle codecs: pictures, not text.
fn is_bitmap(id: Id) -> bool {
    matches!(id, Id::HDMV_PGS_SUBTITLE | Id::DVB_SUBTITLE | Id::DVD_SUBTITLE | Id::XSUB | Id::DVB_TELETEXT)
}

struct Decoding {
    stream: TextStream,
    decoder: ff::decoder::Subtitle,
    header: ass::Header,
    time_base: Ratio,
}

/// Reads and decodes every subtitle stream of `path`. A stream FFmpeg has no decoder for, or that
/// turns out to hold pictures, goes to `dropped`.
pub fn read(path: &Path) -> Result<SubtitleScan, MediaError> {
    let ctx = path.display().to_string();
    super::clear_ffmpeg_error();
    let mut ictx = ff::format::input(&path).map_err(|e| open_error(path, e))?;
    let mut scan = SubtitleScan::default();
    let mut open: Vec<Option<Decoding>> = Vec::new();
    for stream in ictx.streams() {
        let index = stream.index();
        open.push(None);
        let params = stream.parameters();
        if params.medium() != MediaType::Subtitle {
            continue;
        }
        let id = params.id();
        let codec = format!("{id:?}").to_lowercase();
        let meta = stream.metadata();
        let lang = language::normalize(meta.get("language"));
        let drop = |reason: &str| DroppedStream {
            index,
            codec: codec.clone(),
            language: lang.clone(),
            reason: reason.to_string(),
        };
        if is_bitmap(id) {
            scan.dropped.push(drop("bitmap subtitles (pictures) are not converted to TTML text"));
            continue;
        }
        let header = ass::Header::parse(&extradata_text(&params));
        let mut cctx = match ff::codec::Context::from_parameters(params) {
            Ok(c) => c.decoder(),
            Err(e) => {
                scan.dropped.push(drop(&format!("FFmpeg cannot set up a decoder ({e})")));
                continue;
            }
        };
        cctx.set_packet_time_base(stream.time_base());
        let decoder = match cctx.subtitle() {
            Ok(d) => d,
            Err(e) => {
                scan.dropped.push(drop(&format!("FFmpeg has no decoder for it ({e})")));
                continue;
            }
        };
        let tb = stream.time_base();
        open[index] = Some(Decoding {
            stream: TextStream {
                index,
                codec,
                language: lang,
                title: meta.get("title").map(str::to_string),
                hearing_impaired: stream.disposition().contains(Disposition::HEARING_IMPAIRED),
                cues: Vec::new(),
            },
            decoder,
            header,
            time_base: Ratio::new(tb.numerator().into(), tb.denominator().into()),
        });
    }
    // Nothing to decode (no text stream): no pass over the packets.
    if open.iter().all(Option::is_none) {
        return Ok(scan);
    }
    let mut bitmap_seen = vec![false; open.len()];
    loop {
        let mut packet = ff::Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(e) => {
                let cause = super::last_ffmpeg_error().unwrap_or_else(|| e.to_string());
                return Err(MediaError::invalid(&ctx, format!("reading subtitles: {cause}")));
            }
        }
        let Some(Some(d)) = open.get_mut(packet.stream()) else { continue };
        let Some(pts) = packet.pts().or(packet.dts()) else { continue };
        let mut sub = ff::Subtitle::new();
        let got = d.decoder.decode(&packet, &mut sub).map_err(|e| {
            MediaError::ffmpeg(format!("{ctx}: subtitle stream #{} ({})", d.stream.index, d.stream.codec), e)
        })?;
        if !got {
            continue;
        }
        let at = |ts: i64| ticks(ts, d.time_base);
        let base = at(pts);
        let begin = base.saturating_add(u64::from(sub.start()) * (TIMESCALE / 1000));
        let end = if packet.duration() > 0 {
            Some(at(pts + packet.duration()))
        } else {
            match sub.end() {
                0 | u32::MAX => None,
                e => Some(base.saturating_add(u64::from(e) * (TIMESCALE / 1000))),
            }
        };
        for rect in sub.rects() {
            let text = match rect {
                ff::codec::subtitle::Rect::Ass(a) => a.get().to_string(),
                ff::codec::subtitle::Rect::Text(t) => t.get().replace('\n', "\\N"),
                ff::codec::subtitle::Rect::Bitmap(_) => {
                    bitmap_seen[d.stream.index] = true;
                    continue;
                }
                ff::codec::subtitle::Rect::None(_) => continue,
            };
            let dialogue = ass::dialogue(&text, &d.header);
            d.stream.cues.push(Cue {
                begin,
                end: end.unwrap_or(u64::MAX),
                lines: dialogue.lines,
                placement: dialogue.placement,
            });
        }
    }
    for d in open.into_iter().flatten() {
        let mut stream = d.stream;
        if bitmap_seen[stream.index] {
            scan.dropped.push(DroppedStream {
                index: stream.index,
                codec: stream.codec,
                language: stream.language,
                reason: "bitmap subtitles (pictures) are not converted to TTML text".into(),
            });
            continue;
        }
        close_open_cues(&mut stream.cues);
        stream.cues.retain(|c| !c.is_blank());
        scan.text.push(stream);
    }
    scan.text.sort_by_key(|s| s.index);
    scan.dropped.sort_by_key(|s| s.index);
    Ok(scan)
}

/// Orders cues by time and ends each cue without a stated end at the next cue's start, at most
/// [`OPEN_CUE_TICKS`] later.
fn close_open_cues(cues: &mut [Cue]) {
    cues.sort_by_key(|c| c.begin);
    for i in 0..cues.len() {
        if cues[i].end == u64::MAX {
            let next = cues[i + 1..].iter().map(|c| c.begin).find(|&b| b > cues[i].begin);
            let limit = cues[i].begin + OPEN_CUE_TICKS;
            cues[i].end = next.map_or(limit, |n| n.min(limit));
        }
    }
}

fn ticks(ts: i64, tb: Ratio) -> u64 {
    let t = i128::from(ts) * i128::from(tb.num) * i128::from(TIMESCALE) / i128::from(tb.den.max(1));
    u64::try_from(t.max(0)).unwrap_or(u64::MAX)
}

/// The stream's extradata as text: for ASS/SSA, the script header with its styles.
fn extradata_text(params: &ff::codec::Parameters) -> String {
    // SAFETY: `params` wraps a valid AVCodecParameters owned by the open stream; `extradata` is
    // either null or points at `extradata_size` readable bytes that live as long as `params`, and
    // the slice is copied out before `params` can go away.
    let bytes = unsafe {
        let p = params.as_ptr();
        match ((*p).extradata, usize::try_from((*p).extradata_size)) {
            (data, Ok(n)) if !data.is_null() && n > 0 => std::slice::from_raw_parts(data, n).to_vec(),
            _ => Vec::new(),
        }
    };
    String::from_utf8_lossy(&bytes).into_owned()
}
