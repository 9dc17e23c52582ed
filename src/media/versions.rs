//! The versions of the FFmpeg libraries and of libx264 this process runs with (`ssfpack --version`):
//! they, not ssfpack's own version alone, decide whether two machines write the same bytes.

use ffmpeg_next as ff;

use super::scale::OUTPUT_FORMAT;
use super::x264::{H264Encoder, H264Settings};
use super::{Ratio, VideoFrame};

/// `major.minor.micro` of an FFmpeg `*_version()` number.
fn dotted(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// One line per library: `libavcodec 59.37.100`, …, then `libx264 core 164 r3095 baa2fc3`.
pub fn describe() -> Vec<String> {
    tools().into_iter().filter(|(name, _)| name != "ssfpack").map(|(name, v)| format!("{name} {v}")).collect()
}

/// (name, version) of ssfpack, each FFmpeg library and libx264 (`none` without one).
pub fn tools() -> Vec<(String, String)> {
    let mut tools = vec![
        ("ssfpack", env!("CARGO_PKG_VERSION").to_string()),
        ("libavutil", dotted(ff::util::version())),
        ("libavcodec", dotted(ff::codec::version())),
        ("libavformat", dotted(ff::format::version())),
        ("libswscale", dotted(ff::software::scaling::version())),
        ("libswresample", dotted(ff::software::resampling::version())),
    ];
    tools.push(("libx264", x264_build().unwrap_or_else(|| "not available in this FFmpeg build".into())));
    tools.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
}

/// x264's own identification (`core 164 r3095 baa2fc3`), read from the SEI it writes into the
/// extradata of a 16x16 encoder opened for the purpose; `None` when FFmpeg has no libx264.
pub fn x264_build() -> Option<String> {
    super::init().ok()?;
    let settings = H264Settings {
        width: 16,
        height: 16,
        bitrate: 100_000,
        preset: "ultrafast".into(),
        keyint: 50,
        frame_rate: Ratio::new(25, 1),
        vbv_init: H264Settings::vbv_init_for_lanes(1),
        bt709: false,
    };
    let mut enc = H264Encoder::open(&settings, "x264 version probe").ok()?;
    // FFmpeg's libx264 wrapper keeps x264's SEI out of the extradata and sends it with the first
    // picture: code one grey frame.
    let mut frame = VideoFrame::new(OUTPUT_FORMAT, 16, 16);
    for plane in 0..frame.planes() {
        frame.data_mut(plane).fill(128);
    }
    let mut packets = enc.encode(&frame, 0, true).ok()?;
    packets.extend(enc.finish().ok()?);
    packets.iter().find_map(|p| parse_sei(&p.data)).or_else(|| parse_sei(enc.extradata()))
}

/// `core 164 r3095 baa2fc3` out of x264's user-data SEI `x264 - core 164 r3095 baa2fc3 - H.264/…`.
fn parse_sei(extradata: &[u8]) -> Option<String> {
    const TAG: &[u8] = b"x264 - ";
    let start = extradata.windows(TAG.len()).position(|w| w == TAG)? + TAG.len();
    let rest = &extradata[start..];
    let end = rest.windows(3).position(|w| w == b" - ").unwrap_or(rest.len().min(40));
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_x264s_sei() {
        let sei = b"\x00\x00\x01\x06\x05\xffx264 - core 164 r3095 baa2fc3 - H.264/MPEG-4 AVC codec - Copyleft";
        assert_eq!(super::parse_sei(sei).as_deref(), Some("core 164 r3095 baa2fc3"));
        assert_eq!(super::parse_sei(b"no sei"), None);
    }
}
