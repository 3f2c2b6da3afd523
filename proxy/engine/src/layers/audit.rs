//! Records every call that reaches it in the audit log (ADR-010): who, which
//! namespace and method, a fingerprint of the key, the item count, the outcome
//! and the latency. A queue slot is reserved before the call runs; when the
//! queue is full, a namespace with `audit_required` refuses the call (nothing
//! is done) and any other namespace serves it and counts the dropped record.
//! It sits above the namespace layer, so it looks the namespace up itself.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::Code;
use tower::{Layer, Service};

use super::CallFuture;
use crate::audit::{capture, AuditSink, NamespaceName, Permit, Principal, Record};
use crate::call::{Call, Reply};
use crate::registry::Registry;
use crate::rescue::code_of;
use crate::PrismError;

struct Auditor {
    sink: Arc<AuditSink>,
    registry: Arc<Registry>,
}

/// No sink (no `server.audit.path`): calls pass straight through.
#[derive(Clone, Default)]
pub struct AuditLayer {
    auditor: Option<Arc<Auditor>>,
}

impl AuditLayer {
    pub fn new(sink: Arc<AuditSink>, registry: Arc<Registry>) -> Self {
        Self { auditor: Some(Arc::new(Auditor { sink, registry })) }
    }

    pub fn sink(&self) -> Option<&Arc<AuditSink>> {
        self.auditor.as_ref().map(|a| &a.sink)
    }

    /// Writes and flushes what is queued (true when there is no audit log).
    pub fn flush(&self) -> bool {
        self.sink().is_none_or(|sink| sink.flush())
    }

    /// Drains and stops the writer (server shutdown).
    pub fn close(&self) {
        if let Some(sink) = self.sink() {
            sink.close();
        }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Audit { inner, auditor: self.auditor.clone() }
    }
}

#[derive(Clone)]
pub struct Audit<S> {
    inner: S,
    auditor: Option<Arc<Auditor>>,
}

/// Why a call of an audit-required namespace was refused.
#[derive(Debug, thiserror::Error)]
#[error("audit log is behind; namespace '{0}' requires auditing, retry")]
pub struct AuditBehind(pub String);

impl From<AuditBehind> for PrismError {
    fn from(err: AuditBehind) -> Self {
        PrismError::Unavailable(err.to_string())
    }
}

/// The record of a call in flight. Dropped before the call ends (the client went
/// away), it is still written, with code CANCELLED.
struct InFlight {
    pending: Option<(Permit, Record)>,
    started: Instant,
}

impl InFlight {
    fn finish(mut self, code: Code, items: Option<u64>) {
        if let Some((permit, mut record)) = self.pending.take() {
            record.code = code;
            if let Some(items) = items {
                record.items = items;
            }
            record.latency_us = self.started.elapsed().as_micros() as u64;
            permit.send(record);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((permit, mut record)) = self.pending.take() {
            record.code = Code::Cancelled;
            record.latency_us = self.started.elapsed().as_micros() as u64;
            permit.send(record);
        }
    }
}

impl<S> Service<Call> for Audit<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture>,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> CallFuture {
        let Some(auditor) = self.auditor.as_ref() else {
            return self.inner.call(call);
        };
        let namespace = auditor.registry.get(call.namespace_name());
        let Some(permit) = auditor.sink.try_reserve() else {
            auditor.sink.count_dropped();
            if let Some(ns) = namespace.filter(|ns| ns.audit_required) {
                let err = AuditBehind(ns.name.clone());
                return Box::pin(async move { Err(err.into()) });
            }
            return self.inner.call(call);
        };
        let (subject, request_items) = capture::request(&call.request);
        let started = Instant::now();
        let record = Record {
            at: started,
            principal: Principal::Caller(call.identity.clone()),
            namespace: match namespace {
                Some(ns) => NamespaceName::Known(ns),
                None => NamespaceName::other(call.namespace_name()),
            },
            method: call.method,
            subject,
            items: request_items.unwrap_or(0),
            code: Code::Ok,
            latency_us: 0,
            reason: None,
            peer: None,
        };
        let in_flight = InFlight { pending: Some((permit, record)), started };
        let fut = self.inner.call(call);
        Box::pin(async move {
            let result = fut.await;
            // Writes count what was sent; reads count what came back.
            let items = match (&result, request_items) {
                (Ok(reply), None) => Some(capture::reply_items(reply)),
                _ => None,
            };
            in_flight.finish(code_of(&result), items);
            result
        })
    }
}
