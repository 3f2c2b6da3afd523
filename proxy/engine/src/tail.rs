//! Live fan-out of appended events to Tail streams. Every append that goes
//! through this proxy is published after the backend acknowledged it, so a
//! tail never shows an event that could still be lost.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::backend::Event;

/// Events buffered per series before a slow tail is told it fell behind.
const CAPACITY: usize = 4096;

/// (namespace, series id)
type SeriesKey = (String, String);

#[derive(Default)]
pub struct TailHub {
    channels: Mutex<HashMap<SeriesKey, broadcast::Sender<Arc<Event>>>>,
    closed: std::sync::atomic::AtomicBool,
}

impl TailHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// A receiver of the series' appends; already closed once the hub is closed.
    pub fn subscribe(&self, namespace: &str, series_id: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut channels = self.channels.lock();
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return broadcast::channel(1).1;
        }
        channels
            .entry((namespace.to_string(), series_id.to_string()))
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe()
    }

    pub fn publish(&self, namespace: &str, events: &[Event]) {
        let mut channels = self.channels.lock();
        if channels.is_empty() {
            return;
        }
        for event in events {
            let key = (namespace.to_string(), event.series_id.clone());
            if let Some(sender) = channels.get(&key) {
                if sender.send(Arc::new(event.clone())).is_err() {
                    channels.remove(&key);
                }
            }
        }
    }

    /// Ends every tail: streams are not in-flight work, so shutdown does not wait
    /// for them. Tails see the close and end with UNAVAILABLE.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.channels.lock().clear();
    }
}
