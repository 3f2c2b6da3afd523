//! Load shedding: past the concurrency limit, calls fail at once with
//! RESOURCE_EXHAUSTED (and a retry hint) instead of queueing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::get_request;
use prism_engine::call::{Call, Reply};
use prism_engine::layers::load_shed::LoadShedLayer;
use prism_engine::layers::CallFuture;
use prism_engine::pb::kv;
use prism_engine::PrismError;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

fn call() -> Call {
    Call::new(get_request("kv", "k"), None)
}

#[tokio::test]
async fn third_concurrent_call_is_shed_and_capacity_returns_after_release() {
    // The inner service holds each call until the gate hands out a permit.
    let gate = Arc::new(Semaphore::new(0));
    let inner_gate = gate.clone();
    let inner = tower::service_fn(move |_call: Call| -> CallFuture {
        let gate = inner_gate.clone();
        Box::pin(async move {
            gate.acquire().await.expect("gate open").forget();
            Ok(Reply::Get(kv::GetResponse { found: true, item: None }))
        })
    });
    let shed = LoadShedLayer::new(2);
    let mut service = shed.layer(inner);

    // Permits are taken when `call` is made, so these two are in flight now.
    let first = tokio::spawn(service.ready().await.unwrap().call(call()));
    let second = tokio::spawn(service.ready().await.unwrap().call(call()));
    assert_eq!(shed.in_flight(), 2);

    let err = service.ready().await.unwrap().call(call()).await.unwrap_err();
    match &err {
        PrismError::ResourceExhausted { message, retry_after } => {
            assert!(message.contains("2 requests already in flight"), "{message}");
            assert_eq!(*retry_after, Some(Duration::from_millis(50)));
        }
        other => panic!("expected RESOURCE_EXHAUSTED, got {other:?}"),
    }
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::ResourceExhausted);

    gate.add_permits(2);
    assert!(first.await.unwrap().is_ok());
    assert!(second.await.unwrap().is_ok());
    assert_eq!(shed.in_flight(), 0);

    gate.add_permits(1);
    let reply = service.ready().await.unwrap().call(call()).await.expect("capacity is back");
    assert!(matches!(reply, Reply::Get(kv::GetResponse { found: true, .. })));
}

#[tokio::test]
async fn failed_and_dropped_calls_release_their_permit() {
    let inner = tower::service_fn(|_call: Call| -> CallFuture {
        Box::pin(async { Err(PrismError::Unavailable("backend down".into())) })
    });
    let shed = LoadShedLayer::new(1);
    let service = shed.layer(inner);
    for _ in 0..3 {
        let err = service.clone().oneshot(call()).await.unwrap_err();
        assert!(matches!(err, PrismError::Unavailable(_)), "not shed: {err:?}");
    }

    let pending = tower::service_fn(|_call: Call| -> CallFuture { Box::pin(std::future::pending()) });
    let mut service = shed.layer(pending);
    let in_flight = service.call(call());
    assert_eq!(shed.in_flight(), 1);
    drop(in_flight); // the client went away
    assert_eq!(shed.in_flight(), 0);
}

#[tokio::test]
async fn clones_of_the_layer_share_one_limit() {
    let pending = tower::service_fn(|_call: Call| -> CallFuture { Box::pin(std::future::pending()) });
    let shed = LoadShedLayer::new(1);
    let mut a = shed.layer(pending);
    let mut b = shed.clone().layer(pending);
    let _held = a.call(call());
    let err = b.call(call()).await.unwrap_err();
    assert!(matches!(err, PrismError::ResourceExhausted { .. }), "{err:?}");
}
