//! Metrics through the full stack: requests, errors by code and a latency
//! histogram per namespace and method, with unknown namespaces folded into
//! one `_unknown` label.

mod common;

use std::time::Duration;

use common::{get_request, put, Harness};
use prism_engine::call::{Call, Method, Request};
use prism_engine::layers::metrics::{MetricsLayer, UNKNOWN_NAMESPACE};
use prism_engine::layers::CallFuture;
use prism_engine::metrics::Metrics;
use prism_engine::pb::kv;
use prism_engine::PrismError;
use std::sync::Arc;
use tower::{Layer, ServiceExt};

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[tokio::test]
async fn requests_errors_and_latency_are_recorded_per_namespace_and_method() {
    let h = Harness::new();
    for i in 0..3 {
        h.put(put("kv", &format!("k{i}"), "v")).await.expect("put");
    }
    h.put(put("kv", "", "v")).await.expect_err("empty key");
    h.call(get_request("nope", "k")).await.expect_err("unknown namespace");
    h.call(get_request("kv", "k0")).await.expect("get");

    assert_eq!(h.metrics.requests("kv", Method::KvPut), 4);
    assert_eq!(h.metrics.requests("kv", Method::KvGet), 1);
    assert_eq!(h.metrics.requests(UNKNOWN_NAMESPACE, Method::KvGet), 1);
    assert_eq!(h.metrics.requests("nope", Method::KvGet), 0, "unknown names must not become labels");

    let text = h.metrics.render(&[("prism_in_flight_requests", "Data requests in flight.", 0.0)]);
    assert!(text.contains("# TYPE prism_requests_total counter"));
    assert!(text.contains("prism_requests_total{namespace=\"kv\",method=\"KeyValue/Put\"} 4\n"), "{text}");
    assert!(
        text.contains("prism_requests_total{namespace=\"_unknown\",method=\"KeyValue/Get\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "prism_request_errors_total{namespace=\"_unknown\",method=\"KeyValue/Get\",code=\"NOT_FOUND\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "prism_request_errors_total{namespace=\"kv\",method=\"KeyValue/Put\",code=\"INVALID_ARGUMENT\"} 1\n"
        ),
        "{text}"
    );
    assert!(!text.contains("code=\"OK\""), "successes are not errors: {text}");
    assert!(text.contains("# TYPE prism_in_flight_requests gauge\nprism_in_flight_requests 0\n"), "{text}");

    let labels = "namespace=\"kv\",method=\"KeyValue/Put\"";
    let inf = format!("prism_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 4");
    assert!(text.contains(&inf), "{text}");
    assert!(line(&text, &format!("prism_request_duration_seconds_count{{{labels}}} 4")).is_some(), "{text}");
    assert!(line(&text, &format!("prism_request_duration_seconds_sum{{{labels}}} ")).is_some(), "{text}");
}

#[tokio::test]
async fn histogram_buckets_are_cumulative_and_end_at_the_count() {
    let metrics = Metrics::new();
    let latencies = [40, 80, 80, 3_000, 20_000_000];
    for us in latencies {
        metrics.record("ns", Method::TsQuery, tonic::Code::Ok, Duration::from_micros(us));
    }
    let text = metrics.render(&[]);
    let prefix = "prism_request_duration_seconds_bucket{namespace=\"ns\",method=\"TimeSeries/Query\",le=\"";
    let buckets: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| {
            let (le, count) = rest.split_once("\"} ").expect("bucket line");
            (le.to_string(), count.parse().expect("count"))
        })
        .collect();
    assert_eq!(buckets.len(), 17, "16 bounds and +Inf: {text}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative: {buckets:?}");
    assert_eq!(buckets[0], ("0.00005".to_string(), 1));
    assert_eq!(buckets[1], ("0.0001".to_string(), 3));
    assert_eq!(buckets[15].1, 4, "20 s is above the last finite bound");
    assert_eq!(buckets[16], ("+Inf".to_string(), 5));
    assert!(
        text.contains(
            "prism_request_duration_seconds_sum{namespace=\"ns\",method=\"TimeSeries/Query\"} 20.0032\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn outcomes_produced_below_the_metrics_layer_are_counted() {
    let metrics = Arc::new(Metrics::new());
    let registry = common::registry(&[common::memory_ns("kv", &[prism_engine::call::Pattern::KeyValue])]);
    let inner = tower::service_fn(|_call: Call| -> CallFuture {
        Box::pin(async { Err(PrismError::DeadlineExceeded("slow".into())) })
    });
    let service = MetricsLayer::new(metrics.clone(), registry).layer(inner);
    let exists = Request::Exists(kv::ExistsRequest { namespace: "kv".into(), key: b"k".to_vec() });
    service.clone().oneshot(Call::new(exists, None)).await.unwrap_err();
    assert_eq!(metrics.requests("kv", Method::KvExists), 1);
    let text = metrics.render(&[]);
    assert!(
        text.contains("prism_request_errors_total{namespace=\"kv\",method=\"KeyValue/Exists\",code=\"DEADLINE_EXCEEDED\"} 1"),
        "{text}"
    );
}
