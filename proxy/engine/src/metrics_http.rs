//! The Prometheus endpoint: `GET /metrics` on its own listener, so scraping
//! never competes with the gRPC port.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::bridge::BridgeQueue;
use crate::layers::load_shed::LoadShedLayer;
use crate::metrics::Metrics;

#[derive(Clone)]
struct Sources {
    metrics: Arc<Metrics>,
    bridge: Option<Arc<BridgeQueue>>,
    shed: LoadShedLayer,
}

pub fn router(metrics: Arc<Metrics>, bridge: Option<Arc<BridgeQueue>>, shed: LoadShedLayer) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(Sources { metrics, bridge, shed })
}

async fn render(State(sources): State<Sources>) -> impl IntoResponse {
    let (queued, pending) =
        sources.bridge.as_ref().map_or((0.0, 0.0), |b| (b.queued_len() as f64, b.pending_len() as f64));
    let gauges = [
        ("prism_in_flight_requests", "Data requests in flight.", sources.shed.in_flight() as f64),
        ("prism_bridge_queued", "Requests waiting for the Python plugin host.", queued),
        ("prism_bridge_pending", "Requests the plugin host is working on.", pending),
    ];
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], sources.metrics.render(&gauges))
}
