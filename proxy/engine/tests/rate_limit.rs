//! The rate-limit layer: token buckets per namespace and per principal;
//! RESOURCE_EXHAUSTED with the time until the next token (google.rpc.RetryInfo),
//! recovery once it has passed, and buckets that survive an unchanged reload.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::{get_request, identity, memory_ns, Harness};
use prism_engine::call::Pattern;
use prism_engine::config::{NamespaceConfig, RateLimit};
use prism_engine::identity::Identity;
use prism_engine::layers::authz::AuthzLayer;
use prism_engine::layers::rate_limit::RateLimitLayer;
use prism_engine::security::Security;
use prism_engine::PrismError;
use serde_json::json;
use tonic_types::StatusExt;

fn limited(rate: RateLimit) -> NamespaceConfig {
    let mut ns = memory_ns("orders", &[Pattern::KeyValue]);
    ns.rate_limit = rate;
    ns
}

fn harness(configs: &[NamespaceConfig]) -> Harness {
    Harness::with_security(configs, |_, metrics| Security {
        authz: AuthzLayer::new(metrics.clone()),
        rate_limit: RateLimitLayer::new(metrics.clone()),
        ..Security::disabled()
    })
}

fn exhausted<T: std::fmt::Debug>(result: Result<T, PrismError>) -> (String, Duration) {
    match result {
        Err(PrismError::ResourceExhausted { message, retry_after: Some(after) }) => (message, after),
        other => panic!("expected RESOURCE_EXHAUSTED with retry_after, got {other:?}"),
    }
}

/// Calls until one is refused; returns how many were served.
async fn served_until_refused(h: &Harness, who: &Arc<Identity>, max: usize) -> usize {
    for n in 0..max {
        if h.call_as(who, get_request("orders", "k")).await.is_err() {
            return n;
        }
    }
    max
}

#[tokio::test]
async fn namespace_limit_refuses_with_retry_info_then_recovers() {
    let h = harness(&[limited(RateLimit { requests_per_second: 20.0, burst: 3, ..Default::default() })]);
    let alice = identity("alice", &[], json!({}), None);
    assert_eq!(served_until_refused(&h, &alice, 10).await, 3, "the burst, then a refusal");

    let (message, after) = exhausted(h.call_as(&alice, get_request("orders", "k")).await);
    assert!(message.contains("namespace 'orders'") && message.contains("20 requests/s"), "{message}");
    assert!(message.contains("burst 3"), "{message}");
    assert!(after > Duration::ZERO && after <= Duration::from_millis(50), "one token per 50 ms: {after:?}");

    // The status the client sees carries google.rpc.RetryInfo with that delay.
    let err = h.call_as(&alice, get_request("orders", "k")).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let retry = status.get_details_retry_info().expect("RetryInfo detail");
    assert!(retry.retry_delay.is_some_and(|d| d <= Duration::from_millis(50)), "{retry:?}");

    tokio::time::sleep(after + Duration::from_millis(60)).await;
    assert!(h.call_as(&alice, get_request("orders", "k")).await.is_ok(), "a token came back");
    assert!(h.metrics.security.rate_limited.load(Ordering::Relaxed) >= 3);
}

#[tokio::test]
async fn a_principal_over_its_limit_does_not_limit_others() {
    let rate =
        RateLimit { per_principal_requests_per_second: 1.0, per_principal_burst: 2, ..Default::default() };
    let h = harness(&[limited(rate)]);
    let alice = identity("alice", &[], json!({}), None);
    let bob = identity("bob", &[], json!({}), None);

    assert_eq!(served_until_refused(&h, &alice, 10).await, 2);
    let (message, after) = exhausted(h.call_as(&alice, get_request("orders", "k")).await);
    assert!(
        message.contains("principal 'alice'") && message.contains("namespace 'orders'"),
        "names who and where: {message}"
    );
    assert!(message.contains("1 requests/s"), "{message}");
    assert!(after > Duration::from_millis(500) && after <= Duration::from_secs(1), "{after:?}");

    assert_eq!(served_until_refused(&h, &bob, 2).await, 2, "bob has his own bucket");
}

#[tokio::test]
async fn principal_limit_is_checked_before_the_namespace_bucket() {
    // Alice, over her own limit, must not drain the namespace's tokens.
    let rate = RateLimit {
        requests_per_second: 1.0,
        burst: 3,
        per_principal_requests_per_second: 1.0,
        per_principal_burst: 1,
    };
    let h = harness(&[limited(rate)]);
    let alice = identity("alice", &[], json!({}), None);
    assert_eq!(served_until_refused(&h, &alice, 1).await, 1);
    for _ in 0..10 {
        let (message, _) = exhausted(h.call_as(&alice, get_request("orders", "k")).await);
        assert!(message.contains("principal 'alice'"), "{message}");
    }
    let bob = identity("bob", &[], json!({}), None);
    let carol = identity("carol", &[], json!({}), None);
    assert!(h.call_as(&bob, get_request("orders", "k")).await.is_ok());
    assert!(h.call_as(&carol, get_request("orders", "k")).await.is_ok());
    let dave = identity("dave", &[], json!({}), None);
    let (message, _) = exhausted(h.call_as(&dave, get_request("orders", "k")).await);
    assert!(message.starts_with("namespace 'orders' is over its rate limit"), "{message}");
}

#[tokio::test]
async fn denied_calls_spend_no_tokens() {
    let mut ns = limited(RateLimit { requests_per_second: 1.0, burst: 2, ..Default::default() });
    ns.access.read = vec!["alice".into()];
    let h = harness(&[ns]);
    let mallory = identity("mallory", &[], json!({}), None);
    for _ in 0..5 {
        let result = h.call_as(&mallory, get_request("orders", "k")).await;
        assert!(matches!(result, Err(PrismError::PermissionDenied(_))), "{result:?}");
    }
    let alice = identity("alice", &[], json!({}), None);
    assert_eq!(served_until_refused(&h, &alice, 5).await, 2, "the whole burst is left");
}

#[tokio::test]
async fn buckets_survive_a_reload_unless_the_rates_change() {
    let rate = RateLimit { requests_per_second: 0.5, burst: 2, ..Default::default() };
    let h = harness(&[limited(rate.clone())]);
    let alice = identity("alice", &[], json!({}), None);
    assert_eq!(served_until_refused(&h, &alice, 5).await, 2);

    // Same rates, another change (a limit): still empty.
    let mut same = limited(rate.clone());
    same.limits.max_key_bytes = 512;
    h.registry.apply(&[same]).expect("apply");
    exhausted(h.call_as(&alice, get_request("orders", "k")).await);

    // New rates: new buckets.
    h.registry.apply(&[limited(RateLimit { burst: 4, ..rate })]).expect("apply");
    assert_eq!(served_until_refused(&h, &alice, 10).await, 4);

    // No rates at all: no buckets, nothing refused.
    h.registry.apply(&[limited(RateLimit::default())]).expect("apply");
    assert!(h.registry.get("orders").unwrap().rate.is_none());
    assert_eq!(served_until_refused(&h, &alice, 50).await, 50);
}
