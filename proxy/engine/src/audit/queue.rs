//! The bounded hand-off between the data path and the audit writer thread.
//! A slot is reserved before a request runs (so an `audit_required` namespace
//! can refuse work it could not record) and filled when it ends. Producers do
//! not wake the writer for every record, only when a quarter of the queue has
//! filled up; otherwise the writer drains on its own tick. That keeps futex
//! wake-ups (microseconds each) off the hot path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::record::Record;

struct State {
    items: Vec<Record>,
    closed: bool,
    /// Flushes asked for and flushes done, so `flush` can wait for its own.
    flush_asked: u64,
    flush_done: u64,
    /// The writer has exited; nobody will answer a flush.
    writer_gone: bool,
}

pub struct Queue {
    state: Mutex<State>,
    /// The writer waits here for records, a flush request or close.
    wake: Condvar,
    /// `flush` callers wait here for the writer's answer.
    flushed: Condvar,
    /// Reserved plus queued records; never above `capacity`.
    slots: AtomicUsize,
    capacity: usize,
    wake_at: usize,
}

/// What the writer takes from the queue in one go.
pub struct Batch {
    pub records: Vec<Record>,
    pub flush: Option<u64>,
    pub closed: bool,
}

impl Queue {
    pub fn new(capacity: usize) -> Arc<Self> {
        let capacity = capacity.max(1);
        Arc::new(Self {
            state: Mutex::new(State {
                items: Vec::with_capacity(capacity.min(4096)),
                closed: false,
                flush_asked: 0,
                flush_done: 0,
                writer_gone: false,
            }),
            wake: Condvar::new(),
            flushed: Condvar::new(),
            slots: AtomicUsize::new(0),
            capacity,
            wake_at: (capacity / 4).max(1),
        })
    }

    /// A slot for one record, or `None` when the queue is full (or closed).
    pub fn try_reserve(self: &Arc<Self>) -> Option<Permit> {
        let mut used = self.slots.load(Ordering::Relaxed);
        loop {
            if used >= self.capacity {
                return None;
            }
            match self.slots.compare_exchange_weak(used, used + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(Permit { queue: Some(self.clone()) }),
                Err(seen) => used = seen,
            }
        }
    }

    fn push(&self, record: Record) {
        let mut state = self.state.lock();
        if state.writer_gone {
            drop(state);
            self.slots.fetch_sub(1, Ordering::Release);
            return;
        }
        state.items.push(record);
        let queued = state.items.len();
        drop(state);
        if queued == self.wake_at {
            self.wake.notify_one();
        }
    }

    /// Writer side: waits up to `tick` for work, then takes everything queued.
    /// `spare` (an emptied previous batch) is swapped in, so steady state allocates nothing.
    pub fn take(&self, tick: Duration, spare: Vec<Record>) -> Batch {
        let mut state = self.state.lock();
        if state.items.is_empty() && !state.closed && state.flush_asked == state.flush_done {
            self.wake.wait_for(&mut state, tick);
        }
        let records = std::mem::replace(&mut state.items, spare);
        let flush = (state.flush_asked > state.flush_done).then_some(state.flush_asked);
        let closed = state.closed;
        drop(state);
        self.slots.fetch_sub(records.len(), Ordering::Release);
        Batch { records, flush, closed }
    }

    /// Writer side: the file is flushed up to request `asked`.
    pub fn flushed(&self, asked: u64) {
        let mut state = self.state.lock();
        state.flush_done = state.flush_done.max(asked);
        drop(state);
        self.flushed.notify_all();
    }

    /// Writer side: it has exited (after close, or on a fatal error).
    pub fn writer_exited(&self) {
        let mut state = self.state.lock();
        state.writer_gone = true;
        let dropped = std::mem::take(&mut state.items).len();
        drop(state);
        self.slots.fetch_sub(dropped, Ordering::Release);
        self.flushed.notify_all();
    }

    /// Asks the writer to write and flush everything queued so far; waits up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let mut state = self.state.lock();
        if state.writer_gone {
            return false;
        }
        state.flush_asked += 1;
        let asked = state.flush_asked;
        self.wake.notify_one();
        let deadline = std::time::Instant::now() + timeout;
        while state.flush_done < asked && !state.writer_gone {
            if self.flushed.wait_until(&mut state, deadline).timed_out() {
                return false;
            }
        }
        state.flush_done >= asked
    }

    /// No more reservations; the writer drains what is queued and exits.
    pub fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        drop(state);
        // Fill the slots so nothing reserves after close.
        self.slots.fetch_add(self.capacity, Ordering::AcqRel);
        self.wake.notify_one();
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// A reserved slot. Dropped unused, it frees the slot.
pub struct Permit {
    queue: Option<Arc<Queue>>,
}

impl Permit {
    pub fn send(mut self, record: Record) {
        if let Some(queue) = self.queue.take() {
            queue.push(record);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.slots.fetch_sub(1, Ordering::Release);
        }
    }
}
