//! The source: open a file FFmpeg can read, pick its streams (the best video stream, every audio
//! stream), and decode them in file order. One decode for the whole job; the pipeline fans the
//! decoded frames out to the rungs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ff::codec::threading;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::error::{decoder_error, open_error};
use super::filter::{self, Dynamic, VideoFilter};
pub use super::streams::{display_matrix_rotation, AudioInfo, OtherStream, SourceOptions, VideoInfo};
use super::streams::{normalize_language, other_stream, pick_video, rotation};
use super::{AudioFrame, MediaError, Ratio, VideoFrame};

/// The smallest and largest coded video sizes accepted: below one macroblock there is nothing to
/// scale, and above 8192 per side (or DCI 8K's area) a few decoded frames in flight would take
/// gigabytes.
pub const MIN_VIDEO_SIDE: u32 = 16;
pub const MAX_VIDEO_SIDE: u32 = 8192;
pub const MAX_VIDEO_AREA: u64 = 8192 * 4320;

/// How much of the source was read and decoded, to tell a complete file from a truncated one.
#[derive(Debug, Clone, PartialEq)]
pub struct Extent {
    /// End of the last decoded frame, seconds from the start of the file (the container's
    /// `start_time`).
    pub decoded: f64,
    /// How long the decoded streams say they are (stream durations, Matroska `DURATION` tags, else
    /// the container's duration), if known.
    pub expected: Option<f64>,
    /// The demuxer stopped with an error before the end of the file (e.g. `partial file`).
    pub read_error: Option<String>,
}

/// A decoded frame, tagged with where it came from. Timestamps stay in the stream's time base
/// (`best_effort_timestamp`); the pipeline converts them.
pub enum Decoded {
    Video(VideoFrame),
    /// `track` indexes [`Source::audio`].
    Audio {
        track: usize,
        frame: AudioFrame,
    },
}

/// An open source with its decoders.
///
/// Its errors quote FFmpeg's own message (`moov atom not found`), taken from the calling thread's
/// log slot ([`super::last_ffmpeg_error`]): open it and call [`Source::next_frame`] on the job's own
/// thread (not a thread another job also uses for FFmpeg calls at the same time), as the pipeline does.
pub struct Source {
    path: PathBuf,
    ictx: ff::format::context::Input,
    video: Option<(VideoInfo, ff::decoder::Video)>,
    filter: Option<VideoFilter>,
    audio: Vec<(AudioInfo, ff::decoder::Audio)>,
    /// Audio streams not chosen, and everything that is neither the video nor audio.
    others: Vec<OtherStream>,
    options: SourceOptions,
    pending: VecDeque<Decoded>,
    eof: bool,
    bad_packets: u64,
    /// Container start time, seconds.
    start: f64,
    /// End of the last decoded frame, seconds from `start`.
    decoded_until: f64,
    expected: Option<f64>,
    read_error: Option<String>,
    /// Repeat from the start at the end, the timeline continuing ([`Source::set_looping`]).
    looping: bool,
    /// Seconds added to every frame's time: the length of the passes before this one.
    loop_offset: f64,
}

impl Source {
    /// Opens `path`, probes its streams and opens a decoder for the best video stream (cover art
    /// excluded) and for every audio stream.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        Self::open_with(path, &SourceOptions::default())
    }

    /// Opens `path` as [`Source::open`] does, its video converted and its audio chosen by `options`.
    pub fn open_with(path: &Path, options: &SourceOptions) -> Result<Self, MediaError> {
        let ctx = || path.display().to_string();
        // FFmpeg's error messages are kept per thread (see `media::last_ffmpeg_error`): clear,
        // open and read the message on this thread.
        super::clear_ffmpeg_error();
        let ictx = ff::format::input(&path).map_err(|e| open_error(path, e))?;
        // (start, end) of each decoded stream, seconds.
        let mut ends: Vec<(Option<f64>, Option<f64>)> = Vec::new();
        let video_index = pick_video(&ictx);
        let mut video = None;
        let mut audio = Vec::new();
        let mut others = Vec::new();
        let mut filter = None;
        for stream in ictx.streams() {
            let kind = stream.parameters().medium();
            let index = stream.index();
            if kind == MediaType::Video && Some(index) == video_index {
                let sctx = format!("{}: video stream #{index}", ctx());
                let params = stream.parameters();
                let mut cctx = ff::codec::Context::from_parameters(params.clone())
                    .map_err(|e| MediaError::ffmpeg(sctx.clone(), e))?;
                cctx.set_threading(threading::Config { kind: threading::Type::Frame, count: 0, ..Default::default() });
                let mut dec = cctx.decoder();
                dec.set_packet_time_base(stream.time_base());
                let dec = dec.video().map_err(|e| decoder_error(&sctx, &params, e))?;
                let field_order = filter::field_order(&params);
                let dynamic = Dynamic::from_transfer(dec.color_transfer_characteristic());
                let bit_depth = filter::bit_depth(dec.format());
                // idet needs a second open of the input: only for a regular file (not a pipe or stream).
                let plan =
                    filter::plan(options.deinterlace, options.field_rate, field_order, dynamic, bit_depth, || {
                        std::fs::metadata(path)
                            .is_ok_and(|m| m.is_file())
                            .then(|| filter::detect_interlace(path, index))?
                    });
                let mut info = VideoInfo {
                    stream_index: index,
                    codec: codec_name(&dec),
                    width: dec.width(),
                    height: dec.height(),
                    sample_aspect: Ratio::from(dec.aspect_ratio()).positive().filter(|r| r.num != r.den),
                    rotation: rotation(&stream),
                    time_base: stream.time_base().into(),
                    frame_rate: Ratio::from(stream.avg_frame_rate())
                        .positive()
                        .or_else(|| Ratio::from(stream.rate()).positive()),
                    duration: seconds(stream.duration(), stream.time_base().into()),
                    frames: u64::try_from(stream.frames()).ok().filter(|&n| n > 0),
                    field_order,
                    dynamic,
                    bit_depth,
                    plan,
                };
                check_size(&sctx, info.width, info.height)?;
                if let Some(spec) = info.plan.filter_spec() {
                    let f = VideoFilter::new(
                        &spec,
                        info.width,
                        info.height,
                        dec.format(),
                        info.time_base,
                        info.sample_aspect.unwrap_or(Ratio::new(1, 1)),
                        &sctx,
                    )?;
                    info.time_base = f.time_base();
                    if info.plan.field_rate {
                        info.frame_rate = info.frame_rate.map(|r| Ratio::new(r.num * 2, r.den));
                        info.frames = info.frames.map(|n| n * 2);
                    }
                    filter = Some(f);
                }
                ends.push(stream_end(&stream));
                video = Some((info, dec));
            } else if kind == MediaType::Audio && options.audio.as_ref().is_none_or(|keep| keep.contains(&index)) {
                let sctx = format!("{}: audio stream #{index}", ctx());
                let params = stream.parameters();
                let mut dec = ff::codec::Context::from_parameters(params.clone())
                    .map_err(|e| MediaError::ffmpeg(sctx.clone(), e))?
                    .decoder();
                dec.set_packet_time_base(stream.time_base());
                let dec = dec.audio().map_err(|e| decoder_error(&sctx, &params, e))?;
                ends.push(stream_end(&stream));
                let language = stream.metadata().get("language").map(normalize_language);
                let info = AudioInfo {
                    stream_index: index,
                    codec: codec_name(&dec),
                    sample_rate: dec.rate(),
                    channels: dec.channels(),
                    language: language.unwrap_or_else(|| "und".to_string()),
                    title: stream.metadata().get("title").map(str::trim).filter(|t| !t.is_empty()).map(str::to_string),
                    time_base: stream.time_base().into(),
                };
                audio.push((info, dec));
            } else {
                others.push(other_stream(&stream));
            }
        }
        if let Some(order) = &options.audio {
            audio.sort_by_key(|(info, _)| order.iter().position(|&i| i == info.stream_index));
        }
        if video.is_none() && audio.is_empty() {
            return Err(MediaError::invalid(ctx(), "no video or audio stream (nothing to package)"));
        }
        let start = ends.iter().filter_map(|(s, _)| *s).reduce(f64::min).unwrap_or(0.0);
        let expected = ends.iter().filter_map(|(_, e)| *e).reduce(f64::max).map(|e| e - start);
        let container = (ictx.duration() > 0).then(|| ictx.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE));
        Ok(Source {
            path: path.to_path_buf(),
            ictx,
            video,
            filter,
            audio,
            others,
            options: options.clone(),
            pending: VecDeque::new(),
            eof: false,
            bad_packets: 0,
            start,
            decoded_until: 0.0,
            expected: expected.or(container),
            read_error: None,
            looping: false,
            loop_offset: 0.0,
        })
    }

    /// Makes the source repeat itself: at its end it is opened again and its frames come on with
    /// times continuing from the end of the previous pass (`ssfpack push --loop`, for rehearsals).
    /// A pass that decodes nothing ends the source instead.
    pub fn set_looping(&mut self, on: bool) {
        self.looping = on;
    }

    /// Opens the file again for its next pass.
    fn restart(&mut self) -> Result<(), MediaError> {
        let mut next = Source::open_with(&self.path, &self.options)?;
        next.looping = true;
        next.loop_offset = self.loop_offset + self.decoded_until;
        next.bad_packets = self.bad_packets;
        *self = next;
        Ok(())
    }

    /// Moves a frame of a later pass by the length of the passes before it.
    fn shift(&self, d: &mut Decoded) {
        if self.loop_offset <= 0.0 {
            return;
        }
        let (frame, tb): (&mut ff::frame::Frame, Ratio) = match d {
            Decoded::Video(f) => match &self.video {
                Some((info, _)) => (f, info.time_base),
                None => return,
            },
            Decoded::Audio { track, frame } => match self.audio.get(*track) {
                Some((info, _)) => (frame, info.time_base),
                None => return,
            },
        };
        if tb.num <= 0 || tb.den <= 0 {
            return;
        }
        let ticks = (self.loop_offset * tb.den as f64 / tb.num as f64).round() as i64;
        // SAFETY: `frame` is a live, owned AVFrame (decoded, not shared with FFmpeg any more); its
        // `pts` and `best_effort_timestamp` are plain integers we overwrite in place.
        unsafe {
            let raw = frame.as_mut_ptr();
            if (*raw).pts != ff::ffi::AV_NOPTS_VALUE {
                (*raw).pts += ticks;
            }
            if (*raw).best_effort_timestamp != ff::ffi::AV_NOPTS_VALUE {
                (*raw).best_effort_timestamp += ticks;
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn video(&self) -> Option<&VideoInfo> {
        self.video.as_ref().map(|(i, _)| i)
    }

    pub fn audio(&self) -> Vec<&AudioInfo> {
        self.audio.iter().map(|(i, _)| i).collect()
    }

    /// Keeps the audio streams `order` names (stream indexes), in that order; the others are not
    /// decoded any more (they join [`Source::others`]). A later pass (looping) keeps the choice.
    pub fn select_audio(&mut self, order: &[usize]) {
        let mut all = std::mem::take(&mut self.audio);
        for &index in order {
            if let Some(at) = all.iter().position(|(a, _)| a.stream_index == index) {
                self.audio.push(all.remove(at));
            }
        }
        for (a, _) in all {
            self.others.push(OtherStream {
                stream_index: a.stream_index,
                kind: "audio",
                codec: a.codec,
                language: a.language,
                cover_art: false,
            });
        }
        self.others.sort_by_key(|o| o.stream_index);
        self.options.audio = Some(order.to_vec());
    }

    /// The streams not decoded: audio not chosen, other video streams, subtitles, data,
    /// attachments (in file order).
    pub fn others(&self) -> &[OtherStream] {
        &self.others
    }

    /// The container's duration in seconds, if known.
    pub fn duration(&self) -> Option<f64> {
        let d = self.ictx.duration();
        (d > 0).then(|| d as f64 / f64::from(ff::ffi::AV_TIME_BASE))
    }

    /// Packets the decoders refused (corrupt data); decoding continues past them, like `ffmpeg`.
    pub fn bad_packets(&self) -> u64 {
        self.bad_packets
    }

    /// How far decoding got, against how long the source says it is.
    pub fn extent(&self) -> Extent {
        Extent { decoded: self.decoded_until, expected: self.expected, read_error: self.read_error.clone() }
    }

    /// The next decoded frame in file order, or `None` at the end (all decoders drained).
    pub fn next_frame(&mut self) -> Result<Option<Decoded>, MediaError> {
        loop {
            if let Some(mut d) = self.pending.pop_front() {
                self.shift(&mut d);
                return Ok(Some(d));
            }
            if self.eof {
                if self.looping && self.decoded_until > 0.0 {
                    tracing::debug!(
                        "{}: looping at {:.2} s",
                        self.path.display(),
                        self.loop_offset + self.decoded_until
                    );
                    self.restart()?;
                    continue;
                }
                return Ok(None);
            }
            let mut packet = ff::Packet::empty();
            // Only what this read logs explains its failure (not an earlier decoder message); the
            // log slot is this thread's, so the read must stay on the thread that clears it.
            super::clear_ffmpeg_error();
            match packet.read(&mut self.ictx) {
                Ok(()) => self.decode(Some(&packet))?,
                Err(ff::Error::Eof) => {
                    self.decode(None)?;
                    self.eof = true;
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => continue,
                Err(e) => {
                    // A demuxer error mid-file (a truncated MP4's `partial file`, a damaged
                    // cluster): what was read so far is drained and the caller decides, from
                    // `extent()`, whether that is a failure.
                    let cause = super::last_ffmpeg_error().unwrap_or_else(|| e.to_string());
                    tracing::debug!("{}: reading stopped: {cause}", self.path.display());
                    self.read_error = Some(cause);
                    self.decode(None)?;
                    self.eof = true;
                }
            }
        }
    }

    /// Sends a packet (or the end of stream, `None`) to its decoder(s) and queues the frames out.
    fn decode(&mut self, packet: Option<&ff::Packet>) -> Result<(), MediaError> {
        let index = packet.map(|p| p.stream());
        let path = self.path.display().to_string();
        if let Some((info, dec)) = &mut self.video {
            if index.is_none() || index == Some(info.stream_index) {
                let ctx = || format!("{path}: video stream #{}", info.stream_index);
                if !send(dec, packet, &mut self.bad_packets).map_err(|e| MediaError::ffmpeg(ctx(), e))? {
                    return Ok(());
                }
                let tb = info.time_base;
                loop {
                    let mut frame = VideoFrame::empty();
                    match dec.receive_frame(&mut frame) {
                        Ok(()) => match &mut self.filter {
                            None => {
                                let end = frame_end(frame.timestamp(), frame.packet().duration, tb);
                                note_decoded(&mut self.decoded_until, self.start, end);
                                self.pending.push_back(Decoded::Video(frame));
                            }
                            Some(f) => {
                                f.push(Some(&mut frame))?;
                                drain_filter(f, &mut self.pending, &mut self.decoded_until, self.start, tb)?;
                            }
                        },
                        Err(e) if is_again_or_eof(&e) && packet.is_none() => {
                            if let Some(f) = &mut self.filter {
                                f.push(None)?;
                                drain_filter(f, &mut self.pending, &mut self.decoded_until, self.start, tb)?;
                            }
                            break;
                        }
                        Err(e) if is_again_or_eof(&e) => break,
                        // Corrupt data surfaces here with frame threading: skip it, like `ffmpeg`.
                        Err(ff::Error::InvalidData) => self.bad_packets += 1,
                        Err(e) => return Err(MediaError::ffmpeg(ctx(), e)),
                    }
                }
            }
        }
        for (track, (info, dec)) in self.audio.iter_mut().enumerate() {
            if index.is_some() && index != Some(info.stream_index) {
                continue;
            }
            let ctx = || format!("{path}: audio stream #{}", info.stream_index);
            if !send(dec, packet, &mut self.bad_packets).map_err(|e| MediaError::ffmpeg(ctx(), e))? {
                continue;
            }
            let tb = Ratio::from(dec.packet_time_base());
            loop {
                let mut frame = AudioFrame::empty();
                match dec.receive_frame(&mut frame) {
                    Ok(()) => {
                        let rate = i64::from(frame.rate().max(1));
                        let end = frame_end(frame.timestamp(), 0, tb).map(|t| t + frame.samples() as f64 / rate as f64);
                        note_decoded(&mut self.decoded_until, self.start, end);
                        self.pending.push_back(Decoded::Audio { track, frame });
                    }
                    Err(e) if is_again_or_eof(&e) => break,
                    Err(ff::Error::InvalidData) => self.bad_packets += 1,
                    Err(e) => return Err(MediaError::ffmpeg(ctx(), e)),
                }
            }
        }
        Ok(())
    }
}

/// Queues the frames the video filter has ready (timed in `tb`, the filter's output).
fn drain_filter(
    f: &mut VideoFilter,
    pending: &mut VecDeque<Decoded>,
    until: &mut f64,
    start: f64,
    tb: Ratio,
) -> Result<(), MediaError> {
    while let Some(out) = f.pull()? {
        note_decoded(until, start, frame_end(out.timestamp(), 0, tb));
        pending.push_back(Decoded::Video(out));
    }
    Ok(())
}

/// The end of a frame at `ts` lasting `duration` (both in `tb`), in seconds.
fn frame_end(ts: Option<i64>, duration: i64, tb: Ratio) -> Option<f64> {
    let ts = ts?;
    (tb.den > 0).then(|| (ts as f64 + duration.max(0) as f64) * tb.num as f64 / tb.den as f64)
}

fn note_decoded(until: &mut f64, start: f64, end: Option<f64>) {
    if let Some(end) = end {
        let decoded = end - start;
        if decoded.is_finite() && decoded > *until {
            *until = decoded;
        }
    }
}

/// A stream's start and end in seconds (source clock), the end from its own duration or its
/// Matroska `DURATION` tag.
fn stream_end(stream: &ff::format::stream::Stream) -> (Option<f64>, Option<f64>) {
    let tb = Ratio::from(stream.time_base());
    let start = match stream.start_time() {
        t if t == ff::ffi::AV_NOPTS_VALUE || tb.den <= 0 => None,
        t => Some(t as f64 * tb.num as f64 / tb.den as f64),
    };
    let end = stream_duration(stream, tb).map(|d| start.unwrap_or(0.0) + d);
    (start, end)
}

/// A stream's own duration in seconds, or its Matroska `DURATION` tag (`HH:MM:SS.nnnnnnnnn`).
fn stream_duration(stream: &ff::format::stream::Stream, tb: Ratio) -> Option<f64> {
    if let Some(d) = seconds(stream.duration(), tb) {
        return Some(d);
    }
    let tag = stream.metadata().get("DURATION").map(str::to_string)?;
    let mut parts = tag.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let d = h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
    (d.is_finite() && d > 0.0).then_some(d)
}

/// Refuses video sizes the pipeline cannot scale or cannot hold in memory.
fn check_size(context: &str, width: u32, height: u32) -> Result<(), MediaError> {
    if width == 0 || height == 0 {
        return Err(MediaError::invalid(context, "the video size is unknown"));
    }
    if width < MIN_VIDEO_SIDE || height < MIN_VIDEO_SIDE {
        return Err(MediaError::invalid(
            context,
            format!("video is {width}x{height}: too small to scale (minimum {MIN_VIDEO_SIDE}x{MIN_VIDEO_SIDE})"),
        ));
    }
    if width > MAX_VIDEO_SIDE || height > MAX_VIDEO_SIDE || u64::from(width) * u64::from(height) > MAX_VIDEO_AREA {
        return Err(MediaError::invalid(
            context,
            format!("video is {width}x{height}: too large (at most {MAX_VIDEO_SIDE} per side and 8192x4320 pixels)"),
        ));
    }
    Ok(())
}

/// Sends a packet or EOF; `Ok(false)` when the decoder refused corrupt data (counted, skipped).
fn send(dec: &mut ff::decoder::Opened, packet: Option<&ff::Packet>, bad: &mut u64) -> Result<bool, ff::Error> {
    let result = match packet {
        Some(p) => dec.send_packet(p),
        None => dec.send_eof(),
    };
    match result {
        Ok(()) => Ok(true),
        Err(ff::Error::InvalidData) => {
            *bad += 1;
            tracing::debug!("skipping a corrupt packet");
            Ok(false)
        }
        Err(e) if is_again_or_eof(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

fn is_again_or_eof(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Eof) || matches!(e, ff::Error::Other { errno } if *errno == ff::util::error::EAGAIN)
}

fn codec_name(dec: &ff::decoder::Opened) -> String {
    dec.codec().map(|c| c.name().to_string()).unwrap_or_else(|| format!("{:?}", dec.id()))
}

fn seconds(ts: i64, tb: Ratio) -> Option<f64> {
    (ts > 0 && tb.den > 0).then(|| ts as f64 * tb.num as f64 / tb.den as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two jobs failing at once each report their own FFmpeg message: the last error is kept per
    /// thread, not in one process-wide slot the other job's open clears or overwrites.
    #[test]
    fn concurrent_opens_report_their_own_ffmpeg_error() {
        super::super::init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        // An MP4 cut before its `moov` box (ftyp + mdat only), and a Matroska file whose EBML
        // header is garbage.
        let mp4 = dir.path().join("truncated.mp4");
        let mut bytes = vec![0, 0, 0, 20];
        bytes.extend_from_slice(b"ftypisom\0\0\x02\0isom");
        bytes.extend_from_slice(&[0, 0, 0, 72]);
        bytes.extend_from_slice(b"mdat");
        bytes.extend_from_slice(&[0; 64]);
        std::fs::write(&mp4, bytes).unwrap();
        let mkv = dir.path().join("garbage.mkv");
        let mut bytes = vec![0x1a, 0x45, 0xdf, 0xa3];
        bytes.extend_from_slice(&[0xff; 60]);
        std::fs::write(&mkv, bytes).unwrap();

        let barrier = std::sync::Barrier::new(2);
        let job = |path: &Path, expected: &str, other: &str| {
            barrier.wait();
            for i in 0..300 {
                let message = match Source::open(path) {
                    Ok(_) => panic!("{}: opened", path.display()),
                    Err(e) => e.to_string(),
                };
                assert!(
                    message.contains(expected) && !message.contains(other),
                    "iteration {i}: {} failed with `{message}`, expected FFmpeg's `{expected}`",
                    path.display()
                );
            }
        };
        std::thread::scope(|scope| {
            let a = scope.spawn(|| job(&mp4, "moov atom not found", "EBML"));
            let b = scope.spawn(|| job(&mkv, "EBML header parsing failed", "moov"));
            for h in [a, b] {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
}
