//! AAC-LC through FFmpeg's native `aac` encoder: any decoded audio → planar float at the output rate
//! (swresample), mono or stereo, cut into 1024-sample frames by a FIFO, encoded.
//!
//! # Timeline and priming
//! Frames sent to the encoder are numbered by sample: frame `k` has pts `k × 1024` in the time base
//! `1/rate`, starting at 0 (the start of the presentation). The encoder delays its output by its
//! priming (`initial_padding`, 1024 samples) and labels its first packet pts −1024: that packet
//! carries only the priming. **We drop every packet with a negative pts** and keep the encoder's own
//! labels for the rest, so packet `k` is presented at sample `k × 1024` exactly, the audio stays in
//! sync with the video to the sample, nothing is negative and nothing drifts. (The price is the
//! first 21 ms fading in, since a decoder starting at packet 0 lacks the priming packet's overlap;
//! the alternative, keeping the priming packet at 0, would delay all audio by 1024 samples.)
//! Trailing packets that start at or after the last input sample (padding only) are dropped too,
//! so the track ends within one frame after the source.

use std::ptr;

use ff::ffi;
use ff::format::sample::Type as SampleType;
use ff::format::Sample;
use ff::ChannelLayout;
use ffmpeg_next as ff;

use super::{AudioFrame, EncodedPacket, MediaError};

/// Samples per AAC-LC frame.
pub const FRAME: usize = 1024;

/// How many channels an AAC track keeps (`--audio-channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channels {
    /// `2`: mono stays mono, everything else becomes stereo (what every player plays).
    #[default]
    Stereo,
    /// `6`: more than two channels become 5.1; mono and stereo stay as they are (never upmixed).
    Surround,
    /// `source`: the source's channel count, up to 5.1 (7.1 and more become 5.1).
    Source,
}

/// Most channels an AAC-LC track gets: 5.1 (channel configuration 6), which every AAC-LC
/// decoder plays; 7.1 (configuration 7) is left out (players and browsers differ).
pub const MAX_CHANNELS: u16 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacSettings {
    pub sample_rate: u32,
    /// 1 to 6: mono, stereo, 3.0, 4.0, 5.0, 5.1 (the AAC channel configurations 1 to 6).
    pub channels: u16,
    /// Bits per second.
    pub bitrate: u64,
}

impl AacSettings {
    /// What a source track becomes: 44.1 and 48 kHz are kept, anything else is resampled to 48 kHz;
    /// mono stays mono, everything else is mixed to stereo.
    pub fn for_source(sample_rate: u32, channels: u16, bitrate: u64) -> Self {
        Self::for_source_with(sample_rate, channels, bitrate, Channels::Stereo)
    }

    /// As [`AacSettings::for_source`], with the channel count `choice` gives.
    pub fn for_source_with(sample_rate: u32, channels: u16, bitrate: u64, choice: Channels) -> Self {
        let channels = match (choice, channels) {
            (_, 1) => 1,
            (Channels::Stereo, _) | (Channels::Surround, 0..=2) => 2,
            (Channels::Surround, _) => MAX_CHANNELS,
            (Channels::Source, 0) => 2,
            (Channels::Source, n) => n.min(MAX_CHANNELS),
        };
        AacSettings {
            sample_rate: if sample_rate == 44_100 || sample_rate == 48_000 { sample_rate } else { 48_000 },
            channels,
            bitrate,
        }
    }
}

/// The layout of AAC channel configuration `channels` (ISO/IEC 14496-3 table 1.19), as FFmpeg's
/// `aac` encoder takes it: its 5.1 is FFmpeg's `5.1` (back surrounds), which it signals as
/// configuration 6 in the AudioSpecificConfig; a source's side surrounds are mixed into it by
/// swresample.
pub fn layout(channels: u16) -> ChannelLayout {
    match channels {
        1 => ChannelLayout::MONO,
        3 => ChannelLayout::SURROUND,
        4 => ChannelLayout::_4POINT0,
        5 => ChannelLayout::_5POINT0_BACK,
        6 => ChannelLayout::_5POINT1_BACK,
        _ => ChannelLayout::STEREO,
    }
}

/// A channel count in words: `mono`, `stereo`, `5.1`, `7.1`, else `N channels`.
pub fn channels_name(channels: u16) -> String {
    match channels {
        1 => "mono".into(),
        2 => "stereo".into(),
        3 => "3.0".into(),
        4 => "4.0".into(),
        5 => "5.0".into(),
        6 => "5.1".into(),
        8 => "7.1".into(),
        n => format!("{n} channels"),
    }
}

pub struct AacEncoder {
    enc: ff::encoder::audio::Encoder,
    settings: AacSettings,
    layout: ChannelLayout,
    swr: Option<Resampler>,
    fifo: Vec<Vec<f32>>,
    /// Samples still to drop from the start (source audio before the presentation's start).
    trim: u64,
    /// Samples handed to the encoder so far (the pts of the next frame).
    fed: u64,
    asc: Vec<u8>,
    context: String,
}

impl AacEncoder {
    /// Opens the encoder. `context` names the output file/track in errors.
    pub fn open(settings: AacSettings, context: impl Into<String>) -> Result<Self, MediaError> {
        let context = context.into();
        let codec = ff::encoder::find_by_name("aac")
            .ok_or_else(|| MediaError::invalid(&context, "FFmpeg has no native aac encoder"))?;
        let mut enc = ff::codec::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(|e| MediaError::ffmpeg(format!("{context}: aac"), e))?;
        let layout = layout(settings.channels);
        enc.set_rate(settings.sample_rate as i32);
        enc.set_format(Sample::F32(SampleType::Planar));
        enc.set_channel_layout(layout);
        enc.set_channels(i32::from(settings.channels));
        enc.set_bit_rate(usize::try_from(settings.bitrate).unwrap_or(usize::MAX));
        enc.set_time_base(ff::Rational::new(1, settings.sample_rate as i32));
        enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
        let enc = enc
            .open_as_with(codec, ff::Dictionary::new())
            .map_err(|e| MediaError::ffmpeg(format!("{context}: opening the aac encoder"), e))?;
        let asc = super::encoder_extradata(&enc);
        if asc.is_empty() {
            return Err(MediaError::invalid(&context, "the aac encoder produced no AudioSpecificConfig"));
        }
        Ok(AacEncoder {
            enc,
            settings,
            layout,
            swr: None,
            fifo: vec![Vec::new(); usize::from(settings.channels)],
            trim: 0,
            fed: 0,
            asc,
            context,
        })
    }

    pub fn settings(&self) -> AacSettings {
        self.settings
    }

    /// The AudioSpecificConfig (`CodecPrivateData`).
    pub fn asc(&self) -> &[u8] {
        &self.asc
    }

    /// Where the next input sample lands on the output timeline, in samples from the start.
    pub fn position(&self) -> i64 {
        let queued = self.fifo.first().map_or(0, Vec::len) as i64;
        self.fed as i64 + queued - self.trim as i64
    }

    /// Moves what comes next by `offset` samples: a positive offset inserts that many samples of
    /// silence (the source audio starts after the presentation's start, or has a gap), a negative
    /// one drops that many samples (audio before the start, or overlapping timestamps).
    pub fn shift(&mut self, offset: i64) {
        if offset > 0 {
            let pad = offset as u64;
            let absorbed = pad.min(self.trim);
            self.trim -= absorbed;
            for ch in &mut self.fifo {
                ch.extend(std::iter::repeat_n(0.0, (pad - absorbed) as usize));
            }
        } else {
            self.trim += offset.unsigned_abs();
        }
    }

    /// Resamples and queues one decoded frame; returns the packets that became ready.
    pub fn push(&mut self, frame: &AudioFrame) -> Result<Vec<EncodedPacket>, MediaError> {
        let key = (frame.format(), frame.rate(), frame.channels(), frame.channel_layout().bits());
        if self.swr.as_ref().map(|s| s.key) != Some(key) {
            let swr = Resampler::new(key, self.settings, self.layout)
                .map_err(|e| MediaError::ffmpeg(format!("{}: resampler", self.context), e))?;
            // A format change mid-stream: keep what the old resampler still holds.
            if let Some(old) = self.swr.as_mut() {
                old.convert(None, &mut self.fifo)
                    .map_err(|e| MediaError::ffmpeg(format!("{}: resampling", self.context), e))?;
            }
            self.swr = Some(swr);
        }
        if let Some(swr) = self.swr.as_mut() {
            swr.convert(Some(frame), &mut self.fifo)
                .map_err(|e| MediaError::ffmpeg(format!("{}: resampling", self.context), e))?;
        }
        self.apply_trim();
        self.encode_ready(false)
    }

    /// Drains the resampler and the FIFO (a last, shorter frame) and flushes the encoder.
    pub fn finish(&mut self) -> Result<Vec<EncodedPacket>, MediaError> {
        if let Some(swr) = self.swr.as_mut() {
            swr.convert(None, &mut self.fifo)
                .map_err(|e| MediaError::ffmpeg(format!("{}: resampling", self.context), e))?;
        }
        self.apply_trim();
        let mut out = self.encode_ready(true)?;
        self.enc.send_eof().map_err(|e| MediaError::ffmpeg(format!("{}: flushing", self.context), e))?;
        out.extend(self.drain()?);
        let end = self.fed as i64;
        out.retain(|p| p.pts < end);
        Ok(out)
    }

    /// Samples sent to the encoder so far (after trimming and padding).
    pub fn samples(&self) -> u64 {
        self.fed
    }

    fn apply_trim(&mut self) {
        let available = self.fifo.first().map_or(0, Vec::len) as u64;
        let n = self.trim.min(available) as usize;
        if n > 0 {
            for ch in &mut self.fifo {
                ch.drain(..n);
            }
            self.trim -= n as u64;
        }
    }

    fn encode_ready(&mut self, last: bool) -> Result<Vec<EncodedPacket>, MediaError> {
        let mut out = Vec::new();
        loop {
            let available = self.fifo.first().map_or(0, Vec::len);
            let n = if available >= FRAME {
                FRAME
            } else if last && available > 0 {
                available
            } else {
                break;
            };
            let mut frame = AudioFrame::new(Sample::F32(SampleType::Planar), n, self.layout);
            frame.set_rate(self.settings.sample_rate);
            frame.set_pts(Some(self.fed as i64));
            for (c, ch) in self.fifo.iter_mut().enumerate() {
                let dst = frame.data_mut(c);
                for (i, v) in ch.drain(..n).enumerate() {
                    dst[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
                }
            }
            self.enc
                .send_frame(&frame)
                .map_err(|e| MediaError::ffmpeg(format!("{}: encoding at sample {}", self.context, self.fed), e))?;
            self.fed += n as u64;
            out.extend(self.drain()?);
        }
        Ok(out)
    }

    fn drain(&mut self) -> Result<Vec<EncodedPacket>, MediaError> {
        let mut out = Vec::new();
        loop {
            let mut packet = ff::Packet::empty();
            match self.enc.receive_packet(&mut packet) {
                Ok(()) => {
                    let pts =
                        packet.pts().ok_or_else(|| MediaError::invalid(&self.context, "aac packet without pts"))?;
                    // The priming packet (negative pts) is dropped: see the module documentation.
                    if pts >= 0 {
                        out.push(EncodedPacket { pts, key: true, data: packet.data().unwrap_or_default().to_vec() });
                    }
                }
                Err(ff::Error::Eof) => break,
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => break,
                Err(e) => return Err(MediaError::ffmpeg(format!("{}: encoding", self.context), e)),
            }
        }
        Ok(out)
    }
}

type ResamplerKey = (Sample, u32, u16, u64);

/// swresample, driven through `swr_convert` so the output goes straight into the FIFO's planes and
/// the input's channel layout is taken as the decoder reports it.
struct Resampler {
    ptr: *mut ffi::SwrContext,
    key: ResamplerKey,
    out_channels: usize,
}

// SAFETY: the SwrContext is owned exclusively by this value and only used through `&mut self`.
unsafe impl Send for Resampler {}

impl Resampler {
    fn new(key: ResamplerKey, out: AacSettings, out_layout: ChannelLayout) -> Result<Self, ff::Error> {
        let (format, rate, channels, bits) = key;
        let in_layout = if bits != 0 && ChannelLayout::from_bits_truncate(bits).channels() == i32::from(channels) {
            bits
        } else {
            ChannelLayout::default(i32::from(channels)).bits()
        };
        if channels == 0 || rate == 0 {
            return Err(ff::Error::InvalidData);
        }
        // SAFETY: plain FFI calls with valid arguments; a null return is checked, and the context is
        // freed on the init error path and otherwise by `Drop`.
        unsafe {
            let mut ptr = ffi::swr_alloc_set_opts(
                ptr::null_mut(),
                out_layout.bits() as i64,
                Sample::F32(SampleType::Planar).into(),
                out.sample_rate as i32,
                in_layout as i64,
                format.into(),
                rate as i32,
                0,
                ptr::null_mut(),
            );
            if ptr.is_null() {
                return Err(ff::Error::InvalidData);
            }
            let ret = ffi::swr_init(ptr);
            if ret < 0 {
                ffi::swr_free(&mut ptr);
                return Err(ff::Error::from(ret));
            }
            Ok(Resampler { ptr, key, out_channels: usize::from(out.channels) })
        }
    }

    /// Converts `input` (or flushes the internal delay with `None`) and appends to `fifo`.
    fn convert(&mut self, input: Option<&AudioFrame>, fifo: &mut [Vec<f32>]) -> Result<(), ff::Error> {
        let in_samples = input.map_or(0, |f| f.samples()) as i32;
        let mut bufs: Vec<Vec<f32>>;
        // SAFETY: `self.ptr` is a live, initialised SwrContext. The output pointers point at
        // `out_channels` planes of `capacity` f32 each (swr_get_out_samples bounds what swr_convert
        // writes, and we pass that same capacity). The input pointers are the frame's
        // `extended_data`, valid for `in_samples` samples of the frame's format and channel count,
        // which the context was configured for (`key`); a null input flushes.
        unsafe {
            let capacity = ffi::swr_get_out_samples(self.ptr, in_samples).max(0) + 16;
            bufs = vec![vec![0f32; capacity as usize]; self.out_channels];
            let mut outs: Vec<*mut u8> = bufs.iter_mut().map(|b| b.as_mut_ptr().cast::<u8>()).collect();
            let ins: *mut *const u8 = match input {
                Some(f) => (*f.as_ptr()).extended_data.cast::<*const u8>(),
                None => ptr::null_mut(),
            };
            let n = ffi::swr_convert(self.ptr, outs.as_mut_ptr(), capacity, ins, in_samples);
            if n < 0 {
                return Err(ff::Error::from(n));
            }
            for b in &mut bufs {
                b.truncate(n as usize);
            }
        }
        for (dst, src) in fifo.iter_mut().zip(bufs) {
            dst.extend(src);
        }
        Ok(())
    }
}

impl Drop for Resampler {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: `ptr` came from swr_alloc_set_opts and is freed exactly once, here.
            unsafe { ffi::swr_free(&mut self.ptr) };
        }
    }
}
