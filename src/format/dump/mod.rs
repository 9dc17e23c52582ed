//! `ssfpack dump`: the box tree of a fragmented MP4, like Bento4's mp4dump: every box with its
//! type, size (header + payload) and offset, its fields decoded (FourCCs and names as text, flags
//! spelled out), as text or JSON, to a chosen depth. Golden tests diff these dumps, so the output
//! is stable and shows every field the writer sets.
//!
//! A file that is not MP4 (a manifest, a TS or Matroska file…) is named as what it is
//! ([`sniff`]) rather than reported as a malformed box.

mod fields;
mod sniff;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use shiguredo_mp4::{BoxHeader, BoxType, Decode};

use super::boxes::{read_span, type_name};
use super::error::{FormatError, Result};

pub use fields::Fields;

const CONTAINERS: &[&[u8; 4]] =
    &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"mvex", b"moof", b"traf", b"mfra", b"edts", b"udta"];

/// Deepest container nesting decoded. Real files nest about 8 deep; a hostile file of nested 8-byte
/// container headers would otherwise recurse once per 8 bytes and overflow the stack.
const MAX_DEPTH: usize = 32;

/// One box of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct BoxNode {
    /// FourCC (`moov`), or `uuid[tfxd]` / `uuid[<hex>]`.
    #[serde(rename = "type")]
    pub box_type: String,
    /// Byte offset of the box in the file (or buffer).
    pub offset: u64,
    /// Whole box size, header included, and the header's part of it.
    pub size: u64,
    pub header_size: u64,
    /// Decoded fields, in the box's order.
    #[serde(skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
    /// Table rows (`trun` samples, `tfra` entries, `stts` runs…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Fields>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<BoxNode>,
    /// Why the box could not be decoded (or was not descended into).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole dump of a file, for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Dump {
    pub file: String,
    pub size: u64,
    pub boxes: Vec<BoxNode>,
}

/// Dumps a whole file as text. `mdat` payloads are summarised by size.
pub fn dump_file(path: &Path) -> Result<String> {
    Ok(render(&read_tree(path)?.boxes, None))
}

/// Reads the box tree of a file; a file that is not MP4 is an error saying what it is.
pub fn read_tree(path: &Path) -> Result<Dump> {
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    let len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
    let mut r = BufReader::new(file);
    let ctx = path.display().to_string();
    let mut head = vec![0u8; len.min(4096) as usize];
    r.read_exact(&mut head).map_err(|e| FormatError::io(path, e))?;
    if let Some(what) = sniff::not_mp4(&head, len) {
        return Err(FormatError::invalid(ctx, what));
    }
    let mut boxes = Vec::new();
    let mut offset = 0;
    while let Some(span) = read_span(&mut r, offset, len, &ctx)? {
        if span.box_type == BoxType::Normal(*b"mdat") || span.size > 64 << 20 {
            let mut node = leaf(type_name(span.box_type), span.offset, span.size, span.header_size);
            node.fields.push("payload_bytes", span.size - span.header_size);
            boxes.push(node);
        } else {
            let mut buf = vec![0u8; span.size as usize];
            r.seek(SeekFrom::Start(span.offset)).map_err(|e| FormatError::io(path, e))?;
            r.read_exact(&mut buf).map_err(|e| FormatError::io(path, e))?;
            boxes.extend(parse(&buf, span.offset, 0));
        }
        offset = span.offset + span.size;
    }
    Ok(Dump { file: ctx, size: len, boxes })
}

/// Dumps a sequence of boxes held in memory (a fragment file, a `moof`+`mdat` response) as text.
pub fn dump_buffer(buf: &[u8]) -> String {
    render(&parse(buf, 0, 0), None)
}

fn leaf(box_type: String, offset: u64, size: u64, header_size: u64) -> BoxNode {
    BoxNode {
        box_type,
        offset,
        size,
        header_size,
        fields: Fields::default(),
        entries: Vec::new(),
        children: Vec::new(),
        error: None,
    }
}

/// The boxes in `buf`, which starts at byte `base` of the file.
fn parse(mut buf: &[u8], mut base: u64, depth: usize) -> Vec<BoxNode> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let problem = |message: String| {
            let mut n = leaf("!!".into(), base, buf.len() as u64, 0);
            n.error = Some(message);
            n
        };
        if depth > MAX_DEPTH {
            out.push(problem(format!("{} bytes nested deeper than {MAX_DEPTH} boxes, not shown", buf.len())));
            return out;
        }
        let Ok((header, header_len)) = BoxHeader::decode(buf) else {
            out.push(problem(format!("{} trailing bytes that are not a box", buf.len())));
            return out;
        };
        let size = match header.box_size.get() {
            0 => buf.len(),
            s => usize::try_from(s).unwrap_or(usize::MAX),
        };
        if size < header_len || size > buf.len() {
            out.push(problem(format!(
                "[{}] size {size} overruns its parent ({} bytes left)",
                type_name(header.box_type),
                buf.len()
            )));
            return out;
        }
        let (whole, rest) = buf.split_at(size);
        let payload = &whole[header_len..];
        let mut node = leaf(type_name(header.box_type), base, size as u64, header_len as u64);
        let inner = base + header_len as u64;
        match header.box_type {
            BoxType::Normal(t) if CONTAINERS.contains(&&t) => node.children = parse(payload, inner, depth + 1),
            BoxType::Normal(t) if &t == b"stsd" && payload.len() >= 8 => {
                fields::full_box(payload, &mut node.fields, None);
                node.fields.push("entry_count", u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]));
                node.children = parse(&payload[8..], inner + 8, depth + 1);
            }
            BoxType::Normal(t) if &t == b"mdat" => node.fields.push("payload_bytes", payload.len()),
            _ => fields::describe(whole, payload, &mut node),
        }
        out.push(node);
        buf = rest;
        base += size as u64;
    }
    out
}

/// The text form: one line per box (`[moov] size=8+622 offset=28`), its fields indented below it
/// (`timescale = 10000000`), table rows as `#0 duration=400000 …`. `depth` limits how many levels
/// are shown (1: the top-level boxes only); what is left out is counted.
pub fn render(boxes: &[BoxNode], depth: Option<usize>) -> String {
    let mut out = String::new();
    render_into(boxes, 0, depth, &mut out);
    out
}

fn render_into(boxes: &[BoxNode], level: usize, depth: Option<usize>, out: &mut String) {
    let pad = "  ".repeat(level);
    for b in boxes {
        if b.box_type == "!!" {
            let _ = writeln!(out, "{pad}!! {}", b.error.as_deref().unwrap_or(""));
            continue;
        }
        let _ = writeln!(
            out,
            "{pad}[{}] size={}+{} offset={}",
            b.box_type,
            b.header_size,
            b.size - b.header_size,
            b.offset
        );
        let inner = "  ".repeat(level + 1);
        for (name, value) in b.fields.iter() {
            let _ = writeln!(out, "{inner}{name} = {}", fields::text(value));
        }
        for (i, row) in b.entries.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|(k, v)| format!("{k}={}", fields::text(v))).collect();
            let _ = writeln!(out, "{inner}#{i} {}", cells.join(" "));
        }
        if let Some(e) = &b.error {
            let _ = writeln!(out, "{inner}!! {e}");
        }
        if b.children.is_empty() {
            continue;
        }
        if depth.is_some_and(|d| level + 1 >= d) {
            let n = count(&b.children);
            let _ = writeln!(
                out,
                "{inner}… {n} box{} inside (--depth {} shows them)",
                if n == 1 { "" } else { "es" },
                level + 2
            );
        } else {
            render_into(&b.children, level + 1, depth, out);
        }
    }
}

fn count(boxes: &[BoxNode]) -> usize {
    boxes.iter().map(|b| 1 + count(&b.children)).sum()
}

/// The tree cut at `depth` levels (for `--json --depth N`).
pub fn prune(boxes: &mut [BoxNode], depth: usize) {
    for b in boxes {
        if depth <= 1 {
            b.children.clear();
        } else {
            prune(&mut b.children, depth - 1);
        }
    }
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

    #[test]
    fn depth_limits_the_levels_shown() {
        // moov { trak { tkhd-like unknown leaf } }
        let leaf = [&12u32.to_be_bytes()[..], b"zzzz", &[0, 0, 0, 0]].concat();
        let trak = [&(8 + leaf.len() as u32).to_be_bytes()[..], b"trak", &leaf].concat();
        let moov = [&(8 + trak.len() as u32).to_be_bytes()[..], b"moov", &trak].concat();
        let tree = parse(&moov, 0, 0);
        assert_eq!(render(&tree, Some(1)), "[moov] size=8+20 offset=0\n  … 2 boxes inside (--depth 2 shows them)\n");
        let full = render(&tree, None);
        assert!(full.contains("    [zzzz] size=8+4 offset=16\n      payload_bytes = 4\n"), "{full}");
    }
}
