//! The fragments waiting for one target: bounded in fragments and in bytes; when full, the oldest
//! are dropped (with a warning) so that encoding never waits for a connection and memory stays
//! flat however long the outage.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// One fragment (`moof`+`mdat`) of one track, ready to post.
#[derive(Debug, Clone)]
pub struct Item {
    pub track_id: u32,
    /// `tfxd` time, ticks.
    pub time: u64,
    /// `tfxd` duration, ticks.
    pub duration: u64,
    pub bytes: Arc<Vec<u8>>,
}

#[derive(Default)]
struct State {
    header: Option<Arc<Vec<u8>>>,
    items: VecDeque<Item>,
    bytes: usize,
    /// No more fragments will come (end of input).
    ended: bool,
    /// The encode failed: stop without an end of stream.
    aborted: bool,
    dropped: u64,
}

/// What a target thread takes next.
pub enum Next {
    Item(Item),
    /// Every fragment was taken and the input ended.
    End,
    Abort,
    /// Nothing yet.
    Idle,
}

/// A target's queue, shared by the encoder (pushing) and the target thread (taking).
pub struct Queue {
    state: Mutex<State>,
    cv: Condvar,
    max_items: usize,
    max_bytes: usize,
    /// For the progress line, kept by the target thread: fragments sent, reconnects, connected.
    pub sent: AtomicU64,
    /// End time (ticks, `tfxd` time + duration) of the newest fragment sent; 0 before any.
    pub sent_until: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicBool,
}

impl Queue {
    pub fn new(max_items: usize, max_bytes: usize) -> Self {
        Queue {
            state: Mutex::default(),
            cv: Condvar::new(),
            max_items: max_items.max(1),
            max_bytes,
            sent: AtomicU64::new(0),
            sent_until: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            connected: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_header(&self, header: Arc<Vec<u8>>) {
        self.lock().header = Some(header);
        self.cv.notify_all();
    }

    /// Waits at most `timeout` for the header boxes.
    pub fn header(&self, timeout: Duration) -> Option<Arc<Vec<u8>>> {
        let g = self.lock();
        let (g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |s| s.header.is_none() && !s.aborted && !s.ended)
            .unwrap_or_else(PoisonError::into_inner);
        g.header.clone()
    }

    /// Queues a fragment; returns how many old ones were dropped to make room.
    pub fn push(&self, item: Item) -> u64 {
        let mut g = self.lock();
        g.bytes += item.bytes.len();
        g.items.push_back(item);
        let mut dropped = 0;
        while g.items.len() > 1 && (g.items.len() > self.max_items || g.bytes > self.max_bytes) {
            if let Some(old) = g.items.pop_front() {
                g.bytes -= old.bytes.len();
                dropped += 1;
            }
        }
        g.dropped += dropped;
        drop(g);
        self.cv.notify_all();
        dropped
    }

    /// Puts back, at the front, a fragment whose send failed.
    pub fn unget(&self, item: Item) {
        let mut g = self.lock();
        g.bytes += item.bytes.len();
        g.items.push_front(item);
    }

    /// The next fragment, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Next {
        let g = self.lock();
        let (mut g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |s| s.items.is_empty() && !s.ended && !s.aborted)
            .unwrap_or_else(PoisonError::into_inner);
        if g.aborted {
            return Next::Abort;
        }
        match g.items.pop_front() {
            Some(item) => {
                g.bytes -= item.bytes.len();
                Next::Item(item)
            }
            None if g.ended => Next::End,
            None => Next::Idle,
        }
    }

    pub fn end(&self) {
        self.lock().ended = true;
        self.cv.notify_all();
    }

    pub fn abort(&self) {
        self.lock().aborted = true;
        self.cv.notify_all();
    }

    pub fn is_ended(&self) -> bool {
        self.lock().ended
    }

    pub fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    /// Fragments dropped on overflow so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Fragments waiting.
    pub fn waiting(&self) -> usize {
        self.lock().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(time: u64, size: usize) -> Item {
        Item { track_id: 1, time, duration: 1, bytes: Arc::new(vec![0; size]) }
    }

    #[test]
    fn overflow_drops_the_oldest_by_count_and_by_bytes() {
        let q = Queue::new(3, 1000);
        for t in 0..5 {
            q.push(item(t, 10));
        }
        assert_eq!((q.waiting(), q.dropped()), (3, 2));
        assert!(matches!(q.next(Duration::ZERO), Next::Item(i) if i.time == 2));
        assert_eq!(q.push(item(9, 995)), 2, "bytes: only the new one fits");
        assert!(matches!(q.next(Duration::ZERO), Next::Item(i) if i.time == 9));
        assert!(matches!(q.next(Duration::ZERO), Next::Idle));
        q.unget(item(8, 1));
        q.end();
        assert!(matches!(q.next(Duration::ZERO), Next::Item(i) if i.time == 8));
        assert!(matches!(q.next(Duration::ZERO), Next::End));
        q.abort();
        assert!(matches!(q.next(Duration::ZERO), Next::Abort));
    }
}
