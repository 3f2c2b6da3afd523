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
use crate::tail::TailHub;
use crate::PrismError;

pub type CallStack = BoxCloneSyncService<Call, Reply, PrismError>;

pub fn build(
    server: &ServerConfig,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    shed: LoadShedLayer,
    tails: Arc<TailHub>,
) -> CallStack {
    let stack = ServiceBuilder::new()
        // Outermost, so every outcome is counted: shed, timed out and refused calls too.
        .layer(MetricsLayer::new(metrics, registry.clone()))
        // Before any work: overload is answered at once and costs almost nothing.
        .layer(shed)
        // Wraps everything that can take time, including the backend call.
        .layer(DeadlineLayer::new(Duration::from_millis(server.default_deadline_ms)))
        // Limits are per namespace, so the namespace is resolved first.
        .layer(NamespaceLayer::new(registry))
        // Unclaimed capabilities are refused before validation, with UNIMPLEMENTED.
        .layer(CapabilityLayer)
        // Last check before the backend: a refused request has written nothing.
        .layer(LimitsLayer)
        // Hits are served only for valid, permitted calls; writes invalidate here.
        .layer(CacheLayer)
        .service(Dispatch::new(tails));
    BoxCloneSyncService::new(stack)
}
