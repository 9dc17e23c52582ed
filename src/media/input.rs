//! The source: open a file FFmpeg can read, pick its streams (the best video stream, every audio
//! stream), and decode them in file order. One decode for the whole job; the pipeline fans the
//! decoded frames out to the rungs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ff::codec::threading;
use ff::format::stream::Disposition;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::{AudioFrame, MediaError, Ratio, VideoFrame};

/// The chosen video stream, as the decoder reports it once opened.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    pub stream_index: usize,
    /// Decoder name, e.g. `h264`, `vp9`, `mpeg2video`.
    pub codec: String,
    /// Coded (storage) size, before the sample aspect ratio and rotation are applied.
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio, `None` when unknown or square.
    pub sample_aspect: Option<Ratio>,
    /// Clockwise rotation a player applies (0, 90, 180 or 270), from the display matrix.
    pub rotation: u32,
    pub time_base: Ratio,
    /// Average frame rate if the container knows it, else the real base frame rate.
    pub frame_rate: Option<Ratio>,
    /// Stream duration in seconds if known.
    pub duration: Option<f64>,
    /// Frame count if the container states it (MP4 does, TS doesn't).
    pub frames: Option<u64>,
}

/// One audio stream of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    pub stream_index: usize,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// ISO 639-2 language from the stream's metadata, `und` if absent.
    pub language: String,
    pub time_base: Ratio,
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
pub struct Source {
    path: PathBuf,
    ictx: ff::format::context::Input,
    video: Option<(VideoInfo, ff::decoder::Video)>,
    audio: Vec<(AudioInfo, ff::decoder::Audio)>,
    pending: VecDeque<Decoded>,
    eof: bool,
    bad_packets: u64,
}

impl Source {
    /// Opens `path`, probes its streams and opens a decoder for the best video stream (cover art
    /// excluded) and for every audio stream.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        let ctx = || path.display().to_string();
        let ictx = ff::format::input(&path).map_err(|e| MediaError::ffmpeg(ctx(), e))?;
        let video_index = pick_video(&ictx);
        let mut video = None;
        let mut audio = Vec::new();
        for stream in ictx.streams() {
            let kind = stream.parameters().medium();
            let index = stream.index();
            if kind == MediaType::Video && Some(index) == video_index {
                let sctx = format!("{}: video stream #{index}", ctx());
                let mut cctx = ff::codec::Context::from_parameters(stream.parameters())
                    .map_err(|e| MediaError::ffmpeg(sctx.clone(), e))?;
                cctx.set_threading(threading::Config { kind: threading::Type::Frame, count: 0, ..Default::default() });
                let mut dec = cctx.decoder();
                dec.set_packet_time_base(stream.time_base());
                let dec = dec.video().map_err(|e| MediaError::ffmpeg(sctx.clone(), e))?;
                let info = VideoInfo {
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
                };
                if info.width == 0 || info.height == 0 {
                    return Err(MediaError::invalid(sctx, "the video size is unknown"));
                }
                video = Some((info, dec));
            } else if kind == MediaType::Audio {
                let sctx = format!("{}: audio stream #{index}", ctx());
                let mut dec = ff::codec::Context::from_parameters(stream.parameters())
                    .map_err(|e| MediaError::ffmpeg(sctx.clone(), e))?
                    .decoder();
                dec.set_packet_time_base(stream.time_base());
                let dec = dec.audio().map_err(|e| MediaError::ffmpeg(sctx.clone(), e))?;
                let language = stream.metadata().get("language").map(normalize_language);
                let info = AudioInfo {
                    stream_index: index,
                    codec: codec_name(&dec),
                    sample_rate: dec.rate(),
                    channels: dec.channels(),
                    language: language.unwrap_or_else(|| "und".to_string()),
                    time_base: stream.time_base().into(),
                };
                audio.push((info, dec));
            }
        }
        if video.is_none() && audio.is_empty() {
            return Err(MediaError::invalid(ctx(), "no video or audio stream"));
        }
        Ok(Source {
            path: path.to_path_buf(),
            ictx,
            video,
            audio,
            pending: VecDeque::new(),
            eof: false,
            bad_packets: 0,
        })
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

    /// The container's duration in seconds, if known.
    pub fn duration(&self) -> Option<f64> {
        let d = self.ictx.duration();
        (d > 0).then(|| d as f64 / f64::from(ff::ffi::AV_TIME_BASE))
    }

    /// Packets the decoders refused (corrupt data); decoding continues past them, like `ffmpeg`.
    pub fn bad_packets(&self) -> u64 {
        self.bad_packets
    }

    /// The next decoded frame in file order, or `None` at the end (all decoders drained).
    pub fn next_frame(&mut self) -> Result<Option<Decoded>, MediaError> {
        loop {
            if let Some(d) = self.pending.pop_front() {
                return Ok(Some(d));
            }
            if self.eof {
                return Ok(None);
            }
            let mut packet = ff::Packet::empty();
            match packet.read(&mut self.ictx) {
                Ok(()) => self.decode(Some(&packet))?,
                Err(ff::Error::Eof) => {
                    self.decode(None)?;
                    self.eof = true;
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => continue,
                Err(e) => return Err(MediaError::ffmpeg(format!("{}: reading", self.path.display()), e)),
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
                loop {
                    let mut frame = VideoFrame::empty();
                    match dec.receive_frame(&mut frame) {
                        Ok(()) => self.pending.push_back(Decoded::Video(frame)),
                        Err(e) if is_again_or_eof(&e) => break,
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
            loop {
                let mut frame = AudioFrame::empty();
                match dec.receive_frame(&mut frame) {
                    Ok(()) => self.pending.push_back(Decoded::Audio { track, frame }),
                    Err(e) if is_again_or_eof(&e) => break,
                    Err(e) => return Err(MediaError::ffmpeg(ctx(), e)),
                }
            }
        }
        Ok(())
    }
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
            tracing::warn!("skipping a corrupt packet");
            Ok(false)
        }
        Err(e) if is_again_or_eof(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

fn is_again_or_eof(e: &ff::Error) -> bool {
    matches!(e, ff::Error::Eof) || matches!(e, ff::Error::Other { errno } if *errno == ff::util::error::EAGAIN)
}

/// The best video stream that is not cover art.
fn pick_video(ictx: &ff::format::context::Input) -> Option<usize> {
    let is_picture = |s: &ff::format::stream::Stream| s.disposition().contains(Disposition::ATTACHED_PIC);
    if let Some(best) = ictx.streams().best(MediaType::Video) {
        if !is_picture(&best) {
            return Some(best.index());
        }
    }
    ictx.streams().find(|s| s.parameters().medium() == MediaType::Video && !is_picture(s)).map(|s| s.index())
}

fn codec_name(dec: &ff::decoder::Opened) -> String {
    dec.codec().map(|c| c.name().to_string()).unwrap_or_else(|| format!("{:?}", dec.id()))
}

fn seconds(ts: i64, tb: Ratio) -> Option<f64> {
    (ts > 0 && tb.den > 0).then(|| ts as f64 * tb.num as f64 / tb.den as f64)
}

/// ISO 639-2 as manifests want it: three lower-case letters, else `und`.
fn normalize_language(lang: &str) -> String {
    let l = lang.trim().to_ascii_lowercase();
    if l.len() == 3 && l.bytes().all(|b| b.is_ascii_lowercase()) {
        l
    } else {
        "und".to_string()
    }
}

/// Clockwise display rotation from the stream's display matrix (the angle `ffmpeg -autorotate`
/// undoes), snapped to a multiple of 90 degrees.
fn rotation(stream: &ff::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() == ff::codec::packet::side_data::Type::DisplayMatrix {
            if let Some(deg) = display_matrix_rotation(sd.data()) {
                return deg;
            }
        }
    }
    0
}

/// The rotation encoded by a 3×3 display matrix of 16.16 fixed-point `i32` (native endian), as
/// `-av_display_rotation_get()` computes it, snapped to 0/90/180/270.
pub fn display_matrix_rotation(data: &[u8]) -> Option<u32> {
    let m: Vec<f64> = data
        .chunks_exact(4)
        .take(9)
        .map(|c| f64::from(i32::from_ne_bytes([c[0], c[1], c[2], c[3]])) / 65536.0)
        .collect();
    if m.len() < 9 {
        return None;
    }
    let s0 = m[0].hypot(m[3]);
    let s1 = m[1].hypot(m[4]);
    if s0 == 0.0 || s1 == 0.0 {
        return None;
    }
    let theta = (m[1] / s1).atan2(m[0] / s0).to_degrees();
    let snapped = ((theta / 90.0).round() as i64).rem_euclid(4) as u32 * 90;
    Some(snapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(a: i32, b: i32, c: i32, d: i32) -> Vec<u8> {
        [a, b, 0, c, d, 0, 0, 0, 1 << 30].iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    #[test]
    fn rotation_from_display_matrix() {
        let one = 1 << 16;
        assert_eq!(display_matrix_rotation(&matrix(one, 0, 0, one)), Some(0));
        assert_eq!(display_matrix_rotation(&matrix(0, one, -one, 0)), Some(90));
        // What FFmpeg 5.1 writes for an MP4 `rotate=90` tag (ffprobe shows `rotation=90`):
        // `ffmpeg -autorotate` turns it with transpose=cclock, i.e. clockwise 270 (checked against
        // ffmpeg's own output in tests/package_generated.rs).
        assert_eq!(display_matrix_rotation(&matrix(0, -one, one, 0)), Some(270));
        assert_eq!(display_matrix_rotation(&matrix(-one, 0, 0, -one)), Some(180));
        assert_eq!(display_matrix_rotation(&[0; 8]), None);
    }

    #[test]
    fn languages() {
        assert_eq!(normalize_language("ENG"), "eng");
        assert_eq!(normalize_language("en"), "und");
    }
}
