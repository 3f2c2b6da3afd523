//! Deadlines: the client's `grpc-timeout`, or the server default, bounds every
//! call; the error names the method and the namespace.

mod common;

use std::time::Duration;

use common::get_request;
use prism_engine::call::{Call, Reply};
use prism_engine::layers::deadline::DeadlineLayer;
use prism_engine::layers::CallFuture;
use prism_engine::pb::kv;
use prism_engine::PrismError;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

/// An inner service that takes `delay` to answer.
fn slow(
    delay: Duration,
) -> impl tower::Service<Call, Response = Reply, Error = PrismError, Future = CallFuture> + Clone {
    tower::service_fn(move |_call: Call| -> CallFuture {
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(Reply::Get(kv::GetResponse::default()))
        })
    })
}

fn call(deadline: Option<Duration>) -> Call {
    Call::new(get_request("orders", "k"), deadline)
}

#[tokio::test(start_paused = true)]
async fn client_deadline_shorter_than_the_backend_is_deadline_exceeded() {
    let service = DeadlineLayer::new(Duration::from_secs(30)).layer(slow(Duration::from_secs(5)));
    let started = Instant::now();
    let err = service.oneshot(call(Some(Duration::from_millis(100)))).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    let PrismError::DeadlineExceeded(message) = &err else {
        panic!("expected DEADLINE_EXCEEDED, got {err:?}")
    };
    assert!(message.contains("KeyValue/Get"), "{message}");
    assert!(message.contains("namespace 'orders'"), "{message}");
    assert!(message.contains("100ms"), "{message}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::DeadlineExceeded);
}

#[tokio::test(start_paused = true)]
async fn calls_within_the_deadline_succeed() {
    let service = DeadlineLayer::new(Duration::from_secs(30)).layer(slow(Duration::from_millis(90)));
    service.oneshot(call(Some(Duration::from_millis(100)))).await.expect("in time");
}

#[tokio::test(start_paused = true)]
async fn without_a_client_deadline_the_default_applies() {
    let layer = DeadlineLayer::new(Duration::from_millis(200));
    layer.layer(slow(Duration::from_millis(150))).oneshot(call(None)).await.expect("under the default");

    let started = Instant::now();
    let err = layer.layer(slow(Duration::from_secs(60))).oneshot(call(None)).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert!(matches!(&err, PrismError::DeadlineExceeded(m) if m.contains("200ms")), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_deadline_overrides_the_default() {
    // The client asked for longer than the server default: the client wins.
    let layer = DeadlineLayer::new(Duration::from_millis(100));
    layer
        .layer(slow(Duration::from_millis(300)))
        .oneshot(call(Some(Duration::from_secs(1))))
        .await
        .expect("client deadline");
}

#[tokio::test(start_paused = true)]
async fn inner_errors_pass_through_unchanged() {
    let failing = tower::service_fn(|_call: Call| -> CallFuture {
        Box::pin(async { Err(PrismError::NotFound("gone".into())) })
    });
    let err =
        DeadlineLayer::new(Duration::from_secs(1)).layer(failing).oneshot(call(None)).await.unwrap_err();
    assert_eq!(err, PrismError::NotFound("gone".into()));
}

#[test]
fn grpc_timeout_header_becomes_the_call_deadline() {
    use prism_engine::services::grpc_timeout;
    let parse = |value: &str| {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&metadata)
    };
    assert_eq!(parse("100m"), Some(Duration::from_millis(100)));
    assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
    assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
    assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
    assert_eq!(parse("250u"), Some(Duration::from_micros(250)));
    assert_eq!(parse("7n"), Some(Duration::from_nanos(7)));
    assert_eq!(parse("10x"), None);
    assert_eq!(parse("m"), None);
    assert_eq!(grpc_timeout(&tonic::metadata::MetadataMap::new()), None);
}
