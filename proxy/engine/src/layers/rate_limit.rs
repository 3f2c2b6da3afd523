//! Token buckets per namespace and per (namespace, principal) (ADR-010).
//! Below authz, so only permitted calls spend tokens. Exceeded: RESOURCE_EXHAUSTED
//! with the time until the next token (rescue turns it into `google.rpc.RetryInfo`).
//! Namespaces without rates have no buckets and pay one branch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::metrics::Metrics;
use crate::token_bucket::Exceeded;
use crate::PrismError;

/// The RESOURCE_EXHAUSTED of an exceeded bucket, naming what was exceeded.
pub fn exceeded_error(namespace: &str, principal: &str, exceeded: &Exceeded) -> PrismError {
    let (message, retry_after) = match exceeded {
        Exceeded::Namespace { rate, burst, retry_after } => (
            format!(
                "namespace '{namespace}' is over its rate limit of {rate} requests/s (burst {burst}); \
                 retry in {} ms",
                retry_after.as_millis().max(1)
            ),
            *retry_after,
        ),
        Exceeded::Principal { rate, burst, retry_after } => (
            format!(
                "principal '{principal}' is over the per-principal rate limit of {rate} requests/s \
                 (burst {burst}) on namespace '{namespace}'; retry in {} ms",
                retry_after.as_millis().max(1)
            ),
            *retry_after,
        ),
    };
    PrismError::ResourceExhausted { message, retry_after: Some(retry_after) }
}

#[derive(Clone, Default)]
pub struct RateLimitLayer {
    metrics: Arc<Metrics>,
}

impl RateLimitLayer {
    /// Refusals are counted in `prism_rate_limited_total` of `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit { inner, metrics: self.metrics.clone() }
    }
}

#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Call> for RateLimit<S>
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
        if let Some(ns) = call.namespace.as_ref() {
            if let Some(buckets) = ns.rate.as_ref() {
                if let Err(exceeded) = buckets.admit(&call.identity.principal) {
                    self.metrics.security.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let err = exceeded_error(&ns.name, &call.identity.principal, &exceeded);
                    return Box::pin(async move { Err(err) });
                }
            }
        }
        self.inner.call(call)
    }
}
