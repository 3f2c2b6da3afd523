//! The data-access audit log (ADR-010): a sink the audit layer hands records
//! to, a bounded queue, and one writer thread that fingerprints keys, formats
//! JSON lines and appends them to a rotating file. The data path only reserves
//! a slot and, when the call ends, fills it with a small struct.

pub mod capture;
pub mod fingerprint;
pub mod queue;
pub mod record;
pub mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tonic::Code;

use crate::call::Call;
use crate::config::AuditConfig;
use crate::metrics::Metrics;
use crate::PrismError;

pub use fingerprint::Fingerprinter;
pub use queue::Permit;
pub use record::{LineFormat, NamespaceName, Principal, Record, Subject};

/// How long `flush` and `close` wait for the writer (a stuck disk must not hang shutdown).
const WAIT_FOR_WRITER: Duration = Duration::from_secs(5);

pub struct AuditSink {
    queue: Arc<queue::Queue>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    metrics: Arc<Metrics>,
}

impl AuditSink {
    /// Opens (creating) the file and starts the writer thread.
    pub fn open(config: &AuditConfig, metrics: Arc<Metrics>) -> Result<Arc<Self>, PrismError> {
        if config.path.is_empty() {
            return Err(PrismError::invalid("server.audit.path", "is empty: no audit log to open"));
        }
        if config.channel_capacity == 0 {
            return Err(PrismError::invalid("server.audit.channel_capacity", "must be at least 1"));
        }
        if config.max_bytes < 4096 {
            return Err(PrismError::invalid("server.audit.max_bytes", "must be at least 4096"));
        }
        let fingerprints = Fingerprinter::from_env(&config.fingerprint_key_env);
        Self::with_fingerprints(config, fingerprints, metrics)
    }

    /// As `open`, with an explicit fingerprint key (tests, embedding).
    pub fn with_fingerprints(
        config: &AuditConfig,
        fingerprints: Fingerprinter,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, PrismError> {
        let cannot = |err: std::io::Error| {
            PrismError::invalid(
                "server.audit.path",
                format!("cannot open audit log '{}': {err}", config.path),
            )
        };
        let log =
            writer::FileLog::open(Path::new(&config.path), config.max_bytes, config.keep).map_err(cannot)?;
        let queue = queue::Queue::new(config.channel_capacity);
        let handle = writer::spawn(queue.clone(), log, fingerprints, metrics.clone())
            .map_err(|e| PrismError::Internal(format!("cannot start the audit writer thread: {e}")))?;
        Ok(Arc::new(Self { queue, writer: Mutex::new(Some(handle)), metrics }))
    }

    /// A slot for the record of a call about to run; `None` when the queue is full.
    pub fn try_reserve(&self) -> Option<Permit> {
        self.queue.try_reserve()
    }

    /// Counts a record that could not be queued.
    pub fn count_dropped(&self) {
        self.metrics.security.audit_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a call refused by authentication (the authn layer's failure hook):
    /// principal `unauthenticated`, code UNAUTHENTICATED, the reason, no latency.
    pub fn record_unauthenticated(&self, call: &Call, error: &PrismError) {
        let Some(permit) = self.try_reserve() else {
            self.count_dropped();
            return;
        };
        let (subject, _) = capture::request(&call.request);
        permit.send(Record {
            at: std::time::Instant::now(),
            principal: Principal::Unauthenticated,
            namespace: NamespaceName::other(call.namespace_name()),
            method: call.method,
            subject,
            items: 0,
            code: Code::Unauthenticated,
            latency_us: 0,
            reason: Some(error.to_string()),
            peer: call.credentials.peer,
        });
    }

    /// Writes and flushes everything queued so far; false if the writer did not
    /// answer within a few seconds or has stopped.
    pub fn flush(&self) -> bool {
        self.queue.flush(WAIT_FOR_WRITER)
    }

    /// Stops taking records, writes what is queued, flushes and ends the writer thread.
    pub fn close(&self) {
        let Some(handle) = self.writer.lock().take() else { return };
        self.queue.close();
        // Join from a helper thread so a wedged disk cannot hang shutdown for ever.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let joiner = std::thread::spawn(move || {
            let _ = handle.join();
            let _ = done_tx.send(());
        });
        if done_rx.recv_timeout(WAIT_FOR_WRITER).is_ok() {
            let _ = joiner.join();
        } else {
            tracing::error!(
                "audit: the writer did not finish within {WAIT_FOR_WRITER:?}; records may be lost"
            );
        }
    }

    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        self.close();
    }
}
