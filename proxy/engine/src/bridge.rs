//! The queue that carries backend calls to the Python plugin host.
//!
//! Tokio tasks never touch Python. They push a request here and await a
//! oneshot. The host thread (a Python thread that keeps its thread state)
//! sleeps on `notify_fd`; when the queue turns non-empty one byte is written,
//! the host drains every queued request in one crossing, groups them into
//! batch calls, and answers with one `complete` per group. The binding crate
//! converts requests and replies to and from Python objects.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::backend::*;
use crate::PrismError;

/// A backend operation as the plugin host sees it.
#[derive(Debug, Clone)]
pub enum BridgeOp {
    KvGet(Vec<Bytes>),
    KvPut(Vec<PutEntry>),
    KvDelete(Vec<DeleteEntry>),
    KvScan(ScanQuery),
    TsAppend(Vec<Event>),
    TsQuery(TsQuery),
    TsAggregate(AggQuery),
    /// Answered by the host itself: measures the bridge alone.
    Noop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    KvGet,
    KvPut,
    KvDelete,
    KvScan,
    TsAppend,
    TsQuery,
    TsAggregate,
    Noop,
}

impl BridgeOp {
    pub fn kind(&self) -> OpKind {
        match self {
            BridgeOp::KvGet(_) => OpKind::KvGet,
            BridgeOp::KvPut(_) => OpKind::KvPut,
            BridgeOp::KvDelete(_) => OpKind::KvDelete,
            BridgeOp::KvScan(_) => OpKind::KvScan,
            BridgeOp::TsAppend(_) => OpKind::TsAppend,
            BridgeOp::TsQuery(_) => OpKind::TsQuery,
            BridgeOp::TsAggregate(_) => OpKind::TsAggregate,
            BridgeOp::Noop => OpKind::Noop,
        }
    }
}

impl OpKind {
    /// The op name of the wire format documented in `prism.plugins.api`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::KvGet => "kv.get",
            OpKind::KvPut => "kv.put",
            OpKind::KvDelete => "kv.delete",
            OpKind::KvScan => "kv.scan",
            OpKind::TsAppend => "ts.append",
            OpKind::TsQuery => "ts.query",
            OpKind::TsAggregate => "ts.aggregate",
            OpKind::Noop => "noop",
        }
    }
}

#[derive(Debug, Clone)]
pub enum BridgeReply {
    Items(Vec<Option<Item>>),
    Written(Vec<Written>),
    Deleted(Vec<bool>),
    Scanned(Vec<Item>),
    Appended(AppendOutcome),
    Events(Vec<Event>),
    Buckets(Vec<BucketStat>),
    Noop,
}

#[derive(Debug)]
pub struct BridgeRequest {
    pub id: u64,
    pub namespace: Arc<str>,
    pub op: BridgeOp,
}

type Responder = oneshot::Sender<Result<BridgeReply, PrismError>>;

pub struct BridgeQueue {
    queue: Mutex<VecDeque<(BridgeRequest, Responder)>>,
    pending: Mutex<HashMap<u64, (OpKind, Responder)>>,
    next_id: AtomicU64,
    /// True while a wake-up byte is outstanding: one byte per empty→non-empty edge.
    notified: AtomicBool,
    closed: AtomicBool,
    waker: UnixStream,
    wake_fd: UnixStream,
}

impl BridgeQueue {
    pub fn new() -> std::io::Result<Self> {
        let (waker, wake_fd) = UnixStream::pair()?;
        waker.set_nonblocking(true)?;
        wake_fd.set_nonblocking(true)?;
        Ok(Self {
            queue: Mutex::new(VecDeque::new()),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            waker,
            wake_fd,
        })
    }

    /// Readable when the host should drain; the host reads the bytes away first.
    pub fn notify_fd(&self) -> RawFd {
        self.wake_fd.as_raw_fd()
    }

    fn wake(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            self.write_wake_byte();
        }
    }

    fn write_wake_byte(&self) {
        // A full socket buffer already means "wake up": WouldBlock is fine.
        let _ = (&self.waker).write(&[1]);
    }

    /// Queues an operation and waits for the host's answer.
    pub async fn call(&self, namespace: Arc<str>, op: BridgeOp) -> Result<BridgeReply, PrismError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(host_stopped());
        }
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.queue.lock().push_back((BridgeRequest { id, namespace, op }, tx));
        if !self.notified.swap(true, Ordering::AcqRel) {
            // The first request since the host's last drain wakes it, but only after
            // the runtime has run its other ready tasks and polled its sockets: the
            // requests of this tick then share one wake-up. On the one core the bench
            // pins the gateway to, waking the host per request cost two context
            // switches per Get (ADR-003). The guard writes the byte even if this
            // future is dropped during the yield, so the queue is never left unsignalled.
            let wake = WakeOnDrop(self);
            tokio::task::yield_now().await;
            drop(wake);
        }
        rx.await.unwrap_or_else(|_| Err(host_stopped()))
    }

    /// Takes up to `max` queued requests; their responders move to `pending`.
    pub fn drain(&self, max: usize) -> Vec<BridgeRequest> {
        self.notified.store(false, Ordering::Release);
        let mut taken = Vec::new();
        {
            let mut queue = self.queue.lock();
            let n = queue.len().min(max);
            let mut pending = self.pending.lock();
            for (request, responder) in queue.drain(..n) {
                pending.insert(request.id, (request.op.kind(), responder));
                taken.push(request);
            }
            if !queue.is_empty() {
                drop(pending);
                drop(queue);
                self.wake();
            }
        }
        taken
    }

    /// The responder of a drained request, with the kind its answer must have.
    pub fn take_pending(&self, id: u64) -> Option<(OpKind, Responder)> {
        self.pending.lock().remove(&id)
    }

    pub fn pending_len(&self) -> usize {
        self.pending.lock().len()
    }

    pub fn queued_len(&self) -> usize {
        self.queue.lock().len()
    }

    /// Fails queued and in-flight requests and refuses new ones.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let queued: Vec<_> = self.queue.lock().drain(..).collect();
        for (_, responder) in queued {
            let _ = responder.send(Err(host_stopped()));
        }
        let pending: Vec<_> = self.pending.lock().drain().collect();
        for (_, (_, responder)) in pending {
            let _ = responder.send(Err(host_stopped()));
        }
        self.notified.store(false, Ordering::Release);
        self.wake();
    }
}

/// Writes the host's wake-up byte when dropped (see `BridgeQueue::call`).
struct WakeOnDrop<'a>(&'a BridgeQueue);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.write_wake_byte();
    }
}

fn host_stopped() -> PrismError {
    PrismError::Unavailable("the Python plugin host is not running".into())
}

/// A backend served by a Python plugin through the bridge.
pub struct BridgedBackend {
    kind: String,
    namespace: Arc<str>,
    queue: Arc<BridgeQueue>,
}

impl BridgedBackend {
    pub fn new(kind: &str, namespace: &str, queue: Arc<BridgeQueue>) -> Self {
        Self { kind: kind.to_string(), namespace: namespace.into(), queue }
    }

    async fn call(&self, op: BridgeOp) -> Result<BridgeReply, PrismError> {
        self.queue.call(self.namespace.clone(), op).await
    }

    fn wrong_shape(&self, op: &str) -> PrismError {
        PrismError::Internal(format!("backend '{}' answered {op} with the wrong shape", self.kind))
    }
}

#[async_trait]
impl Backend for BridgedBackend {
    fn kind(&self) -> &str {
        &self.kind
    }

    async fn kv_get_many(&self, keys: Vec<Bytes>) -> Result<Vec<Option<Item>>, PrismError> {
        match self.call(BridgeOp::KvGet(keys)).await? {
            BridgeReply::Items(items) => Ok(items),
            _ => Err(self.wrong_shape("kv.get")),
        }
    }

    async fn kv_put(&self, entries: Vec<PutEntry>) -> Result<Vec<Written>, PrismError> {
        match self.call(BridgeOp::KvPut(entries)).await? {
            BridgeReply::Written(written) => Ok(written),
            _ => Err(self.wrong_shape("kv.put")),
        }
    }

    async fn kv_delete(&self, entries: Vec<DeleteEntry>) -> Result<Vec<bool>, PrismError> {
        match self.call(BridgeOp::KvDelete(entries)).await? {
            BridgeReply::Deleted(deleted) => Ok(deleted),
            _ => Err(self.wrong_shape("kv.delete")),
        }
    }

    async fn kv_scan(&self, query: ScanQuery) -> Result<Vec<Item>, PrismError> {
        match self.call(BridgeOp::KvScan(query)).await? {
            BridgeReply::Scanned(items) => Ok(items),
            _ => Err(self.wrong_shape("kv.scan")),
        }
    }

    async fn ts_append(&self, events: Vec<Event>) -> Result<AppendOutcome, PrismError> {
        match self.call(BridgeOp::TsAppend(events)).await? {
            BridgeReply::Appended(outcome) => Ok(outcome),
            _ => Err(self.wrong_shape("ts.append")),
        }
    }

    async fn ts_query(&self, query: TsQuery) -> Result<Vec<Event>, PrismError> {
        match self.call(BridgeOp::TsQuery(query)).await? {
            BridgeReply::Events(events) => Ok(events),
            _ => Err(self.wrong_shape("ts.query")),
        }
    }

    async fn ts_aggregate(&self, query: AggQuery) -> Result<Vec<BucketStat>, PrismError> {
        match self.call(BridgeOp::TsAggregate(query)).await? {
            BridgeReply::Buckets(buckets) => Ok(buckets),
            _ => Err(self.wrong_shape("ts.aggregate")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn wake_bytes(queue: &BridgeQueue) -> usize {
        let mut buf = [0u8; 64];
        (&queue.wake_fd).read(&mut buf).unwrap_or(0)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_of_one_tick_share_one_wake_up() {
        let queue = Arc::new(BridgeQueue::new().unwrap());
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let q = queue.clone();
                tokio::spawn(async move { q.call("ns".into(), BridgeOp::Noop).await })
            })
            .collect();
        // One turn: every call has queued its request, and the first one, which owns
        // the wake-up, is still yielding so the others can join its batch.
        tokio::task::yield_now().await;
        assert_eq!(queue.queued_len(), 5);
        assert_eq!(wake_bytes(&queue), 0, "woken before the tick's requests were queued");
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        assert_eq!(wake_bytes(&queue), 1, "one byte for the five requests");
        queue.close();
        for call in calls {
            assert!(call.await.unwrap().is_err());
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_dropped_before_its_wake_up_still_wakes_the_host() {
        let queue = BridgeQueue::new().unwrap();
        let mut call = Box::pin(queue.call("ns".into(), BridgeOp::Noop));
        // First poll: queued, now yielding before the wake-up byte.
        assert!(futures::poll!(call.as_mut()).is_pending());
        assert_eq!(wake_bytes(&queue), 0);
        drop(call);
        assert_eq!(wake_bytes(&queue), 1, "the queued request must not be left unsignalled");
        assert_eq!(queue.drain(16).len(), 1);
    }
}
