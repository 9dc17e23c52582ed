//! The origin's fragment cache: the bytes of recently served fragments, bounded in bytes.
//!
//! A fragment request is answered from memory when its bytes are here, skipping the open, read and
//! close of the media file and the allocation of a fragment-sized buffer; hyper then sends the
//! shared bytes as they are. Entries are keyed by the file's path *and* [`Stamp`] (length, mtime,
//! device/inode/ctime),
//! which the catalog re-checks on every request, so a rewritten file is never answered from an
//! older copy: its new stamp misses and the old entries age out.

use std::path::PathBuf;

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::catalog::{FragmentLocation, Stamp};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: PathBuf,
    stamp: Stamp,
    offset: u64,
    /// A fragment and its `moof` alone (`FragmentInfo`) start at the same offset.
    len: u64,
    /// What is kept: the stored bytes, or a form built from them.
    form: Form,
}

/// Which bytes of a location an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// The fragment as stored in its file.
    Stored,
    /// The CMAF (DASH/HLS) segment built from it.
    Cmaf,
    /// The MPEG-TS segment (HLS `m3u8-aapl`) remuxed from it.
    Ts,
}

#[derive(Debug, Clone, Copy)]
struct ByLength;

impl Weighter<Key, Bytes> for ByLength {
    fn weight(&self, _key: &Key, bytes: &Bytes) -> u64 {
        bytes.len() as u64
    }
}

/// Fragment bytes by location, at most `capacity` bytes in all (0: nothing is cached).
pub struct FragmentCache {
    cache: Option<Cache<Key, Bytes, ByLength>>,
}

/// Entries are estimated at this size to size the cache's table.
const TYPICAL_FRAGMENT: u64 = 256 << 10;

impl std::fmt::Debug for FragmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (len, weight) = self.cache.as_ref().map_or((0, 0), |c| (c.len(), c.weight()));
        f.debug_struct("FragmentCache").field("fragments", &len).field("bytes", &weight).finish()
    }
}

impl FragmentCache {
    pub fn new(capacity: u64) -> Self {
        let items = usize::try_from(capacity / TYPICAL_FRAGMENT).unwrap_or(usize::MAX).max(16);
        FragmentCache { cache: (capacity > 0).then(|| Cache::with_weighter(items, capacity, ByLength)) }
    }

    /// The bytes at `loc`, from the cache or from `read` (whose result is then kept).
    pub fn get_or_read<E>(
        &self,
        loc: &FragmentLocation,
        read: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        self.get_or_build(loc, Form::Stored, read)
    }

    /// The bytes of `form` at `loc`, from the cache or from `build` (whose result is then kept).
    pub fn get_or_build<E>(
        &self,
        loc: &FragmentLocation,
        form: Form,
        build: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        let Some(cache) = &self.cache else { return build().map(Bytes::from) };
        let key = Key { path: loc.path.clone(), stamp: loc.stamp, offset: loc.offset, len: loc.len, form };
        if let Some(bytes) = cache.get(&key) {
            return Ok(bytes);
        }
        let bytes = Bytes::from(build()?);
        cache.insert(key, bytes.clone());
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::TrackKind;

    fn loc(offset: u64, mtime: u64) -> FragmentLocation {
        loc_len(offset, mtime, 10)
    }

    fn loc_len(offset: u64, mtime: u64, len: u64) -> FragmentLocation {
        FragmentLocation {
            path: PathBuf::from("/m/a.ismv"),
            stamp: Stamp {
                len: 1000,
                mtime: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime)),
                id: 7,
            },
            offset,
            len,
            kind: TrackKind::Video,
        }
    }

    #[test]
    fn hits_need_the_same_file_stamp_and_offset() {
        let cache = FragmentCache::new(1 << 20);
        let read = |b: u8| move || Ok::<_, ()>(vec![b; 10]);
        assert_eq!(cache.get_or_read(&loc(0, 1), read(1)).unwrap()[0], 1);
        assert_eq!(cache.get_or_read(&loc(0, 1), read(2)).unwrap()[0], 1, "a hit");
        assert_eq!(cache.get_or_read(&loc(0, 2), read(3)).unwrap()[0], 3, "the file changed: a miss");
        assert_eq!(cache.get_or_read(&loc(10, 1), read(4)).unwrap()[0], 4, "another fragment");
        assert_eq!(cache.get_or_read(&loc_len(0, 1, 4), read(6)).unwrap()[0], 6, "the moof alone (FragmentInfo)");
        assert!(cache.get_or_read(&loc(20, 1), || Err::<Vec<u8>, ()>(())).is_err(), "errors are not cached");
        assert_eq!(cache.get_or_read(&loc(20, 1), read(5)).unwrap()[0], 5);
    }

    #[test]
    fn a_zero_capacity_cache_always_reads() {
        let cache = FragmentCache::new(0);
        assert_eq!(cache.get_or_read(&loc(0, 1), || Ok::<_, ()>(vec![1])).unwrap()[0], 1);
        assert_eq!(cache.get_or_read(&loc(0, 1), || Ok::<_, ()>(vec![2])).unwrap()[0], 2);
    }
}
