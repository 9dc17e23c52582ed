//! What made a finished output, so a rerun can skip it without decoding anything: the batch record
//! `.ssfpack-batch.json`, written inside the output folder before it is published (so an output
//! and its record appear together, atomically) and listed in the published marker like any file
//! the run wrote (`--force` may replace it). A rerun compares the input's size, modification time
//! and a fast content hash, the options and the ssfpack version with the record: all equal means
//! "up to date"; anything else means "redo".

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::format::fnv1a64;

/// The record's file name, inside each output folder.
pub const RECORD: &str = ".ssfpack-batch.json";

/// Bytes read from the start, the middle and the end of an input for its content hash.
const SAMPLE: u64 = 64 * 1024;

/// What identifies an input's content, cheaply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// FNV-1a 64 of the size and three 64 KiB samples (start, middle, end), hex: a changed header,
    /// tail or middle is seen even when the size and time were kept (`cp -p`, `rsync -t`).
    pub hash: String,
}

/// The record itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Always `ssfpack`.
    pub tool: String,
    pub version: String,
    /// The input, relative to the library (`/`-separated).
    pub input: String,
    pub fingerprint: Fingerprint,
    /// Every option that changes the output's bytes, in one canonical line.
    pub options: String,
}

impl Record {
    pub fn new(input: &str, fingerprint: Fingerprint, options: &str) -> Self {
        Record {
            tool: "ssfpack".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            input: input.into(),
            fingerprint,
            options: options.into(),
        }
    }

    /// Writes the record into (staged) folder `dir`, synced.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::durable::write_synced(&dir.join(RECORD), &json)
    }

    /// The record in published folder `dir`, if there is a readable one.
    pub fn read(dir: &Path) -> Option<Record> {
        let bytes = std::fs::read(dir.join(RECORD)).ok()?;
        serde_json::from_slice::<Record>(&bytes).ok().filter(|r| r.tool == "ssfpack")
    }

    /// Why an output made from this record is out of date with `current`, or `None` if up to date.
    pub fn stale_because(&self, current: &Record) -> Option<&'static str> {
        if self.input != current.input {
            Some("made from another input")
        } else if self.version != current.version {
            Some("made by another ssfpack version")
        } else if self.options != current.options {
            Some("options changed")
        } else if self.fingerprint != current.fingerprint {
            Some("input changed")
        } else {
            None
        }
    }
}

/// Size, modification time and sampled hash of `path`.
pub fn fingerprint(path: &Path) -> std::io::Result<Fingerprint> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let size = meta.len();
    let mtime_ns = match meta.modified()?.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    let mut data = size.to_le_bytes().to_vec();
    let mut offsets = vec![0];
    if size > SAMPLE {
        offsets.push(size / 2 - SAMPLE / 2);
        offsets.push(size - SAMPLE);
    }
    let mut buf = vec![0u8; SAMPLE as usize];
    for offset in offsets {
        file.seek(SeekFrom::Start(offset))?;
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        data.extend_from_slice(&buf[..filled]);
    }
    Ok(Fingerprint { size, mtime_ns, hash: format!("{:016x}", fnv1a64(&data)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_seen_and_an_unchanged_input_is_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("in.mp4");
        std::fs::write(&f, vec![7u8; 300_000]).unwrap();
        let a = fingerprint(&f).unwrap();
        assert_eq!(a, fingerprint(&f).unwrap());
        let rec = Record::new("in.mp4", a.clone(), "ladder=auto");
        rec.write(dir.path()).unwrap();
        let back = Record::read(dir.path()).unwrap();
        assert_eq!(back.stale_because(&rec), None);
        assert_eq!(back.stale_because(&Record::new("in.mp4", a.clone(), "ladder=sd")), Some("options changed"));
        // Same size, same time, one byte changed in the middle: the hash sees it.
        let mut bytes = std::fs::read(&f).unwrap();
        bytes[150_000] = 8;
        let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
        std::fs::write(&f, &bytes).unwrap();
        std::fs::File::options().write(true).open(&f).unwrap().set_modified(mtime).unwrap();
        let b = fingerprint(&f).unwrap();
        assert_eq!((b.size, b.mtime_ns), (a.size, a.mtime_ns));
        assert_ne!(b.hash, a.hash);
        assert_eq!(back.stale_because(&Record::new("in.mp4", b, "ladder=auto")), Some("input changed"));
    }
}
