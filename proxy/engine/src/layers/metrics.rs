//! Records every call's outcome and latency per namespace and method. It is
//! the outermost layer so shed, timed-out and refused calls are counted too.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::rescue::code_of;
use crate::PrismError;

/// Label for namespaces that do not exist: keeps label cardinality bounded.
pub const UNKNOWN_NAMESPACE: &str = "_unknown";

#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>, registry: Arc<Registry>) -> Self {
        Self { metrics, registry }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = RecordMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordMetrics { inner, metrics: self.metrics.clone(), registry: self.registry.clone() }
    }
}

#[derive(Clone)]
pub struct RecordMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
}

impl<S> Service<Call> for RecordMetrics<S>
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
        let started = Instant::now();
        let method = call.method;
        // Holding the Arc (not a copy of its name) keeps the hot path allocation-free.
        let namespace = self.registry.get(call.namespace_name());
        let metrics = self.metrics.clone();
        let fut = self.inner.call(call);
        Box::pin(async move {
            let result = fut.await;
            let label = namespace.as_ref().map_or(UNKNOWN_NAMESPACE, |ns| ns.name.as_str());
            metrics.record(label, method, code_of(&result), started.elapsed());
            result
        })
    }
}
