//! The capability layer: calls that need a capability the backend does not
//! claim are refused with UNIMPLEMENTED naming it, before anything is written.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{dur, get_request, memory_ns, put, Harness};
use prism_engine::call::{Pattern, Request};
use prism_engine::config::NamespaceConfig;
use prism_engine::pb::kv;
use prism_engine::PrismError;

fn limited(name: &str, claims: &[&str]) -> NamespaceConfig {
    let mut ns = memory_ns(name, &[Pattern::KeyValue]);
    let caps = claims.iter().map(|c| c.to_string()).collect();
    ns.capabilities = Some(HashMap::from([(Pattern::KeyValue, caps)]));
    ns
}

fn unimplemented(result: Result<impl std::fmt::Debug, PrismError>) -> String {
    match result {
        Err(PrismError::Unimplemented(message)) => message,
        other => panic!("expected UNIMPLEMENTED, got {other:?}"),
    }
}

#[tokio::test]
async fn core_only_backend_refuses_scan_batch_ttl_and_cas() {
    let h = Harness::with(&[limited("core", &["core"])]);
    let scan = kv::ScanRequest { namespace: "core".into(), ..Default::default() };
    let message = unimplemented(h.call(Request::Scan(scan)).await);
    assert!(message.contains("'scan'") && message.contains("namespace 'core'"), "{message}");

    let batch = kv::BatchGetRequest { namespace: "core".into(), keys: vec![b"a".to_vec()] };
    assert!(unimplemented(h.call(Request::BatchGet(batch)).await).contains("'batch'"));

    let mut with_ttl = put("core", "k", "v");
    with_ttl.ttl = Some(dur(Duration::from_secs(5)));
    assert!(unimplemented(h.put(with_ttl).await).contains("'ttl'"));

    let mut cas = put("core", "k", "v");
    cas.if_absent = true;
    assert!(unimplemented(h.put(cas).await).contains("'cas'"));

    // Nothing was written by the refused puts; a plain put is served.
    assert!(!h.get("core", "k").await.found);
    h.put(put("core", "k", "v")).await.expect("core put is claimed");
    assert!(h.call(get_request("core", "k")).await.is_ok());
}

#[tokio::test]
async fn claimed_capabilities_pass_and_unlisted_patterns_are_refused() {
    let h = Harness::with(&[limited("full", &["core", "batch", "scan", "ttl", "cas"])]);
    let mut cas = put("full", "k", "v");
    cas.if_absent = true;
    assert!(h.put(cas).await.is_ok());
    let scan = kv::ScanRequest { namespace: "full".into(), ..Default::default() };
    assert!(h.call(Request::Scan(scan)).await.is_ok());

    // A namespace whose claims omit a pattern it serves supports nothing of it.
    let mut ns = memory_ns("nots", &[Pattern::KeyValue, Pattern::TimeSeries]);
    ns.capabilities = Some(HashMap::from([(Pattern::KeyValue, vec!["core".to_string()])]));
    let h = Harness::with(&[ns]);
    let query = prism_engine::pb::ts::QueryRequest {
        namespace: "nots".into(),
        series_id: "s".into(),
        ..Default::default()
    };
    assert!(unimplemented(h.call(Request::Query(query)).await).contains("timeseries capability 'core'"));
}

#[tokio::test]
async fn native_backends_without_claims_support_everything() {
    let h = Harness::new();
    let mut with_ttl = put("kv", "k", "v");
    with_ttl.ttl = Some(dur(Duration::from_secs(5)));
    with_ttl.if_absent = true;
    assert!(h.put(with_ttl).await.is_ok());
}
