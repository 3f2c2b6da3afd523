//! Resolves the namespace a request names and checks that it serves the
//! request's pattern. Everything below may rely on `call.namespace`.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply};
use crate::registry::Registry;
use crate::PrismError;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("namespace must be set")]
    Missing,
    #[error("namespace '{0}' not found")]
    Unknown(String),
    #[error("namespace '{name}' does not serve {pattern} (it serves: {serves})")]
    WrongPattern { name: String, pattern: &'static str, serves: String },
}

impl From<NamespaceError> for PrismError {
    fn from(err: NamespaceError) -> Self {
        match err {
            NamespaceError::Missing => PrismError::invalid("namespace", err.to_string()),
            NamespaceError::Unknown(_) => PrismError::NotFound(err.to_string()),
            NamespaceError::WrongPattern { .. } => PrismError::FailedPrecondition(err.to_string()),
        }
    }
}

#[derive(Clone)]
pub struct NamespaceLayer {
    registry: Arc<Registry>,
}

impl NamespaceLayer {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

impl<S> Layer<S> for NamespaceLayer {
    type Service = ResolveNamespace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResolveNamespace { inner, registry: self.registry.clone() }
    }
}

#[derive(Clone)]
pub struct ResolveNamespace<S> {
    inner: S,
    registry: Arc<Registry>,
}

pub fn resolve(registry: &Registry, call: &mut Call) -> Result<(), NamespaceError> {
    let name = call.namespace_name();
    if name.is_empty() {
        return Err(NamespaceError::Missing);
    }
    let namespace = registry.get(name).ok_or_else(|| NamespaceError::Unknown(name.to_string()))?;
    let pattern = call.method.pattern();
    if !namespace.serves(pattern) {
        let serves: Vec<&str> = namespace.patterns.iter().map(|p| p.name()).collect();
        return Err(NamespaceError::WrongPattern {
            name: namespace.name.clone(),
            pattern: pattern.name(),
            serves: serves.join(", "),
        });
    }
    call.namespace = Some(namespace);
    Ok(())
}

impl<S> Service<Call> for ResolveNamespace<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture>,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Call) -> CallFuture {
        match resolve(&self.registry, &mut call) {
            Ok(()) => self.inner.call(call),
            Err(err) => Box::pin(async move { Err(err.into()) }),
        }
    }
}
