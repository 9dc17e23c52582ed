//! What a file is when it is not an MP4 box sequence: `dump` names it instead of failing on a
//! "box" whose size is four letters of XML.

/// `Some(description)` when `head` (the first bytes of a file of `len` bytes) is clearly not MP4.
pub fn not_mp4(head: &[u8], len: u64) -> Option<String> {
    if len == 0 {
        return Some("an empty file (0 bytes), not an MP4 file".into());
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        let what = if trimmed.contains("<SmoothStreamingMedia") {
            "a Smooth Streaming client manifest (XML, `.ismc` or `Manifest`)"
        } else if trimmed.contains("<smil") {
            "a Smooth Streaming server manifest (SMIL XML, `.ism`)"
        } else if trimmed.contains("<MPD") {
            "a DASH manifest (MPD XML)"
        } else if trimmed.to_ascii_lowercase().contains("<html")
            || trimmed.to_ascii_lowercase().starts_with("<!doctype")
        {
            "an HTML page"
        } else {
            "an XML file"
        };
        return Some(format!("{what}, not an MP4 file: `ssfpack check` validates a presentation; `dump` reads .ismv, .isma and fragment files"));
    }
    if trimmed.starts_with("#EXTM3U") {
        return Some("an HLS playlist (M3U8), not an MP4 file".into());
    }
    if head.first() == Some(&0x47) && (head.len() < 189 || head[188] == 0x47) {
        return Some("an MPEG transport stream (TS), not an MP4 file".into());
    }
    if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return Some("a Matroska or WebM file, not an MP4 file".into());
    }
    if head.starts_with(b"RIFF") || head.starts_with(b"OggS") || head.starts_with(b"fLaC") || head.starts_with(b"ID3") {
        return Some(format!("a {} file, not an MP4 file", String::from_utf8_lossy(&head[..4]).trim()));
    }
    // An MP4 starts with a box: a 32-bit size (1 for a 64-bit one) and a printable FourCC.
    let plausible = head.len() >= 8 && {
        let size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let fourcc_ok = head[4..8].iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ');
        fourcc_ok && (size == 1 || size == 0 || (8..=len).contains(&size))
    };
    if !plausible {
        let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let kind = if head.iter().take(64).all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
            "a text file"
        } else {
            "not an MP4 file"
        };
        return Some(if kind == "a text file" {
            "a text file, not an MP4 file".into()
        } else {
            format!("not an MP4 file (it starts with the bytes {}, not a box header)", shown.join(" "))
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::not_mp4;

    #[test]
    fn names_what_a_file_is() {
        let ismc = b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<SmoothStreamingMedia MajorVersion=\"2\">";
        assert!(not_mp4(ismc, 100).unwrap().starts_with("a Smooth Streaming client manifest"));
        assert!(not_mp4(b"<?xml version=\"1.0\"?><smil>", 30).unwrap().contains("server manifest"));
        let mut ts = vec![0u8; 376];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert!(not_mp4(&ts, 376).unwrap().contains("transport stream"));
        assert!(not_mp4(b"\x1a\x45\xdf\xa3\x01\x02", 6).unwrap().contains("Matroska"));
        assert!(not_mp4(b"hello world, not media\n", 23).unwrap().starts_with("a text file"));
        assert!(not_mp4(b"\x00\x00\x00\x1cftypisml", 1000).is_none());
        assert!(not_mp4(b"\xff\xfe\x00\x01\x02\x03\x04\x05", 1000).unwrap().contains("ff fe 00 01"));
    }
}
