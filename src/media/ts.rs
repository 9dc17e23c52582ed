//! MPEG-TS segments for HLS `format=m3u8-aapl`: one fMP4 media segment (`moof`+`mdat` with `tfdt`)
//! and its track's init segment (`ftyp`+`moov`) in, one MPEG-TS segment out, all in memory.
//!
//! FFmpeg does the work: its `mov` demuxer reads the fMP4 bytes through a custom read context and
//! its `mpegts` muxer writes to a custom write context (ffmpeg-next's `StreamIo`), so H.264 becomes
//! Annex B with SPS/PPS before each IDR (the muxer's automatic `h264_mp4toannexb`) and AAC gets
//! ADTS headers (the muxer's internal ADTS writer). Nothing is hand-written at the TS level.
//!
//! Timestamps: the TS PTS of every access unit is its Smooth presentation time rescaled to 90 kHz
//! (rounded to the nearest tick), with no mux delay, so the segments of a track join with no gap.
//! Smooth video decode times are the sorted presentation times (`format::writer::build_moof`), so a
//! B-frame can present before it decodes (a negative composition offset), which MPEG-TS forbids;
//! the DTS is therefore the Smooth decode time minus a constant per track, [`dts_shift`] (the
//! stream's reorder depth times its frame duration: the same for every segment of a track, so DTS
//! stay continuous across segments too). Audio has no shift: PTS = DTS = the Smooth time.
//!
//! FFmpeg's `mov` demuxer moves the PTS of a fragment with negative composition offsets *forward*
//! by the largest of them (its `dts_shift`, `pts = dts + dts_shift + offset`), a shift that varies
//! with each segment's content; it is taken back here from the `trun` offsets themselves, read
//! with the project's own box reader (`format::reader`), so the PTS are the Smooth times whatever
//! the segment holds.
//!
//! Every call builds its own demuxer and muxer: no shared state, safe from many threads at once.
//! FFmpeg's error messages are read from the calling thread's slot ([`super::last_ffmpeg_error`]).

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use ff::format::context::StreamIo;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use crate::format::reader::MediaFile;

/// Largest input (init + media segment) accepted, in bytes: a 2–10 s Smooth fragment is a few
/// megabytes even at high bit rates; beyond this the origin refuses rather than buffering it.
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// The 90 kHz clock of MPEG-TS timestamps.
const TS_TIME_BASE: ff::Rational = ff::Rational(1, 90_000);

/// Which segment a remux is about, for error messages: the Smooth track name and fragment time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentId {
    pub track: String,
    /// The fragment's Smooth start time (`t`, in the track's timescale).
    pub time: u64,
}

impl std::fmt::Display for SegmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "track {}, fragment {}", self.track, self.time)
    }
}

/// One track's input to [`remux`].
#[derive(Debug, Clone)]
pub struct TrackSegment {
    pub id: SegmentId,
    /// `ftyp`+`moov` (with `mvex`) of the track.
    pub init: Bytes,
    /// `moof`+`mdat` (`tfdt` in every `traf`), possibly several pairs.
    pub segment: Bytes,
}

/// Why a segment could not be remuxed. Each names the track and fragment.
#[derive(Debug, thiserror::Error)]
pub enum TsError {
    #[error("no track to remux")]
    NoTracks,
    #[error("{id}: {bytes} bytes of input is more than the limit of {MAX_INPUT_BYTES}")]
    TooLarge { id: SegmentId, bytes: usize },
    #[error("{id}: cannot read the fMP4 segment: {message}")]
    Demux { id: SegmentId, message: String },
    #[error("{id}: no audio or video stream in the init segment")]
    NoStream { id: SegmentId },
    #[error("{id}: {codec} cannot be carried in these MPEG-TS segments (H.264 and AAC only)")]
    Codec { id: SegmentId, codec: String },
    #[error("{id}: the media segment has no samples")]
    Empty { id: SegmentId },
    #[error("{id}: sample at {time} presents {by} ticks (90 kHz) before it decodes, more than the track's reorder shift of {shift}")]
    Reorder { id: SegmentId, time: i64, by: i64, shift: i64 },
    #[error("{id}: MPEG-TS muxer: {message}")]
    Mux { id: SegmentId, message: String },
}

/// Remuxes each track's segment into one MPEG-TS segment: PAT/PMT first, then the tracks' PES
/// interleaved by decode time. `tracks` is usually one track (ssfpack's HLS `m3u8-aapl` serves
/// audio as its own rendition, see docs/format.md); several are muxed into one program.
///
/// Call [`super::init`] once per process first (FFmpeg's log goes to the per-thread error slot
/// that explains a failure). Blocking and CPU-bound (a few ms for a 2 s 720p fragment): call it from
/// a blocking thread (`spawn_blocking`), never on an async executor thread.
///
/// Continuity counters start at 0 in every segment, with the `discontinuity_indicator` set on
/// each PID's first packet (`mpegts_flags=initial_discontinuity`), which makes the restart legal
/// (ISO/IEC 13818-1 §2.4.3.5) for a player that checks them across segments.
pub fn remux(tracks: &[TrackSegment]) -> Result<Vec<u8>, TsError> {
    let first = tracks.first().ok_or(TsError::NoTracks)?;
    super::clear_ffmpeg_error();
    let mut inputs = Vec::with_capacity(tracks.len());
    let mut total = 0usize;
    for track in tracks {
        let bytes = track.init.len() + track.segment.len();
        if bytes > MAX_INPUT_BYTES {
            return Err(TsError::TooLarge { id: track.id.clone(), bytes });
        }
        total += bytes;
        inputs.push(open_track(track)?);
    }

    // Every packet of every track, timestamps already at 90 kHz, then sorted by decode time: the
    // segment is small and bounded (MAX_INPUT_BYTES per track), and sorting once is simpler and
    // cheaper than FFmpeg's interleaving queue.
    let mut packets = Vec::new();
    for (index, input) in inputs.iter_mut().enumerate() {
        read_packets(input, index, &mut packets)?;
    }
    packets.sort_by_key(|(_, p)| (p.dts().unwrap_or(0), p.stream()));

    // TS overhead: 4 of every 188 bytes, PES headers, PAT/PMT, ADTS headers, SPS/PPS per IDR.
    let sink = Sink::with_capacity(total + total / 16 + 4096);
    let mux_err = |id: &SegmentId, e: ff::Error| TsError::Mux { id: id.clone(), message: explain(e) };
    let io = StreamIo::from_write(sink.clone()).map_err(|e| mux_err(&first.id, e))?;
    let mut octx = ff::format::output_to_stream(io, None, Some("mpegts")).map_err(|e| mux_err(&first.id, e))?;
    for input in &inputs {
        let mut ost =
            octx.add_stream(ff::codec::encoder::find(ff::codec::Id::None)).map_err(|e| mux_err(&input.id, e))?;
        ost.set_parameters(input.parameters.clone());
    }
    let mut opts = ff::Dictionary::new();
    // No mux delay: the PTS are the Smooth times (libavformat's default is 0 for a library
    // caller, set anyway so the contract does not depend on it).
    opts.set("max_delay", "0");
    // Never shift the timeline to make it start at 0 (a DTS below 0 at t = 0 is written modulo
    // 2^33, as MPEG-TS timestamps wrap).
    opts.set("avoid_negative_ts", "disabled");
    opts.set("mpegts_flags", "+initial_discontinuity");
    octx.write_header_with(opts).map_err(|e| mux_err(&first.id, e))?;
    for (index, mut packet) in packets {
        packet.set_position(-1);
        packet.write(&mut octx).map_err(|e| mux_err(&inputs[index].id, e))?;
    }
    octx.write_trailer().map_err(|e| mux_err(&first.id, e))?;
    // Dropping the output context flushes its write buffer into the sink and drops its handle.
    drop(octx);
    Ok(sink.take())
}

/// One opened input track.
struct OpenTrack {
    id: SegmentId,
    ictx: ff::format::context::Input,
    stream: usize,
    parameters: ff::codec::Parameters,
    time_base: ff::Rational,
    kind: MediaType,
    /// What FFmpeg's `mov` demuxer added to each PTS (the stream's time base), taken back.
    demuxer_pts_shift: i64,
}

fn open_track(track: &TrackSegment) -> Result<OpenTrack, TsError> {
    let id = track.id.clone();
    let demux = |e: ff::Error| TsError::Demux { id: id.clone(), message: explain(e) };
    let demuxer_pts_shift = demuxer_pts_shift(track)?;
    let reader = Joined::new(vec![track.init.clone(), track.segment.clone()]);
    let io = StreamIo::from_read_seek(reader).map_err(demux)?;
    let ictx = ff::format::input_from_stream(io, Some("segment.mp4"), None).map_err(demux)?;
    if ictx.format().name().split(',').all(|n| n != "mp4") {
        return Err(TsError::Demux { id, message: format!("not fMP4 (read as {})", ictx.format().name()) });
    }
    let stream = ictx
        .streams()
        .find(|s| matches!(s.parameters().medium(), MediaType::Video | MediaType::Audio))
        .ok_or_else(|| TsError::NoStream { id: id.clone() })?;
    let parameters = stream.parameters();
    let codec = parameters.id();
    if !matches!(codec, ff::codec::Id::H264 | ff::codec::Id::AAC) {
        return Err(TsError::Codec { id, codec: format!("{codec:?}").to_lowercase() });
    }
    Ok(OpenTrack {
        kind: parameters.medium(),
        stream: stream.index(),
        time_base: stream.time_base(),
        parameters,
        id,
        ictx,
        demuxer_pts_shift,
    })
}

/// The `dts_shift` FFmpeg's `mov` demuxer applies to this segment's PTS: the largest negative
/// composition offset of its samples (0 if none), from the `trun`s as our own reader sees them.
/// Reading the boxes first also turns a malformed segment into our own error message.
fn demuxer_pts_shift(track: &TrackSegment) -> Result<i64, TsError> {
    let len = (track.init.len() + track.segment.len()) as u64;
    let reader = Joined::new(vec![track.init.clone(), track.segment.clone()]);
    // Byte offsets in the reader's messages count from the start of the init segment.
    let name = std::path::PathBuf::from("init + media segment");
    let media = MediaFile::parse(reader, len, &name)
        .map_err(|e| TsError::Demux { id: track.id.clone(), message: e.to_string() })?;
    let most_negative = media.fragments.iter().flat_map(|f| &f.samples).map(|s| s.composition_offset).min();
    Ok(most_negative.map_or(0, |m| (-m).max(0)))
}

/// Reads every packet of `input`'s stream, rescaled to 90 kHz with the track's DTS shift applied,
/// into `out` tagged with the output stream `index`.
fn read_packets(input: &mut OpenTrack, index: usize, out: &mut Vec<(usize, ff::Packet)>) -> Result<(), TsError> {
    let start = out.len();
    let shift = dts_shift(input);
    loop {
        let mut packet = ff::Packet::empty();
        match packet.read(&mut input.ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(e) => return Err(TsError::Demux { id: input.id.clone(), message: explain(e) }),
        }
        if packet.stream() != input.stream {
            continue;
        }
        if input.demuxer_pts_shift != 0 {
            packet.set_pts(packet.pts().map(|p| p - input.demuxer_pts_shift));
        }
        packet.rescale_ts(input.time_base, TS_TIME_BASE);
        let (Some(pts), Some(dts)) = (packet.pts(), packet.dts()) else {
            return Err(TsError::Demux { id: input.id.clone(), message: "a sample has no timestamp".into() });
        };
        let dts = dts - shift;
        if pts < dts {
            return Err(TsError::Reorder { id: input.id.clone(), time: pts, by: dts + shift - pts, shift });
        }
        packet.set_dts(Some(dts));
        packet.set_stream(index);
        out.push((index, packet));
    }
    if out.len() == start {
        return Err(TsError::Empty { id: input.id.clone() });
    }
    Ok(())
}

/// How far (90 kHz ticks) a track's decode times are moved back so that no sample presents before
/// it decodes: the stream's reorder depth (FFmpeg's `video_delay`, from the SPS's
/// `max_num_reorder_frames`) times its frame duration. 0 for audio and for video without B-frames.
/// It depends only on the init segment and the frame rate, so it is the same for every segment of
/// a constant-frame-rate track.
fn dts_shift(input: &OpenTrack) -> i64 {
    if input.kind != MediaType::Video {
        return 0;
    }
    // SAFETY: `parameters` wraps the live AVCodecParameters of the demuxer's stream (kept alive by
    // `input.parameters`' own reference to the format context); `video_delay` is a plain int
    // field, read once.
    let delay = i64::from(unsafe { (*input.parameters.as_ptr()).video_delay }.max(0));
    if delay == 0 {
        return 0;
    }
    let rate = {
        let stream = input.ictx.stream(input.stream);
        stream.map(|s| s.avg_frame_rate()).filter(|r| r.numerator() > 0 && r.denominator() > 0)
    };
    match rate {
        // One frame at the stream's average rate, rounded up to a whole 90 kHz tick.
        Some(r) => {
            let (num, den) = (i64::from(r.numerator()), i64::from(r.denominator()));
            delay * ((90_000 * den + num - 1) / num)
        }
        None => 0,
    }
}

/// FFmpeg's own last message on this thread if it logged one, else the error code's text.
fn explain(e: ff::Error) -> String {
    match super::last_ffmpeg_error() {
        Some(m) => format!("{m} ({e})"),
        None => e.to_string(),
    }
}

/// The muxer's output: shared with the write context (which must own a `'static` writer) and
/// taken back once the context is dropped.
#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn with_capacity(n: usize) -> Self {
        Sink(Arc::new(Mutex::new(Vec::with_capacity(n))))
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Several byte buffers read as one seekable stream (init segment, then media segment), without
/// copying them together.
struct Joined {
    parts: Vec<Bytes>,
    len: u64,
    pos: u64,
}

impl Joined {
    fn new(parts: Vec<Bytes>) -> Self {
        let len = parts.iter().map(|p| p.len() as u64).sum();
        Joined { parts, len, pos: 0 }
    }
}

impl Read for Joined {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut at = self.pos;
        for part in &self.parts {
            let len = part.len() as u64;
            if at < len {
                let from = at as usize;
                let n = buf.len().min(part.len() - from);
                buf[..n].copy_from_slice(&part[from..from + n]);
                self.pos += n as u64;
                return Ok(n);
            }
            at -= len;
        }
        Ok(0)
    }
}

impl Seek for Joined {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match pos {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_reads_across_parts_and_seeks() {
        let mut j = Joined::new(vec![Bytes::from_static(b"abc"), Bytes::new(), Bytes::from_static(b"defg")]);
        let mut all = Vec::new();
        j.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abcdefg");
        assert_eq!(j.seek(SeekFrom::Start(2)).unwrap(), 2);
        let mut two = [0u8; 2];
        j.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"cd");
        assert_eq!(j.seek(SeekFrom::End(-1)).unwrap(), 6);
        assert!(j.seek(SeekFrom::Current(-10)).is_err());
    }
}
