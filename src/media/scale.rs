//! Scaling one rung: any decoded picture → 8-bit 4:2:0 at the rung's size, rotated upright when the
//! source carries rotation metadata (ISMV has no display matrix, so the pixels must be turned).
//!
//! The pipeline decides where each rung scales from (the source, or a larger rung at least twice its
//! size in each dimension: see `pipeline::video::scale_plan`); a scaler whose input already has the
//! output's format and size passes the picture through without copying it.

use ff::format::Pixel;
use ff::software::scaling;
use ffmpeg_next as ff;

use super::{MediaError, VideoFrame};

/// The pixel format every rung is encoded in.
pub const OUTPUT_FORMAT: Pixel = Pixel::YUV420P;

pub struct Scaler {
    width: u32,
    height: u32,
    rotation: u32,
    sws: Option<((Pixel, u32, u32), scaling::Context)>,
    context: String,
}

impl Scaler {
    /// A scaler to `width`×`height` (the upright, displayed size, both even) for a source that must be
    /// rotated clockwise by `rotation` degrees (0, 90, 180, 270). `context` names the rung in errors.
    pub fn new(width: u32, height: u32, rotation: u32, context: impl Into<String>) -> Self {
        Scaler { width, height, rotation: rotation % 360, sws: None, context: context.into() }
    }

    /// Scales (and rotates) one decoded frame into a new frame the encoder may keep. A frame that is
    /// already 4:2:0 at the output size, upright, is returned as a new reference to the same pixels.
    pub fn scale(&mut self, src: &VideoFrame) -> Result<VideoFrame, MediaError> {
        let (pre_w, pre_h) =
            if self.rotation % 180 == 90 { (self.height, self.width) } else { (self.width, self.height) };
        let key = (src.format(), src.width(), src.height());
        if self.rotation == 0 && key == (OUTPUT_FORMAT, self.width, self.height) {
            return Ok(share_picture(src));
        }
        if self.sws.as_ref().map(|(k, _)| *k) != Some(key) {
            let ctx = scaling::Context::get(key.0, key.1, key.2, OUTPUT_FORMAT, pre_w, pre_h, scaling::Flags::BICUBIC)
                .map_err(|e| {
                    MediaError::ffmpeg(
                        format!("{}: scaler {:?} {}x{} → {pre_w}x{pre_h}", self.context, key.0, key.1, key.2),
                        e,
                    )
                })?;
            self.sws = Some((key, ctx));
        }
        let Some((_, sws)) = self.sws.as_mut() else {
            return Err(MediaError::invalid(&self.context, "scaler missing"));
        };
        let mut scaled = VideoFrame::new(OUTPUT_FORMAT, pre_w, pre_h);
        sws.run(src, &mut scaled).map_err(|e| MediaError::ffmpeg(format!("{}: scaling", self.context), e))?;
        if self.rotation == 0 {
            return Ok(scaled);
        }
        let mut out = VideoFrame::new(OUTPUT_FORMAT, self.width, self.height);
        for plane in 0..3 {
            let (sw, sh) = (scaled.plane_width(plane) as usize, scaled.plane_height(plane) as usize);
            let ss = scaled.stride(plane);
            let ds = out.stride(plane);
            rotate_plane(scaled.data(plane), sw, sh, ss, out.data_mut(plane), ds, self.rotation);
        }
        Ok(out)
    }
}

/// A frame with the pixels of `src` and none of its properties: a new reference to the same buffers
/// when possible ([`picture_ref`]), else a copy.
pub fn share_picture(src: &VideoFrame) -> VideoFrame {
    picture_ref(src).unwrap_or_else(|| {
        let mut out = VideoFrame::new(src.format(), src.width(), src.height());
        for plane in 0..src.planes().min(out.planes()) {
            let (ss, ds) = (src.stride(plane), out.stride(plane));
            let row = ss.min(ds);
            let rows = src.plane_height(plane) as usize;
            let from = src.data(plane);
            let to = out.data_mut(plane);
            for y in 0..rows {
                to[y * ds..y * ds + row].copy_from_slice(&from[y * ss..y * ss + row]);
            }
        }
        out
    })
}

/// A new frame that references the pixels of `src` (no copy) with none of its properties or side
/// data (so closed captions or SEI of the source never reach one rung only), or `None` when `src`
/// is not reference-counted or the reference cannot be made (the caller then copies).
pub fn picture_ref(src: &VideoFrame) -> Option<VideoFrame> {
    // SAFETY: `src` is a valid AVFrame for the duration of the call. The new frame takes its own
    // reference (`av_buffer_ref`) on every buffer backing `data[i]`, so the pixels stay valid for as
    // long as it lives, whatever happens to `src`; both are only read from then on (the encoder and
    // the scalers never write into their input). `extended_buf` is only used by formats with more
    // than 8 planes, which are refused here. On any failure the partial frame is freed.
    unsafe {
        let s = src.as_ptr();
        if (*s).buf[0].is_null() || (*s).nb_extended_buf != 0 {
            return None;
        }
        let mut d = ff::ffi::av_frame_alloc();
        if d.is_null() {
            return None;
        }
        (*d).format = (*s).format;
        (*d).width = (*s).width;
        (*d).height = (*s).height;
        for i in 0..(*s).data.len() {
            if !(*s).buf[i].is_null() {
                (*d).buf[i] = ff::ffi::av_buffer_ref((*s).buf[i]);
                if (*d).buf[i].is_null() {
                    ff::ffi::av_frame_free(&mut d);
                    return None;
                }
            }
            (*d).data[i] = (*s).data[i];
            (*d).linesize[i] = (*s).linesize[i];
        }
        Some(VideoFrame::wrap(d))
    }
}

/// Rotates one 8-bit plane of `sw`×`sh` (row stride `ss`) clockwise by `rotation` degrees into `dst`
/// (row stride `ds`; its size is `sh`×`sw` for 90/270, `sw`×`sh` for 180).
pub fn rotate_plane(src: &[u8], sw: usize, sh: usize, ss: usize, dst: &mut [u8], ds: usize, rotation: u32) {
    let (dw, dh) = if rotation % 180 == 90 { (sh, sw) } else { (sw, sh) };
    for y in 0..dh {
        let row = &mut dst[y * ds..y * ds + dw];
        for (x, px) in row.iter_mut().enumerate() {
            let (sx, sy) = match rotation {
                90 => (y, sh - 1 - x),
                180 => (sw - 1 - x, sh - 1 - y),
                270 => (sw - 1 - y, x),
                _ => (x, y),
            };
            *px = src[sy * ss + sx];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rotate_plane;

    // 3x2 source:  a b c
    //              d e f
    const SRC: [u8; 6] = [1, 2, 3, 4, 5, 6];

    fn rot(r: u32) -> Vec<u8> {
        let mut dst = vec![0; 6];
        let ds = if r % 180 == 90 { 2 } else { 3 };
        rotate_plane(&SRC, 3, 2, 3, &mut dst, ds, r);
        dst
    }

    #[test]
    fn rotations() {
        // clockwise 90: d a / e b / f c
        assert_eq!(rot(90), vec![4, 1, 5, 2, 6, 3]);
        assert_eq!(rot(180), vec![6, 5, 4, 3, 2, 1]);
        // clockwise 270: c f / b e / a d
        assert_eq!(rot(270), vec![3, 6, 2, 5, 1, 4]);
        assert_eq!(rot(0), SRC.to_vec());
    }
}
