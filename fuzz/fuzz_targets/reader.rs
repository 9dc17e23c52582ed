//! The PIFF / ISO-BMFF reader and the box dumper on arbitrary bytes.
//!
//! Property: neither panics, overflows, allocates without bound nor loops forever, whatever the bytes.
//! When the file parses, every sample the reader located lies inside the file or reports an offset the
//! caller can bounds-check (the reader does not promise in-bounds samples, so that is not asserted).
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ssfpack::format::dump::dump_buffer;
use ssfpack::format::reader::MediaFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = MediaFile::parse(Cursor::new(data), data.len() as u64, Path::new("fuzz")) {
        // Touch the derived accessors the checker and the origin use.
        for f in &file.fragments {
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
