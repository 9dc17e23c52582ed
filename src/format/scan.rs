//! Incremental box scanning for bodies that arrive in pieces (a live ingest POST): bytes are pushed
//! as they come and whole top-level boxes are taken out as soon as they are complete, so nothing
//! waits for the end of the stream and at most one box (bounded by the caller) is held in memory.
//! Like mp4-atom's `decode_maybe`: "need more bytes" is `Ok(None)`, never an error.

use shiguredo_mp4::{BoxHeader, BoxType, Decode};

use super::boxes::type_name;
use super::error::{FormatError, Result};

/// One complete top-level box: its type and all its bytes (header included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBox {
    pub box_type: BoxType,
    pub bytes: Vec<u8>,
    pub header_size: usize,
}

impl RawBox {
    /// The box's payload (after the header).
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.header_size..]
    }

    /// Whether this is the plain box `fourcc`.
    pub fn is(&self, fourcc: &[u8; 4]) -> bool {
        matches!(self.box_type, BoxType::Normal(t) if &t == fourcc)
    }
}

/// Collects pushed bytes and yields whole boxes.
#[derive(Debug)]
pub struct BoxScanner {
    buf: Vec<u8>,
    /// Largest box accepted, in bytes.
    max_box: u64,
    /// Bytes consumed so far (for error positions).
    consumed: u64,
}

impl BoxScanner {
    pub fn new(max_box: u64) -> Self {
        BoxScanner { buf: Vec::new(), max_box, consumed: 0 }
    }

    /// Appends bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not yet form a whole box.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole box, `None` when more bytes are needed. A box of size 0 ("to the end") is
    /// refused: a stream has no end to run to.
    pub fn next_box(&mut self) -> Result<Option<RawBox>> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        // The header's own length: 8, +8 for a 64-bit size, +16 for a uuid's user type.
        let large = self.buf[..4] == [0, 0, 0, 1];
        let needed = 8 + if large { 8 } else { 0 } + if &self.buf[4..8] == b"uuid" { 16 } else { 0 };
        if self.buf.len() < needed {
            return Ok(None);
        }
        let (header, header_size) = BoxHeader::decode(&self.buf)
            .map_err(|e| FormatError::boxes(format!("box header at byte {}", self.consumed), e))?;
        let at = || format!("box {} at byte {}", type_name(header.box_type), self.consumed);
        let size = header.box_size.get();
        if size == 0 {
            return Err(FormatError::boxes(at(), "size 0 (to the end of the stream) is not allowed here"));
        }
        if size < header_size as u64 {
            return Err(FormatError::boxes(at(), format!("size {size} is smaller than its header")));
        }
        if size > self.max_box {
            return Err(FormatError::boxes(at(), format!("{size} bytes is larger than the limit of {}", self.max_box)));
        }
        let size = size as usize;
        if self.buf.len() < size {
            return Ok(None);
        }
        let rest = self.buf.split_off(size);
        let bytes = std::mem::replace(&mut self.buf, rest);
        self.consumed += size as u64;
        Ok(Some(RawBox { box_type: header.box_type, bytes, header_size }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(t: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = (8 + payload.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(t);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn yields_boxes_whatever_the_piece_sizes() {
        let stream = [boxed(b"ftyp", b"isml\0\0\0\x01"), boxed(b"free", &[7; 100]), boxed(b"mfra", &[])].concat();
        for piece in [1, 3, 7, 64, 1000] {
            let mut s = BoxScanner::new(1 << 20);
            let mut got = Vec::new();
            for chunk in stream.chunks(piece) {
                s.push(chunk);
                while let Some(b) = s.next_box().unwrap() {
                    got.push(b);
                }
            }
            assert_eq!(got.len(), 3, "pieces of {piece}");
            assert!(got[0].is(b"ftyp") && got[1].payload().len() == 100 && got[2].is(b"mfra"));
            assert_eq!(s.pending(), 0);
        }
    }

    #[test]
    fn refuses_oversized_zero_and_tiny_sizes() {
        let mut s = BoxScanner::new(64);
        s.push(&boxed(b"mdat", &[0; 100]));
        assert!(s.next_box().unwrap_err().to_string().contains("limit"));
        let mut s = BoxScanner::new(64);
        s.push(&[0, 0, 0, 0, b'm', b'd', b'a', b't']);
        assert!(s.next_box().is_err());
        let mut s = BoxScanner::new(64);
        s.push(&[0, 0, 0, 4, b'm', b'd', b'a', b't']);
        assert!(s.next_box().is_err());
    }
}
