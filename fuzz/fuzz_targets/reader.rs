//! The PIFF / ISO-BMFF reader and the box dumper on arbitrary bytes.
//!
//! Properties: neither panics, overflows, allocates without bound nor loops forever, whatever the
//! bytes. When the file parses, the top-level boxes tile the file from byte 0 and every `moof`/`mdat`
//! the fragments point at lies inside it. Sample offsets come from hostile `tfhd`/`trun` fields and
//! are not promised in bounds (readers bounds-check them when they read), so that is not asserted.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ssfpack::format::dump::dump_buffer;
use ssfpack::format::reader::MediaFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = MediaFile::parse(Cursor::new(data), data.len() as u64, Path::new("fuzz")) {
        let mut at = 0u64;
        for span in &file.top_level {
            assert_eq!(span.offset, at, "top-level boxes leave a gap or overlap");
            assert!(span.size >= span.header_size);
            at = span.offset + span.size;
        }
        assert_eq!(at, file.len, "top-level boxes do not end at the end of the file");
        // Touch the derived accessors the checker and the origin use.
        for f in &file.fragments {
            assert!(f.moof_offset + f.moof_size <= file.len);
            if let Some(m) = f.mdat {
                assert!(m.offset + m.size <= file.len);
            }
            assert!(f.byte_len() <= file.len);
            let _ = f.decode_duration();
            let _ = f.byte_len();
            for s in &f.samples {
                let _ = s.is_sync();
            }
            let _ = file.track(f.track_id);
        }
        for t in &file.tracks {
            let _ = file.track_fragments(t.track_id).count();
            if let Some(c) = &t.codec {
                let _ = c.codec_private_data();
                let _ = c.fourcc();
            }
        }
        if let Some(mfra) = &file.mfra {
            for t in &file.tracks {
                let _ = ssfpack::format::reader::tfra_for(mfra, t.track_id);
            }
        }
    }
    let _ = dump_buffer(data);
});
