//! Assembles the data path. The order is the design: each layer's position
//! is explained where it is added.

use std::sync::Arc;
use std::time::Duration;

use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use crate::call::{Call, Reply};
use crate::config::ServerConfig;
use crate::dispatch::Dispatch;
use crate::layers::cache::CacheLayer;
use crate::layers::capability::CapabilityLayer;
use crate::layers::deadline::DeadlineLayer;
use crate::layers::limits::LimitsLayer;
use crate::layers::load_shed::LoadShedLayer;
use crate::layers::metrics::MetricsLayer;
use crate::layers::namespace::NamespaceLayer;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::security::Security;
use crate::tail::TailHub;
use crate::PrismError;

pub type CallStack = BoxCloneSyncService<Call, Reply, PrismError>;

pub fn build(
    server: &ServerConfig,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    shed: LoadShedLayer,
    tails: Arc<TailHub>,
    security: &Security,
) -> CallStack {
    let stack = ServiceBuilder::new()
        // Outermost, so every outcome is counted: shed, timed out and refused calls too.
        .layer(MetricsLayer::new(metrics, registry.clone()))
        // Before any work: overload is answered at once and costs almost nothing.
        .layer(shed)
        // Nothing below runs for an unauthenticated caller; failures are audited here.
        .layer(security.authn.clone())
        // Sees every authenticated call with its identity and its outcome, refusals included.
        .layer(security.audit.clone())
        // Wraps everything that can take time, including the backend call.
        .layer(DeadlineLayer::new(Duration::from_millis(server.default_deadline_ms)))
        // Policy and limits are per namespace, so the namespace is resolved first.
        .layer(NamespaceLayer::new(registry))
        // Before any namespace detail is revealed or any work is done for the caller.
        .layer(security.authz.clone())
        // Only permitted calls spend tokens, so a denied caller cannot starve others.
        .layer(security.rate_limit.clone())
        // Unclaimed capabilities are refused before validation, with UNIMPLEMENTED.
        .layer(CapabilityLayer)
        // Last check of the request's shape: a refused request has written nothing.
        .layer(LimitsLayer)
        // Outside the cache: the cache and the backend hold only ciphertext, and
        // decryption or masking depends on the caller.
        .layer(security.pii.clone())
        // Hits are served only for valid, permitted calls; writes invalidate here.
        .layer(CacheLayer)
        .service(Dispatch::new(tails));
    BoxCloneSyncService::new(stack)
}
