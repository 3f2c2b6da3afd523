//! KeyValue semantics through the full stack on the memory backend: versions,
//! conditions, TTL, idempotency tokens and byte-bounded scan pages.

mod common;

use std::time::Duration;

use common::{dur, invalid_field, put, Harness};
use prism_engine::call::{Reply, Request};
use prism_engine::pb::kv;
use prism_engine::PrismError;

fn token(id: &str) -> Option<kv::IdempotencyToken> {
    Some(kv::IdempotencyToken { id: id.into(), generated_at: Some(common::ts_at(1_700_000_000)) })
}

fn scan_prefix(ns: &str, prefix: &str, limit: u32, limit_bytes: u64, page_token: String) -> kv::ScanRequest {
    kv::ScanRequest {
        namespace: ns.into(),
        selector: Some(kv::scan_request::Selector::Prefix(prefix.into())),
        limit,
        limit_bytes,
        page_token,
    }
}

fn keys(response: &kv::ScanResponse) -> Vec<String> {
    response.items.iter().map(|i| String::from_utf8(i.key.clone()).unwrap()).collect()
}

#[tokio::test]
async fn versions_grow_with_every_write_and_reads_return_them() {
    let h = Harness::new();
    let v1 = h.put(put("kv", "a", "1")).await.unwrap().version;
    let v2 = h.put(put("kv", "a", "2")).await.unwrap().version;
    let v3 = h.put(put("kv", "b", "1")).await.unwrap().version;
    assert!(v1 > 0 && v1 < v2 && v2 < v3, "{v1} {v2} {v3}");
    let got = h.get("kv", "a").await;
    assert!(got.found);
    let item = got.item.unwrap();
    assert_eq!((item.value.as_slice(), item.version), (&b"2"[..], v2));
    assert!(!h.get("kv", "missing").await.found);
    let exists =
        h.call(Request::Exists(kv::ExistsRequest { namespace: "kv".into(), key: b"b".to_vec() })).await;
    assert!(
        matches!(exists, Ok(Reply::Exists(kv::ExistsResponse { exists: true, version })) if version == v3)
    );
}

#[tokio::test]
async fn compare_and_set_checks_the_version() {
    let h = Harness::new();
    let v1 = h.put(put("kv", "a", "1")).await.unwrap().version;

    let mut stale = put("kv", "a", "stale");
    stale.if_version = v1 + 100;
    let err = h.put(stale).await.unwrap_err();
    assert!(matches!(&err, PrismError::FailedPrecondition(m) if m.contains("version mismatch")), "{err:?}");
    assert_eq!(h.get("kv", "a").await.item.unwrap().value, b"1");

    let mut fresh = put("kv", "a", "2");
    fresh.if_version = v1;
    let v2 = h.put(fresh).await.expect("CAS with the current version").version;
    assert!(v2 > v1);

    let mut missing = put("kv", "nothing", "x");
    missing.if_version = 1;
    let err = h.put(missing).await.unwrap_err();
    assert!(matches!(&err, PrismError::FailedPrecondition(m) if m.contains("does not exist")), "{err:?}");
    assert!(!h.get("kv", "nothing").await.found, "a failed CAS writes nothing");

    let delete = kv::DeleteRequest {
        namespace: "kv".into(),
        key: b"a".to_vec(),
        if_version: v1,
        idempotency_token: None,
    };
    let err = h.call(Request::Delete(delete)).await.unwrap_err();
    assert!(matches!(err, PrismError::FailedPrecondition(_)), "{err:?}");
    assert!(h.get("kv", "a").await.found);
}

#[tokio::test]
async fn if_absent_refuses_live_keys() {
    let h = Harness::new();
    let mut first = put("kv", "a", "1");
    first.if_absent = true;
    h.put(first.clone()).await.expect("absent key");
    first.value = b"2".to_vec();
    let err = h.put(first).await.unwrap_err();
    assert!(matches!(&err, PrismError::AlreadyExists(m) if m.contains("'a'")), "{err:?}");
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::AlreadyExists);
    assert_eq!(h.get("kv", "a").await.item.unwrap().value, b"1");
}

#[tokio::test]
async fn batch_put_applies_all_or_nothing() {
    let h = Harness::new();
    h.put(put("kv", "b", "old")).await.unwrap();
    let entry = |key: &str, if_absent: bool| kv::PutEntry {
        key: key.into(),
        value: b"new".to_vec(),
        if_absent,
        ..Default::default()
    };
    let batch = kv::BatchPutRequest {
        namespace: "kv".into(),
        entries: vec![entry("a", false), entry("b", true)],
        idempotency_token: None,
    };
    let err = h.call(Request::BatchPut(batch)).await.unwrap_err();
    assert!(matches!(err, PrismError::AlreadyExists(_)), "{err:?}");
    assert!(!h.get("kv", "a").await.found, "no entry of a refused batch is written");

    let keys = vec![b"b".to_vec(), b"zz".to_vec()];
    let Reply::BatchGet(found) =
        h.call(Request::BatchGet(kv::BatchGetRequest { namespace: "kv".into(), keys })).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.missing_keys, vec![b"zz".to_vec()]);

    let keys = vec![b"b".to_vec(), b"zz".to_vec()];
    let delete = kv::BatchDeleteRequest { namespace: "kv".into(), keys, idempotency_token: None };
    let Reply::BatchDelete(deleted) = h.call(Request::BatchDelete(delete)).await.unwrap() else { panic!() };
    assert_eq!(deleted.deleted_count, 1);
    assert!(!h.get("kv", "b").await.found);
}

#[tokio::test]
async fn items_expire_after_their_ttl() {
    let h = Harness::new();
    let mut request = put("kv", "short", "v");
    request.ttl = Some(dur(Duration::from_millis(50)));
    let written = h.put(request).await.unwrap();
    assert!(written.expires_at.is_some());
    h.put(put("kv", "long", "v")).await.unwrap();
    let item = h.get("kv", "short").await.item.expect("live before the TTL");
    assert_eq!(item.expires_at, written.expires_at);

    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(!h.get("kv", "short").await.found, "expired");
    let page = h.scan(kv::ScanRequest { namespace: "kv".into(), ..Default::default() }).await.unwrap();
    assert_eq!(keys(&page), ["long"], "scans skip expired items");
    let mut again = put("kv", "short", "v2");
    again.if_absent = true;
    h.put(again).await.expect("an expired key counts as absent");
}

#[tokio::test]
async fn a_retried_write_with_the_same_token_applies_once() {
    let h = Harness::new();
    let mut request = put("kv", "a", "1");
    request.idempotency_token = token("t-1");
    let first = h.put(request.clone()).await.unwrap();
    let retry = h.put(request.clone()).await.unwrap();
    assert_eq!(first, retry, "the retry replays the first outcome");
    let next = h.put(put("kv", "other", "x")).await.unwrap().version;
    assert_eq!(next, first.version + 1, "the retry did not write again");

    // The same token id in another namespace is another write.
    request.namespace = "kv2".into();
    h.put(request).await.expect("tokens are per namespace");
    assert!(h.get("kv2", "a").await.found);
}

#[tokio::test]
async fn a_token_reused_with_another_payload_is_invalid_argument() {
    let h = Harness::new();
    let mut request = put("kv", "a", "1");
    request.idempotency_token = token("t-1");
    h.put(request.clone()).await.unwrap();
    request.value = b"2".to_vec();
    let (field, message) = invalid_field(h.put(request).await);
    assert_eq!(field, "idempotency_token.id");
    assert!(message.contains("'t-1'") && message.contains("different request"), "{message}");
    assert_eq!(h.get("kv", "a").await.item.unwrap().value, b"1", "nothing written");
}

#[tokio::test]
async fn a_refused_write_is_replayed_as_refused() {
    let h = Harness::new();
    let v1 = h.put(put("kv", "a", "1")).await.unwrap().version;
    let mut cas = put("kv", "a", "2");
    cas.if_version = v1 + 1; // the version the next write will have
    cas.idempotency_token = token("t-cas");
    assert!(matches!(h.put(cas.clone()).await, Err(PrismError::FailedPrecondition(_))));
    assert_eq!(h.put(put("kv", "a", "bump")).await.unwrap().version, v1 + 1);
    // Now the condition would hold, but the token already has an outcome.
    assert!(matches!(h.put(cas).await, Err(PrismError::FailedPrecondition(_))));
    assert_eq!(h.get("kv", "a").await.item.unwrap().value, b"bump");
}

#[tokio::test]
async fn scan_pages_by_item_limit_return_each_key_once() {
    let h = Harness::new();
    for i in 0..25 {
        h.put(put("kv", &format!("k{i:02}"), "v")).await.unwrap();
    }
    h.put(put("kv", "j", "v")).await.unwrap();
    h.put(put("kv", "l", "v")).await.unwrap();
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = h.scan(scan_prefix("kv", "k", 10, 0, page_token)).await.unwrap();
        sizes.push(page.items.len());
        seen.extend(keys(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(sizes, [10, 10, 5]);
    let expected: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn scan_range_is_half_open() {
    let h = Harness::new();
    for key in ["a", "b", "c", "d"] {
        h.put(put("kv", key, "v")).await.unwrap();
    }
    let range = kv::KeyRange { start: b"b".to_vec(), end: b"d".to_vec() };
    let request = kv::ScanRequest {
        namespace: "kv".into(),
        selector: Some(kv::scan_request::Selector::Range(range)),
        ..Default::default()
    };
    assert_eq!(keys(&h.scan(request).await.unwrap()), ["b", "c"]);
}

#[tokio::test]
async fn scan_pages_never_exceed_the_byte_limit() {
    let h = Harness::new();
    // Each item is 3 key bytes + 7 value bytes = 10 bytes.
    for i in 0..5 {
        h.put(put("kv", &format!("p{i:02}"), "1234567")).await.unwrap();
    }
    let mut page_token = String::new();
    let mut pages = Vec::new();
    loop {
        let page = h.scan(scan_prefix("kv", "p", 0, 25, page_token)).await.unwrap();
        let bytes: usize = page.items.iter().map(|i| i.key.len() + i.value.len()).sum();
        assert!(bytes <= 25, "page of {bytes} bytes");
        pages.push(keys(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, [vec!["p00", "p01"], vec!["p02", "p03"], vec!["p04"]]);
}

#[tokio::test]
async fn one_oversize_item_is_returned_alone() {
    let h = Harness::new();
    h.put(put("kv", "o1", "x")).await.unwrap();
    h.put(put("kv", "o2", &"y".repeat(100))).await.unwrap();
    h.put(put("kv", "o3", "z")).await.unwrap();
    let first = h.scan(scan_prefix("kv", "o", 0, 20, String::new())).await.unwrap();
    assert_eq!(keys(&first), ["o1"], "the big item does not join a page over the bound");
    let second = h.scan(scan_prefix("kv", "o", 0, 20, first.next_page_token)).await.unwrap();
    assert_eq!(keys(&second), ["o2"]);
    assert!(!second.next_page_token.is_empty());
    let third = h.scan(scan_prefix("kv", "o", 0, 20, second.next_page_token)).await.unwrap();
    assert_eq!(keys(&third), ["o3"]);
    assert!(third.next_page_token.is_empty());
}

#[tokio::test]
async fn foreign_and_malformed_page_tokens_are_invalid_argument() {
    let h = Harness::new();
    for ns in ["kv", "kv2"] {
        for i in 0..3 {
            h.put(put(ns, &format!("k{i}"), "v")).await.unwrap();
        }
    }
    let page = h.scan(scan_prefix("kv", "k", 1, 0, String::new())).await.unwrap();
    let token = page.next_page_token;
    assert!(!token.is_empty());

    let (field, message) = invalid_field(h.scan(scan_prefix("kv2", "k", 1, 0, token.clone())).await);
    assert_eq!(field, "page_token");
    assert!(message.contains("different query"), "another namespace: {message}");
    let (_, message) = invalid_field(h.scan(scan_prefix("kv", "k1", 1, 0, token.clone())).await);
    assert!(message.contains("different query"), "another prefix: {message}");
    let (field, message) = invalid_field(h.scan(scan_prefix("kv", "k", 1, 0, "not a token!".into())).await);
    assert_eq!(field, "page_token");
    assert!(message.contains("malformed"), "{message}");
    let (_, message) = invalid_field(h.scan(scan_prefix("kv", "k", 1, 0, "AAAA".into())).await);
    assert!(message.contains("malformed"), "too short: {message}");

    // The token still works for the scan it came from.
    let next = h.scan(scan_prefix("kv", "k", 1, 0, token)).await.unwrap();
    assert_eq!(keys(&next), ["k1"]);
}
