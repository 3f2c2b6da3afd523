//! The Prometheus endpoint: `GET /metrics` on its own listener, so scraping
//! never competes with the gRPC port.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::bridge::BridgeQueue;
use crate::layers::load_shed::LoadShedLayer;
use crate::metrics::Metrics;
use crate::registry::Registry;

#[derive(Clone)]
struct Sources {
    metrics: Arc<Metrics>,
    bridge: Option<Arc<BridgeQueue>>,
    shed: LoadShedLayer,
    registry: Arc<Registry>,
}

pub fn router(
    metrics: Arc<Metrics>,
    bridge: Option<Arc<BridgeQueue>>,
    shed: LoadShedLayer,
    registry: Arc<Registry>,
) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(Sources { metrics, bridge, shed, registry })
}

/// Read-cache counters of the namespaces that enable a cache.
fn cache_metrics(registry: &Registry) -> String {
    let mut out = String::new();
    let cached: Vec<_> = registry.all().into_iter().filter(|ns| ns.cache.is_some()).collect();
    if cached.is_empty() {
        return out;
    }
    let series = [
        ("prism_cache_hits_total", "Reads served by the proxy's read cache.", true),
        ("prism_cache_misses_total", "Cacheable reads that went to the backend.", false),
    ];
    for (name, help, hits) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for ns in &cached {
            let cache = ns.cache.as_ref().expect("filtered");
            let value = if hits { cache.hits() } else { cache.misses() };
            let _ = writeln!(out, "{name}{{namespace=\"{}\"}} {value}", ns.name);
        }
    }
    out
}

async fn render(State(sources): State<Sources>) -> impl IntoResponse {
    let (queued, pending) =
        sources.bridge.as_ref().map_or((0.0, 0.0), |b| (b.queued_len() as f64, b.pending_len() as f64));
    let gauges = [
        ("prism_in_flight_requests", "Data requests in flight.", sources.shed.in_flight() as f64),
        ("prism_bridge_queued", "Requests waiting for the Python plugin host.", queued),
        ("prism_bridge_pending", "Requests the plugin host is working on.", pending),
    ];
    let mut body = sources.metrics.render(&gauges);
    body.push_str(&cache_metrics(&sources.registry));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
