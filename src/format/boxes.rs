//! The PIFF boxes ssfpack adds to ISO-BMFF (`tfxd`, `tfrf`), and helpers around the standard boxes
//! that come from `shiguredo_mp4`.
//!
//! Each box here is one struct with a symmetric `encode`/`decode`; `uuid` boxes are dispatched on their
//! 16-byte user type through [`PiffBox`], and unknown ones round-trip untouched as `UnknownBox`.

use shiguredo_mp4::boxes::UnknownBox;
use shiguredo_mp4::{BoxHeader, BoxSize, BoxType, Decode, Encode};

use super::error::{FormatError, Result};

/// `tfxd`: absolute start time and duration of the fragment (PIFF 1.1 §5.2.28, MS-SSTR 2.2.4.4).
pub const TFXD_UUID: [u8; 16] = uuid(0x6D1D9B05_42D5_44E6_80E2_141DAFF757B2);
/// `tfrf`: times of the next fragments, live only (MS-SSTR 2.2.4.5).
pub const TFRF_UUID: [u8; 16] = uuid(0xD4807EF2_CA39_4695_8E54_26CB9E46A79F);
/// The live server manifest box carried by ingest streams (MS-SSTR 2.2.2 / Azure live ingest).
pub const LIVE_SERVER_MANIFEST_UUID: [u8; 16] = uuid(0xA5D40B30_E814_11DD_BA2F_0800200C9A66);
/// PIFF sample encryption box (for later PlayReady support; recognised by `dump`).
pub const PIFF_SENC_UUID: [u8; 16] = uuid(0xA2394F52_5A9B_4F14_A244_6C427C648DF4);

const fn uuid(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

/// A name for a known `uuid` user type, for dumps and errors.
pub fn uuid_name(user_type: &[u8; 16]) -> Option<&'static str> {
    match *user_type {
        TFXD_UUID => Some("tfxd"),
        TFRF_UUID => Some("tfrf"),
        LIVE_SERVER_MANIFEST_UUID => Some("live server manifest"),
        PIFF_SENC_UUID => Some("piff senc"),
        _ => None,
    }
}

/// A PIFF `uuid` box: one struct, its 16-byte user type, and a symmetric encode/decode of its
/// payload (what follows the user type). The box header is written by [`UuidBox::to_unknown_box`];
/// [`UuidBox::from_payload`] fails on a payload that is too short or has bytes left over.
pub trait UuidBox: Sized {
    const USER_TYPE: [u8; 16];
    /// For errors and dumps.
    const NAME: &'static str;

    fn encode_payload(&self, out: &mut Vec<u8>);

    fn decode_payload(r: &mut Cursor<'_>) -> Result<Self>;

    fn to_unknown_box(&self) -> UnknownBox {
        let mut payload = Vec::new();
        self.encode_payload(&mut payload);
        uuid_box(Self::USER_TYPE, payload)
    }

    fn from_payload(payload: &[u8]) -> Result<Self> {
        let mut r = Cursor::new(payload, Self::NAME);
        let b = Self::decode_payload(&mut r)?;
        match r.remaining() {
            0 => Ok(b),
            n => Err(FormatError::boxes(Self::NAME, format!("{n} bytes left over after the box's fields"))),
        }
    }
}

/// `tfxd`: the fragment's absolute time and duration in the track timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tfxd {
    pub time: u64,
    pub duration: u64,
}

impl UuidBox for Tfxd {
    const USER_TYPE: [u8; 16] = TFXD_UUID;
    const NAME: &'static str = "tfxd";

    /// Version 1 (64-bit) is always written, as IIS and FFmpeg do.
    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.duration.to_be_bytes());
    }

    /// Reads versions 0 and 1.
    fn decode_payload(r: &mut Cursor<'_>) -> Result<Self> {
        let version = r.u8()?;
        r.skip(3)?;
        let (time, duration) =
            if version == 1 { (r.u64()?, r.u64()?) } else { (u64::from(r.u32()?), u64::from(r.u32()?)) };
        Ok(Tfxd { time, duration })
    }
}

/// `tfrf`: the (time, duration) of fragments that follow this one (live lookahead).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tfrf {
    pub entries: Vec<(u64, u64)>,
}

impl UuidBox for Tfrf {
    const USER_TYPE: [u8; 16] = TFRF_UUID;
    const NAME: &'static str = "tfrf";

    /// Version 1; at most 255 entries (the count is one byte).
    fn encode_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.push(self.entries.len().min(255) as u8);
        for (time, duration) in self.entries.iter().take(255) {
            out.extend_from_slice(&time.to_be_bytes());
            out.extend_from_slice(&duration.to_be_bytes());
        }
    }

    fn decode_payload(r: &mut Cursor<'_>) -> Result<Self> {
        let version = r.u8()?;
        r.skip(3)?;
        let count = r.u8()?;
        let entries = (0..count)
            .map(|_| Ok(if version == 1 { (r.u64()?, r.u64()?) } else { (u64::from(r.u32()?), u64::from(r.u32()?)) }))
            .collect::<Result<_>>()?;
        Ok(Tfrf { entries })
    }
}

/// A `uuid` box, dispatched on its user type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PiffBox {
    Tfxd(Tfxd),
    Tfrf(Tfrf),
    /// Any other box, kept byte for byte.
    Other(UnknownBox),
}

impl PiffBox {
    pub fn from_unknown(b: &UnknownBox) -> Result<Self> {
        Ok(match b.box_type {
            BoxType::Uuid(TFXD_UUID) => PiffBox::Tfxd(Tfxd::from_payload(&b.payload)?),
            BoxType::Uuid(TFRF_UUID) => PiffBox::Tfrf(Tfrf::from_payload(&b.payload)?),
            _ => PiffBox::Other(b.clone()),
        })
    }

    pub fn to_unknown(&self) -> UnknownBox {
        match self {
            PiffBox::Tfxd(b) => b.to_unknown_box(),
            PiffBox::Tfrf(b) => b.to_unknown_box(),
            PiffBox::Other(b) => b.clone(),
        }
    }
}

fn uuid_box(user_type: [u8; 16], payload: Vec<u8>) -> UnknownBox {
    UnknownBox { box_type: BoxType::Uuid(user_type), box_size: BoxSize::U32(8 + 16 + payload.len() as u32), payload }
}

/// Encodes any box to bytes, naming it in the error.
pub fn encode<B: Encode>(b: &B, what: &str) -> Result<Vec<u8>> {
    b.encode_to_vec().map_err(|e| FormatError::boxes(what, e))
}

/// Decodes one box from the start of `buf`, naming it in the error.
pub fn decode<B: Decode>(buf: &[u8], what: &str) -> Result<(B, usize)> {
    B::decode(buf).map_err(|e| FormatError::boxes(what, e))
}

/// Most samples one `moof` may declare over all its `trun`s. `shiguredo_mp4` builds one 40-byte record
/// per declared sample, and takes up to 16 M of them per `trun` even when the `trun` carries no
/// per-sample fields, so a few hundred hostile bytes could ask for gigabytes. Real fragments hold
/// hundreds to thousands of samples.
pub const MAX_FRAGMENT_SAMPLES: u64 = 1 << 20;

/// The `sample_count`s of every `trun` in `buf` (boxes held in memory: a `moof`, a `traf`, a `trun`),
/// added up from the raw headers before anything decodes them. A malformed box ends the walk: the
/// decoder reports it.
pub fn declared_trun_samples(buf: &[u8]) -> u64 {
    fn walk(mut buf: &[u8], depth: usize) -> u64 {
        let mut total = 0u64;
        while let Ok((header, header_len)) = BoxHeader::decode(buf) {
            let size = match header.box_size.get() {
                0 => buf.len() as u64,
                s => s,
            };
            if size < header_len as u64 || size > buf.len() as u64 {
                break;
            }
            let (whole, rest) = buf.split_at(size as usize);
            let payload = &whole[header_len..];
            total = total.saturating_add(match header.box_type {
                BoxType::Normal(t) if (&t == b"moof" || &t == b"traf") && depth < 4 => walk(payload, depth + 1),
                BoxType::Normal(t) if &t == b"trun" && payload.len() >= 8 => {
                    u64::from(u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]))
                }
                _ => 0,
            });
            buf = rest;
        }
        total
    }
    walk(buf, 0)
}

/// A box header as found while scanning a file: type, where the box starts and its total size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxSpan {
    pub box_type: BoxType,
    pub offset: u64,
    pub size: u64,
    pub header_size: u64,
}

/// Reads the header of the box at `offset` of a file (at most 32 bytes); `file_len` bounds it.
/// Returns `None` at the end of the file.
pub fn read_span<R: std::io::Read + std::io::Seek>(
    r: &mut R,
    offset: u64,
    file_len: u64,
    context: &str,
) -> Result<Option<BoxSpan>> {
    if offset >= file_len {
        return Ok(None);
    }
    let want = (file_len - offset).min(32) as usize;
    let mut head = [0u8; 32];
    r.seek(std::io::SeekFrom::Start(offset))?;
    r.read_exact(&mut head[..want])?;
    let (header, header_size) = BoxHeader::decode(&head[..want])
        .map_err(|e| FormatError::boxes(format!("{context}: box header at byte {offset}"), e))?;
    let size = match header.box_size.get() {
        0 => file_len - offset,
        s => s,
    };
    // `file_len - offset` cannot underflow (checked above); `offset + size` could overflow on a
    // hostile 64-bit `largesize` and, wrapped, send the scan back to an earlier box forever.
    if size < header_size as u64 || size > file_len - offset {
        return Err(FormatError::boxes(
            format!("{context}: box {} at byte {offset}", type_name(header.box_type)),
            format!("size {size} runs past the end of the file ({file_len} bytes)"),
        ));
    }
    Ok(Some(BoxSpan { box_type: header.box_type, offset, size, header_size: header_size as u64 }))
}

/// A printable name: the four-cc, or for `uuid` boxes the known name or the hex user type.
pub fn type_name(t: BoxType) -> String {
    match t {
        BoxType::Normal(cc) => String::from_utf8_lossy(&cc).into_owned(),
        BoxType::Uuid(u) => match uuid_name(&u) {
            Some(n) => format!("uuid[{n}]"),
            None => format!("uuid[{}]", super::hex(&u)),
        },
    }
}

/// A bounds-checked big-endian reader for box payloads.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Cursor { buf, pos: 0, what }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| FormatError::boxes(self.what, format!("truncated at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tfxd_round_trip_and_golden_bytes() {
        let t = Tfxd { time: 20_000_000, duration: 20_000_000 };
        let bytes = encode(&t.to_unknown_box(), "tfxd").unwrap();
        let mut golden = vec![0, 0, 0, 44, b'u', b'u', b'i', b'd'];
        golden.extend_from_slice(&TFXD_UUID);
        golden.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x31, 0x2d, 0, 0, 0, 0, 0, 0x01, 0x31, 0x2d, 0]);
        assert_eq!(bytes, golden);
        let (b, n): (UnknownBox, usize) = decode(&bytes, "tfxd").unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(PiffBox::from_unknown(&b).unwrap(), PiffBox::Tfxd(t));
        assert_eq!(encode(&PiffBox::Tfxd(t).to_unknown(), "tfxd").unwrap(), bytes);
    }

    #[test]
    fn tfrf_round_trip() {
        let t = Tfrf { entries: vec![(1, 2), (3, 4)] };
        let b = t.to_unknown_box();
        assert_eq!(b.payload.len(), 5 + 32);
        assert_eq!(PiffBox::from_unknown(&b).unwrap(), PiffBox::Tfrf(t));
    }

    #[test]
    fn read_span_refuses_a_largesize_that_overflows() {
        // A `free` box, then one whose 64-bit size would wrap `offset + size` back to 0 (crafted for
        // fuzz/fuzz_targets/reader.rs: an overflow panic in debug builds, an endless scan in release).
        let mut file = vec![0, 0, 0, 8, b'f', b'r', b'e', b'e', 0, 0, 0, 1, b'f', b'r', b'e', b'e'];
        file.extend_from_slice(&(u64::MAX - 7).to_be_bytes());
        file.extend_from_slice(&[0; 16]);
        let mut r = std::io::Cursor::new(&file);
        let len = file.len() as u64;
        assert!(read_span(&mut r, 0, len, "t").unwrap().is_some());
        assert!(read_span(&mut r, 8, len, "t").is_err());
    }

    #[test]
    fn trun_sample_counts_are_summed_before_decoding() {
        // A `moof` of 300 bytes whose `trun`s declare 16 M samples each with no per-sample fields:
        // `shiguredo_mp4` would build 671 MB per `trun` (found by fuzz/fuzz_targets/reader.rs).
        let trun = [&[0, 0, 0, 16][..], b"trun", &[0, 0, 0, 0], &(1u32 << 24).to_be_bytes()].concat();
        let traf = [&[0, 0, 0, 40][..], b"traf", &trun, &trun].concat();
        let moof = [&[0, 0, 0, 48][..], b"moof", &traf].concat();
        assert_eq!(declared_trun_samples(&moof), 2 << 24);
        assert_eq!(declared_trun_samples(&moof[..20]), 0);
    }

    #[test]
    fn unknown_uuid_is_kept() {
        let b = uuid_box([7; 16], vec![1, 2, 3]);
        assert_eq!(PiffBox::from_unknown(&b).unwrap().to_unknown(), b);
        assert!(Tfxd::from_payload(&[1, 0, 0]).is_err(), "too short");
        let mut long = Tfxd { time: 1, duration: 2 }.to_unknown_box().payload;
        long.push(0);
        let e = Tfxd::from_payload(&long).unwrap_err().to_string();
        assert!(e.contains("1 bytes left over"), "{e}");
        assert!(Tfrf::from_payload(&[1, 0, 0, 0, 1]).is_err(), "one entry declared, none present");
    }
}
