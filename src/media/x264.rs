//! H.264 through libx264, configured for adaptive streaming: High profile, closed GOPs, capped
//! bitrate (VBV `maxrate = bitrate`, `bufsize = 2 × bitrate`), and IDR pictures exactly where the
//! pipeline asks for them (the fragment boundaries), so every rung cuts at the same frames.
//!
//! The manifest declares the rung's bitrate and players pick rungs by it, so the average must not
//! exceed it. The VBV bounds what an encoder sends in `T` seconds by `maxrate × T` plus what its
//! buffer holds at the start (`vbv-init × bufsize`); x264's default (90 % of a 2 s buffer, 1.8 s of
//! bitrate, once per lane) made a 6 s grain clip average 33 % over. The start fullness is therefore
//! [`H264Settings::vbv_init`], which the pipeline keeps at 0.25 s of bitrate over all of a rung's
//! lanes together.

use ff::picture;
use ffmpeg_next as ff;

use super::scale::{share_picture, OUTPUT_FORMAT};
use super::{EncodedPacket, MediaError, Ratio, VideoFrame};

/// How one rung is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct H264Settings {
    pub width: u32,
    pub height: u32,
    /// Target and maximum bitrate, bits per second.
    pub bitrate: u64,
    /// x264 preset (`ultrafast` … `placebo`).
    pub preset: String,
    /// Longest GOP x264 may choose on its own. The pipeline forces an IDR at every fragment
    /// boundary; this only has to be longer than a fragment so x264 adds none in between.
    pub keyint: u32,
    /// Nominal frame rate: the encoder's time base is its inverse and frames are numbered 0, 1, 2…
    /// (the rate control needs a frame rate; real times are kept by the pipeline).
    pub frame_rate: Ratio,
    /// Initial VBV buffer fullness, as a fraction of `bufsize` (x264's `vbv-init`).
    pub vbv_init: f64,
    /// Signal BT.709 primaries, transfer and matrix in the SPS (VUI): set when the pictures were
    /// tone-mapped to BT.709, so players do not guess; otherwise left unspecified, as before.
    pub bt709: bool,
}

impl H264Settings {
    /// The `vbv_init` for a rung coded by `lanes` encoders: 0.25 s of bitrate shared by all of them
    /// (each lane starts with a buffer of its own), at least 2 % of the buffer.
    pub fn vbv_init_for_lanes(lanes: usize) -> f64 {
        (0.125 / lanes.max(1) as f64).max(0.02)
    }
}

pub struct H264Encoder {
    enc: ff::encoder::video::Encoder,
    extradata: Vec<u8>,
    context: String,
}

impl H264Encoder {
    /// Opens libx264. `context` names the rung in errors (e.g. `sample_1500k.ismv`).
    pub fn open(s: &H264Settings, context: impl Into<String>) -> Result<Self, MediaError> {
        let context = context.into();
        let err = |what: &str, e| MediaError::ffmpeg(format!("{context}: {what}"), e);
        let codec = ff::encoder::find_by_name("libx264")
            .ok_or_else(|| MediaError::invalid(&context, "FFmpeg was built without libx264"))?;
        let mut enc = ff::codec::Context::new_with_codec(codec).encoder().video().map_err(|e| err("libx264", e))?;
        let rate = s.frame_rate.positive().unwrap_or(Ratio::new(25, 1));
        let (num, den) = (clamp_i32(rate.num), clamp_i32(rate.den));
        enc.set_width(s.width);
        enc.set_height(s.height);
        enc.set_format(OUTPUT_FORMAT);
        enc.set_time_base(ff::Rational::new(den, num));
        enc.set_frame_rate(Some(ff::Rational::new(num, den)));
        enc.set_aspect_ratio(ff::Rational::new(1, 1));
        enc.set_bit_rate(usize::try_from(s.bitrate).unwrap_or(usize::MAX));
        enc.set_max_bit_rate(usize::try_from(s.bitrate).unwrap_or(usize::MAX));
        // Parameter sets go to extradata (CodecPrivateData), not in-band.
        enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);

        let keyint = s.keyint.max(2);
        let mut opts = ff::Dictionary::new();
        opts.set("preset", &s.preset);
        opts.set("profile", "high");
        // One thread: x264's frame and slice threads make VBV depend on timing, so the output would
        // differ between runs; a rung uses more cores through lanes (`pipeline::encoder_lanes`).
        opts.set("threads", "1");
        opts.set("bufsize", &(s.bitrate.saturating_mul(2)).to_string());
        // A frame marked I becomes an IDR (not a recovery-point I frame).
        opts.set("forced-idr", "1");
        opts.set(
            "x264-params",
            &format!(
                "keyint={keyint}:min-keyint={}:open-gop=0:sliced-threads=0:vbv-init={:.4}{}",
                (keyint / 2).max(1),
                s.vbv_init.clamp(0.01, 1.0),
                if s.bt709 { ":colorprim=bt709:transfer=bt709:colormatrix=bt709" } else { "" }
            ),
        );
        let enc = enc.open_as_with(codec, opts).map_err(|e| err("opening libx264", e))?;
        let extradata = super::encoder_extradata(&enc);
        if extradata.is_empty() {
            return Err(MediaError::invalid(&context, "libx264 produced no SPS/PPS"));
        }
        Ok(H264Encoder { enc, extradata, context })
    }

    /// The Annex-B SPS/PPS (and x264's SEI) written at open.
    pub fn extradata(&self) -> &[u8] {
        &self.extradata
    }

    /// Encodes frame number `index`; `idr` forces an IDR picture on it. Returns the packets ready.
    /// `picture` may be shared with other rungs: libx264 copies it in before this returns, and the
    /// frame given to it is a new reference to the same pixels (only its pts and type are set).
    pub fn encode(&mut self, picture: &VideoFrame, index: i64, idr: bool) -> Result<Vec<EncodedPacket>, MediaError> {
        let mut frame = share_picture(picture);
        frame.set_pts(Some(index));
        frame.set_kind(if idr { picture::Type::I } else { picture::Type::None });
        self.enc
            .send_frame(&frame)
            .map_err(|e| MediaError::ffmpeg(format!("{}: encoding frame {index}", self.context), e))?;
        self.drain()
    }

    /// Flushes the encoder: the delayed packets.
    pub fn finish(&mut self) -> Result<Vec<EncodedPacket>, MediaError> {
        self.enc.send_eof().map_err(|e| MediaError::ffmpeg(format!("{}: flushing", self.context), e))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<Vec<EncodedPacket>, MediaError> {
        let mut out = Vec::new();
        loop {
            let mut packet = ff::Packet::empty();
            match self.enc.receive_packet(&mut packet) {
                Ok(()) => {
                    let pts =
                        packet.pts().ok_or_else(|| MediaError::invalid(&self.context, "libx264 packet without pts"))?;
                    out.push(EncodedPacket {
                        pts,
                        key: packet.is_key(),
                        data: packet.data().unwrap_or_default().to_vec(),
                    });
                }
                Err(ff::Error::Eof) => break,
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => break,
                Err(e) => return Err(MediaError::ffmpeg(format!("{}: encoding", self.context), e)),
            }
        }
        Ok(out)
    }
}

fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
