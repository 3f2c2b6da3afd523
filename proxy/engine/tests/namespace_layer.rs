//! Namespace resolution: unknown, missing and wrong-pattern namespaces are
//! refused before anything below runs; resolved calls carry their namespace.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{get_request, memory_ns, registry};
use parking_lot::Mutex;
use prism_engine::call::{Call, Pattern, Reply, Request};
use prism_engine::layers::namespace::NamespaceLayer;
use prism_engine::layers::CallFuture;
use prism_engine::pb::{kv, ts};
use prism_engine::registry::Registry;
use prism_engine::PrismError;
use tonic::Code;
use tower::{Layer, Service, ServiceExt};

/// The layer over an inner service that records the namespace it was given.
struct Probe {
    seen: Arc<Mutex<Vec<String>>>,
    calls: Arc<AtomicUsize>,
    service: Box<dyn FnMut(Call) -> CallFuture + Send>,
}

fn probe(registry: Arc<Registry>) -> Probe {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (seen2, calls2) = (seen.clone(), calls.clone());
    let inner = tower::service_fn(move |call: Call| -> CallFuture {
        calls2.fetch_add(1, Ordering::SeqCst);
        let name = call.namespace.as_ref().map(|ns| ns.name.clone()).unwrap_or_default();
        seen2.lock().push(name);
        Box::pin(async { Ok(Reply::Get(kv::GetResponse::default())) })
    });
    let mut layered = NamespaceLayer::new(registry).layer(inner);
    Probe { seen, calls, service: Box::new(move |call| layered.call(call)) }
}

impl Probe {
    async fn call(&mut self, request: Request) -> Result<Reply, PrismError> {
        (self.service)(Call::new(request, None)).await
    }
}

fn namespaces() -> Arc<Registry> {
    registry(&[
        memory_ns("orders", &[Pattern::KeyValue]),
        memory_ns("metrics", &[Pattern::TimeSeries]),
        memory_ns("both", &[Pattern::KeyValue, Pattern::TimeSeries]),
    ])
}

#[tokio::test]
async fn resolved_call_reaches_inner_with_its_namespace() {
    let mut probe = probe(namespaces());
    probe.call(get_request("orders", "k")).await.expect("resolves");
    let query = ts::QueryRequest { namespace: "both".into(), series_id: "s".into(), ..Default::default() };
    probe.call(Request::Query(query)).await.expect("resolves");
    assert_eq!(*probe.seen.lock(), ["orders", "both"]);
}

#[tokio::test]
async fn unknown_namespace_is_not_found_naming_it() {
    let mut probe = probe(namespaces());
    let err = probe.call(get_request("nope", "k")).await.unwrap_err();
    assert!(matches!(err, PrismError::NotFound(_)), "{err:?}");
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("'nope'"), "{}", status.message());
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn empty_namespace_is_invalid_argument_on_the_namespace_field() {
    let mut probe = probe(namespaces());
    let (field, message) = common::invalid_field(probe.call(get_request("", "k")).await);
    assert_eq!(field, "namespace");
    assert!(message.contains("must be set"), "{message}");
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn keyvalue_call_on_timeseries_namespace_is_failed_precondition() {
    let mut probe = probe(namespaces());
    let err = probe.call(get_request("metrics", "k")).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("'metrics' does not serve keyvalue"), "{}", status.message());
    assert!(status.message().contains("serves: timeseries"), "{}", status.message());
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn timeseries_call_on_keyvalue_namespace_is_failed_precondition() {
    let mut probe = probe(namespaces());
    let tail = ts::TailRequest { namespace: "orders".into(), series_id: "s".into(), ..Default::default() };
    let err = probe.call(Request::Tail(tail)).await.unwrap_err();
    assert!(matches!(err, PrismError::FailedPrecondition(_)), "{err:?}");
}

#[tokio::test]
async fn namespaces_applied_later_resolve_without_rebuilding_the_layer() {
    let registry = registry(&[memory_ns("orders", &[Pattern::KeyValue])]);
    let mut probe = probe(registry.clone());
    assert!(probe.call(get_request("late", "k")).await.is_err());
    registry.apply(&[memory_ns("late", &[Pattern::KeyValue])]).expect("apply");
    probe.call(get_request("late", "k")).await.expect("resolves after apply");
    let err = probe.call(get_request("orders", "k")).await.unwrap_err();
    assert!(matches!(err, PrismError::NotFound(_)), "removed namespace: {err:?}");
}

#[test]
fn non_memory_backend_without_plugin_host_is_refused() {
    let registry = Registry::new(None);
    let mut config = memory_ns("orders", &[Pattern::KeyValue]);
    config.backend = "sqlite".into();
    let (field, message) = common::invalid_field(registry.apply(&[config]));
    assert_eq!(field, "backend");
    assert!(message.contains("Python plugin host"), "{message}");
    assert!(registry.get("orders").is_none());
}

#[tokio::test]
async fn layer_can_be_driven_with_oneshot() {
    let registry = namespaces();
    let inner = tower::service_fn(|call: Call| -> CallFuture {
        let ok = call.namespace.as_ref().is_some_and(|ns| ns.name == "orders");
        Box::pin(async move {
            assert!(ok);
            Ok(Reply::Exists(kv::ExistsResponse { exists: true, version: 1 }))
        })
    });
    let reply = NamespaceLayer::new(registry)
        .layer(inner)
        .oneshot(get_request_exists("orders"))
        .await
        .expect("resolves");
    assert!(matches!(reply, Reply::Exists(kv::ExistsResponse { exists: true, .. })));
}

fn get_request_exists(ns: &str) -> Call {
    Call::new(Request::Exists(kv::ExistsRequest { namespace: ns.into(), key: b"k".to_vec() }), None)
}
