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

#[derive(Default)]
pub struct TailHub {
    channels: Mutex<HashMap<(String, String), broadcast::Sender<Arc<Event>>>>,
}

impl TailHub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, namespace: &str, series_id: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut channels = self.channels.lock();
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
}
