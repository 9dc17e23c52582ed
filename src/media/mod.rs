//! The FFmpeg boundary: open and decode the source, scale frames, encode H.264 (libx264) and AAC.
//! The only module that touches `ffmpeg-next`, and the only one allowed `unsafe` (each block says why
//! it is sound in a `// SAFETY:` comment). Everything above it sees plain Rust types and typed errors.

pub mod aac;
pub mod demux;
mod error;
pub mod filter;
pub mod input;
pub mod probe;
pub mod scale;
pub mod streams;
pub mod subtitle;
pub mod ts;
pub mod versions;
pub mod x264;

pub use error::MediaError;

/// Re-exported so the pipeline can name frames without depending on `ffmpeg-next` itself.
pub use ffmpeg_next::frame::{Audio as AudioFrame, Video as VideoFrame};

/// Initialises FFmpeg once and routes its log through [`ffmpeg_log`]: nothing is printed on stderr
/// (one error line is the CLI's contract; `SSFPACK_LOG=debug` shows FFmpeg's messages), and the
/// last error FFmpeg logged on each thread is kept to explain a failure ([`last_ffmpeg_error`]).
pub fn init() -> Result<(), MediaError> {
    ffmpeg_next::init().map_err(|e| MediaError::ffmpeg("FFmpeg initialisation", e))?;
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Error);
    // SAFETY: `ffmpeg_log` has exactly the signature `av_log_set_callback` expects on every
    // target (see [`VaList`]; the compiler checks it against the bindings) and lives for the whole
    // program; it is thread-safe (FFmpeg calls it from its decoder threads: it only touches the
    // calling thread's own `LAST_FFMPEG_ERROR` and tracing), and cannot unwind into C (a panic in
    // an `extern "C"` fn aborts, and nothing in it panics: the thread-local is reached with
    // `try_with`, which fails quietly while the thread is being torn down).
    unsafe { ffmpeg_next::ffi::av_log_set_callback(Some(ffmpeg_log)) };
    Ok(())
}

thread_local! {
    /// The last error-level message FFmpeg logged on this thread (e.g. `moov atom not found`).
    static LAST_FFMPEG_ERROR: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Forgets this thread's last FFmpeg error, before an operation whose failure
/// [`last_ffmpeg_error`] explains. Call it on the thread that will call FFmpeg.
pub fn clear_ffmpeg_error() {
    let _ = LAST_FFMPEG_ERROR.try_with(|s| s.borrow_mut().clear());
}

/// The last error FFmpeg logged on this thread since [`clear_ffmpeg_error`], if any: another
/// thread's (another job's) messages are never returned.
///
/// Per thread, so per job: FFmpeg calls the log callback on the thread that called into it, so what
/// `avformat_open_input`, `av_read_frame`, `avcodec_open2` and `avcodec_send_packet` log lands in
/// the caller's own slot. Two jobs in one process (`batch`, the test harness) never see each
/// other's messages as long as each job opens and reads its source on a thread of its own, as
/// `pipeline::package` does (`Source::open` and the decode loop both run on its calling thread).
/// The rule: clear, call FFmpeg and read the error on the same thread. What FFmpeg's own worker
/// threads log (frame-threaded decoding) lands in those threads' slots and is never reported here;
/// `SSFPACK_LOG=debug` still shows it.
pub fn last_ffmpeg_error() -> Option<String> {
    LAST_FFMPEG_ERROR.try_with(|s| s.borrow().clone()).ok().filter(|s| !s.is_empty())
}

/// A copy of an opened encoder's extradata (x264's SPS/PPS, AAC's AudioSpecificConfig); empty when
/// the encoder set none.
fn encoder_extradata(ctx: &ffmpeg_next::codec::Context) -> Vec<u8> {
    // SAFETY: `ctx` wraps a live AVCodecContext; FFmpeg owns `extradata` and keeps it valid and
    // `extradata_size` bytes long for the context's lifetime. We copy it out before returning.
    unsafe {
        let raw = ctx.as_ptr();
        let (p, len) = ((*raw).extradata, (*raw).extradata_size);
        if p.is_null() || len <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(p, len as usize).to_vec()
        }
    }
}

/// The `va_list` parameter of FFmpeg's log callback and of `av_log_format_line2`, as
/// ffmpeg-sys-next's bindgen output spells it for the target. C's `va_list` differs per ABI: on
/// x86_64 it is `__va_list_tag[1]`, an array, so as a parameter it decays to a pointer and the
/// bindings say `*mut __va_list_tag`; on aarch64 it is the 32-byte struct `__va_list`, passed by
/// value, and the bindings say `va_list` (an opaque 32-byte, 8-aligned array; checked with
/// `scripts/check-aarch64`). Other targets take the `va_list` branch (right where `va_list` is a
/// pointer or a struct; unchecked). `ffmpeg_log` is passed to `av_log_set_callback` and `vl` to
/// `av_log_format_line2`, so a wrong alias is a type error, never a silent ABI mismatch.
#[cfg(target_arch = "x86_64")]
type VaList = *mut ffmpeg_next::ffi::__va_list_tag;
#[cfg(not(target_arch = "x86_64"))]
type VaList = ffmpeg_next::ffi::va_list;

unsafe extern "C" fn ffmpeg_log(
    avcl: *mut std::ffi::c_void,
    level: std::ffi::c_int,
    fmt: *const std::ffi::c_char,
    vl: VaList,
) {
    if level > ffmpeg_next::ffi::AV_LOG_ERROR as std::ffi::c_int || fmt.is_null() {
        return;
    }
    let mut buf = [0 as std::ffi::c_char; 512];
    let mut prefix: std::ffi::c_int = 0;
    // SAFETY: `avcl`, `fmt` and `vl` are what FFmpeg passed to this callback, forwarded unchanged
    // and used once; `buf` is writable for its whole length, which is what we pass, and
    // av_log_format_line2 always NUL-terminates within it.
    let line = unsafe {
        ffmpeg_next::ffi::av_log_format_line2(avcl, level, fmt, vl, buf.as_mut_ptr(), buf.len() as i32, &mut prefix);
        std::ffi::CStr::from_ptr(buf.as_ptr())
    };
    let line = line.to_string_lossy();
    let line = line.trim();
    tracing::debug!(target: "ffmpeg", "{line}");
    // Drop FFmpeg's "[demuxer @ 0x…] " prefix: the CLI names the file itself.
    let message = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((_, rest)) => rest,
        None => line,
    };
    // `try_borrow_mut` rather than `borrow_mut`: nothing else holds the slot while FFmpeg runs,
    // but a callback must not be able to panic.
    let _ = LAST_FFMPEG_ERROR.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.clear();
            s.push_str(message.trim());
        }
    });
}

/// One compressed packet from an encoder, with its presentation time in the encoder's time base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    pub pts: i64,
    pub key: bool,
    pub data: Vec<u8>,
}

/// An exact rational (time bases, frame rates, aspect ratios) without FFmpeg types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: i64,
    pub den: i64,
}

impl Ratio {
    pub fn new(num: i64, den: i64) -> Self {
        Ratio { num, den }
    }

    /// `None` when zero, negative or undefined (FFmpeg's 0/0 and 0/1 for "unknown").
    pub fn positive(self) -> Option<Self> {
        (self.num > 0 && self.den > 0).then_some(self)
    }
}

impl From<ffmpeg_next::Rational> for Ratio {
    fn from(r: ffmpeg_next::Rational) -> Self {
        Ratio::new(i64::from(r.numerator()), i64::from(r.denominator()))
    }
}
