//! `ssfpack dump`: a readable box tree of a fragmented MP4, like mp4dump. Golden tests diff these
//! dumps, so the output is stable and shows every field the writer sets.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use shiguredo_mp4::boxes::{
    DrefBox, FtypBox, HdlrBox, MdhdBox, MehdBox, MfhdBox, MfroBox, MvhdBox, SampleEntry, SmhdBox, StcoBox, StscBox,
    StszBox, SttsBox, TfdtBox, TfhdBox, TfraBox, TkhdBox, TrexBox, TrunBox, UnknownBox, VmhdBox,
};
use shiguredo_mp4::{BoxHeader, BoxType, Decode};

use super::boxes::{declared_trun_samples, read_span, type_name, PiffBox, MAX_FRAGMENT_SAMPLES};
use super::error::{FormatError, Result};

const CONTAINERS: &[&[u8; 4]] =
    &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"mvex", b"moof", b"traf", b"mfra", b"edts", b"udta"];

/// Dumps a whole file. `mdat` payloads are summarised by size (and, with `samples`, nothing more).
pub fn dump_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    let len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
    let mut r = BufReader::new(file);
    let ctx = path.display().to_string();
    let mut out = String::new();
    let mut offset = 0;
    while let Some(span) = read_span(&mut r, offset, len, &ctx)? {
        if span.box_type == BoxType::Normal(*b"mdat") || span.size > 64 << 20 {
            let _ = writeln!(
                out,
                "[{}] size={} (payload {} bytes)",
                type_name(span.box_type),
                span.size,
                span.size - span.header_size
            );
        } else {
            let mut buf = vec![0u8; span.size as usize];
            r.seek(SeekFrom::Start(span.offset)).map_err(|e| FormatError::io(path, e))?;
            r.read_exact(&mut buf).map_err(|e| FormatError::io(path, e))?;
            dump_bytes(&buf, 0, &mut out);
        }
        offset = span.offset + span.size;
    }
    Ok(out)
}

/// Dumps a sequence of boxes held in memory (a fragment file, a `moof`+`mdat` response).
pub fn dump_buffer(buf: &[u8]) -> String {
    let mut out = String::new();
    dump_bytes(buf, 0, &mut out);
    out
}

/// Deepest container nesting shown. Real files nest about 8 deep; a hostile file of nested 8-byte
/// container headers would otherwise recurse once per 8 bytes and overflow the stack.
const MAX_DEPTH: usize = 32;

fn dump_bytes(mut buf: &[u8], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    if depth > MAX_DEPTH {
        let _ = writeln!(out, "{pad}!! {} bytes nested deeper than {MAX_DEPTH} boxes, not shown", buf.len());
        return;
    }
    while !buf.is_empty() {
        let Ok((header, header_len)) = BoxHeader::decode(buf) else {
            let _ = writeln!(out, "{pad}!! {} trailing bytes that are not a box", buf.len());
            return;
        };
        let size = match header.box_size.get() {
            0 => buf.len(),
            s => s as usize,
        };
        if size < header_len || size > buf.len() {
            let _ = writeln!(
                out,
                "{pad}!! [{}] size {size} overruns its parent ({} bytes left)",
                type_name(header.box_type),
                buf.len()
            );
            return;
        }
        let (whole, rest) = buf.split_at(size);
        let payload = &whole[header_len..];
        let name = type_name(header.box_type);
        let _ = writeln!(out, "{pad}[{name}] size={size}");
        let inner = "  ".repeat(depth + 1);
        match header.box_type {
            BoxType::Normal(t) if CONTAINERS.contains(&&t) => dump_bytes(payload, depth + 1, out),
            BoxType::Normal(t) if &t == b"stsd" && payload.len() >= 8 => dump_bytes(&payload[8..], depth + 1, out),
            BoxType::Normal(t) if &t == b"mdat" => {}
            _ => match describe(whole) {
                Some(text) => {
                    for line in text.lines() {
                        let _ = writeln!(out, "{inner}{line}");
                    }
                }
                None => {
                    let _ = writeln!(out, "{inner}(payload {} bytes)", payload.len());
                }
            },
        }
        buf = rest;
    }
}

/// The decoded fields of a leaf box, pretty-printed; `None` for types we don't decode.
fn describe(whole: &[u8]) -> Option<String> {
    fn show<B: Decode + std::fmt::Debug>(b: &[u8]) -> Option<String> {
        match B::decode(b) {
            Ok((v, _)) => Some(format!("{v:?}")),
            Err(e) => Some(format!("!! does not decode: {e}")),
        }
    }
    let (header, _) = BoxHeader::decode(whole).ok()?;
    match header.box_type {
        BoxType::Uuid(_) => match UnknownBox::decode(whole) {
            Ok((u, _)) => match PiffBox::from_unknown(&u) {
                Ok(PiffBox::Tfxd(t)) => Some(format!("time={} duration={}", t.time, t.duration)),
                Ok(PiffBox::Tfrf(t)) => Some(format!("entries={:?}", t.entries)),
                Ok(PiffBox::Other(o)) => Some(format!("(payload {} bytes)", o.payload.len())),
                Err(e) => Some(format!("!! {e}")),
            },
            Err(e) => Some(format!("!! does not decode: {e}")),
        },
        BoxType::Normal(t) => match &t {
            b"ftyp" => show::<FtypBox>(whole),
            b"mvhd" => show::<MvhdBox>(whole),
            b"tkhd" => show::<TkhdBox>(whole),
            b"mdhd" => show::<MdhdBox>(whole),
            b"hdlr" => show::<HdlrBox>(whole),
            b"vmhd" => show::<VmhdBox>(whole),
            b"smhd" => show::<SmhdBox>(whole),
            b"dref" => show::<DrefBox>(whole),
            b"stts" => show::<SttsBox>(whole),
            b"stsc" => show::<StscBox>(whole),
            b"stsz" => show::<StszBox>(whole),
            b"stco" => show::<StcoBox>(whole),
            b"mehd" => show::<MehdBox>(whole),
            b"trex" => show::<TrexBox>(whole),
            b"mfhd" => show::<MfhdBox>(whole),
            b"tfhd" => show::<TfhdBox>(whole),
            b"tfdt" => show::<TfdtBox>(whole),
            b"trun" if declared_trun_samples(whole) > MAX_FRAGMENT_SAMPLES => {
                Some(format!("!! sample_count {}: too many to decode", declared_trun_samples(whole)))
            }
            b"trun" => Some(match TrunBox::decode(whole) {
                Ok((t, _)) => trun_lines(&t),
                Err(e) => format!("!! does not decode: {e}"),
            }),
            b"tfra" => show::<TfraBox>(whole),
            b"mfro" => show::<MfroBox>(whole),
            b"avc1" | b"mp4a" => show::<SampleEntry>(whole),
            _ => None,
        },
    }
}

fn trun_lines(t: &TrunBox) -> String {
    let mut s = format!(
        "data_offset={:?} first_sample_flags={:?} samples={}",
        t.data_offset,
        t.first_sample_flags.map(|f| format!("{:#010x}", f.get())),
        t.samples.len()
    );
    for (i, x) in t.samples.iter().enumerate() {
        let _ = write!(s, "\n#{i}");
        if let Some(d) = x.duration {
            let _ = write!(s, " duration={d}");
        }
        if let Some(z) = x.size {
            let _ = write!(s, " size={z}");
        }
        if let Some(f) = x.flags {
            let _ = write!(s, " flags={:#010x}", f.get());
        }
        if let Some(c) = x.composition_time_offset {
            let _ = write!(s, " cto={c}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_cut_not_a_stack_overflow() {
        // 200,000 nested `moov` headers (a crafted 1.6 MB input replayed through
        // fuzz/fuzz_targets/reader.rs: one recursion per 8 bytes overflowed the stack).
        let n = 200_000u32;
        let buf: Vec<u8> = (0..n).flat_map(|i| [(8 * (n - i)).to_be_bytes().as_slice(), b"moov"].concat()).collect();
        let text = dump_buffer(&buf);
        assert!(text.contains("nested deeper than"), "{}", &text[..200]);
        assert_eq!(text.lines().count(), MAX_DEPTH + 2);
    }
}
