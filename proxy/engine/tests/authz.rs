//! The authz layer: each RPC's permission (from the generated route table) is
//! checked against the namespace access policy and the caller's identity;
//! denials are PERMISSION_DENIED naming principal, permission and namespace.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::{get_request, identity, memory_ns, put, Harness};
use prism_engine::call::{Pattern, Request};
use prism_engine::config::{AccessPolicy, NamespaceConfig};
use prism_engine::identity::Identity;
use prism_engine::layers::authz::AuthzLayer;
use prism_engine::pb::kv;
use prism_engine::security::Security;
use prism_engine::PrismError;
use serde_json::json;

fn list(selectors: &[&str]) -> Vec<String> {
    selectors.iter().map(|s| s.to_string()).collect()
}

fn orders(read: &[&str], write: &[&str]) -> NamespaceConfig {
    let mut ns = memory_ns("orders", &[Pattern::KeyValue]);
    ns.access = AccessPolicy { read: list(read), write: list(write), ..AccessPolicy::default() };
    ns
}

fn harness(configs: &[NamespaceConfig]) -> Harness {
    Harness::with_security(configs, |_, metrics| Security {
        authz: AuthzLayer::new(metrics.clone()),
        ..Security::disabled()
    })
}

fn denied<T: std::fmt::Debug>(result: Result<T, PrismError>) -> String {
    match result {
        Err(PrismError::PermissionDenied(message)) => message,
        other => panic!("expected PERMISSION_DENIED, got {other:?}"),
    }
}

fn write(key: &str) -> Request {
    Request::Put(put("orders", key, "v"))
}

#[tokio::test]
async fn each_selector_kind_grants_to_its_holders_only() {
    let h = harness(&[orders(
        &["*"],
        &["alice", "group:writers", "claim:tier=gold", "claim:roles=editor", "cert:batch-job"],
    )]);
    let granted = [
        identity("alice", &[], json!({}), None),
        identity("carol", &["readers", "writers"], json!({}), None),
        identity("dave", &[], json!({"tier": "gold"}), None),
        identity("erin", &[], json!({"roles": ["viewer", "editor"]}), None),
        identity("svc", &[], json!({}), Some("batch-job")),
    ];
    for who in &granted {
        let result = h.call_as(who, write("k")).await;
        assert!(result.is_ok(), "{} should write: {result:?}", who.principal);
    }
    let refused = [
        identity("bob", &[], json!({}), None),
        identity("mallory", &["readers"], json!({"tier": "silver", "roles": ["viewer"]}), Some("web")),
        // A group or claim named like the principal is not the principal.
        identity("frank", &["alice"], json!({"sub": "alice"}), None),
    ];
    for who in &refused {
        denied(h.call_as(who, write("k")).await);
        // `*` on read admits everyone, anonymous included.
        assert!(h.call_as(who, get_request("orders", "k")).await.is_ok());
    }
    let anonymous = Arc::new(Identity::anonymous());
    assert!(h.call_as(&anonymous, get_request("orders", "k")).await.is_ok());
    denied(h.call_as(&anonymous, write("k")).await);
    assert_eq!(h.metrics.security.authz_denied.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn denial_names_principal_permission_and_namespace_and_does_nothing() {
    let h = harness(&[orders(&["alice"], &["alice"])]);
    let alice = identity("alice", &[], json!({}), None);
    let bob = identity("bob", &[], json!({}), None);

    let message = denied(h.call_as(&bob, write("k")).await);
    assert_eq!(message, "principal 'bob' lacks permission 'write' on namespace 'orders'");
    let message = denied(h.call_as(&bob, get_request("orders", "k")).await);
    assert_eq!(message, "principal 'bob' lacks permission 'read' on namespace 'orders'");
    let batch = kv::BatchDeleteRequest {
        namespace: "orders".into(),
        keys: vec![b"k".to_vec()],
        ..Default::default()
    };
    assert!(denied(h.call_as(&bob, Request::BatchDelete(batch)).await).contains("'write'"));

    // Bob's refused put wrote nothing.
    let found = h.call_as(&alice, get_request("orders", "k")).await.expect("alice reads");
    assert!(matches!(found, prism_engine::call::Reply::Get(r) if !r.found));
}

#[tokio::test]
async fn permissions_are_independent() {
    let mut ns = orders(&["reader"], &["writer"]);
    ns.access.admin = list(&["root"]);
    ns.access.pii_read = list(&["group:privacy"]);
    let h = harness(&[ns]);
    let (reader, writer, root) = (
        identity("reader", &[], json!({}), None),
        identity("writer", &[], json!({}), None),
        identity("root", &[], json!({}), None),
    );
    assert!(h.call_as(&reader, get_request("orders", "k")).await.is_ok());
    denied(h.call_as(&reader, write("k")).await);
    assert!(h.call_as(&writer, write("k")).await.is_ok());
    denied(h.call_as(&writer, get_request("orders", "k")).await);
    // admin implies neither read, write nor pii_read.
    denied(h.call_as(&root, get_request("orders", "k")).await);
    denied(h.call_as(&root, write("k")).await);

    let ns = h.registry.get("orders").unwrap();
    assert!(!ns.may_read_pii(&root));
    assert!(ns.may_read_pii(&identity("dpo", &["privacy"], json!({}), None)));
    assert!(!ns.may_read_pii(&Identity::anonymous()), "pii_read is empty by default");
}

#[tokio::test]
async fn policy_changes_apply_on_the_next_call() {
    let h = harness(&[orders(&["*"], &["alice"])]);
    let bob = identity("bob", &[], json!({}), None);
    denied(h.call_as(&bob, write("k")).await);

    h.registry.apply(&[orders(&["*"], &["alice", "bob"])]).expect("apply");
    assert!(h.call_as(&bob, write("k")).await.is_ok(), "granted live");

    h.registry.apply(&[orders(&["alice"], &["alice"])]).expect("apply");
    denied(h.call_as(&bob, get_request("orders", "k")).await);
    denied(h.call_as(&bob, write("k")).await);
}

#[tokio::test]
async fn bad_selectors_are_refused_when_applied_naming_the_entry() {
    let h = harness(&[orders(&["*"], &["*"])]);
    for (bad, says) in
        [("group:", "names no group"), ("claim:tier", "claim:<name>=<value>"), ("claim:=x", "names no claim")]
    {
        let err = h.registry.apply(&[orders(&["*"], &["alice", bad])]).unwrap_err();
        match err {
            PrismError::InvalidArgument { field, message } => {
                assert_eq!(field, "namespaces[orders].access.write[1]");
                assert!(message.contains(says), "{message}");
            }
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }
    // The failed applies left the previous table in place.
    let anyone = identity("zed", &[], json!({}), None);
    assert!(h.call_as(&anyone, write("k")).await.is_ok());
}

#[tokio::test]
async fn the_default_policy_lets_everyone_read_and_write() {
    let h = harness(&[memory_ns("open", &[Pattern::KeyValue])]);
    let anonymous = Arc::new(Identity::anonymous());
    assert!(h.call_as(&anonymous, Request::Put(put("open", "k", "v"))).await.is_ok());
    assert!(h.call_as(&anonymous, get_request("open", "k")).await.is_ok());
    assert_eq!(h.metrics.security.authz_denied.load(Ordering::Relaxed), 0);
}
