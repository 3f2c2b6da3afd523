//! The read cache: hits never reach the backend, writes through the proxy
//! invalidate, writes outside it are visible after the cache TTL, item TTLs
//! are honoured, size bounds hold, and a stale read cannot refill the cache.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{dur, memory_ns, put, Harness};
use prism_engine::backend::{Item, PutEntry};
use prism_engine::call::{Pattern, Request};
use prism_engine::config::{CachePolicy, NamespaceConfig};
use prism_engine::pb::kv;
use prism_engine::read_cache::ReadCache;

fn cached(name: &str, ttl_seconds: f64, max_entries: usize) -> NamespaceConfig {
    let mut ns = memory_ns(name, &[Pattern::KeyValue]);
    ns.cache = CachePolicy { enabled: true, max_entries, max_bytes: 0, ttl_seconds };
    ns
}

/// Writes straight to the backend, as another proxy or a database client would.
async fn write_outside(h: &Harness, ns: &str, key: &str, value: &str) {
    let backend = h.registry.get(ns).expect("namespace").backend.clone();
    let entry = PutEntry {
        key: Bytes::from(key.to_string()),
        value: Bytes::from(value.to_string()),
        expires_at_ms: None,
        if_absent: false,
        if_version: 0,
    };
    backend.kv_put(vec![entry]).await.expect("direct write");
}

fn value_of(r: &kv::GetResponse) -> Vec<u8> {
    r.item.as_ref().map(|i| i.value.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_hit_is_served_without_the_backend_until_the_ttl() {
    let h = Harness::with(&[cached("c", 0.3, 0)]);
    h.put(put("c", "k", "v1")).await.expect("put");
    assert_eq!(value_of(&h.get("c", "k").await), b"v1"); // miss, fills
    write_outside(&h, "c", "k", "v2").await;
    // Served from the cache: the backend already holds v2.
    assert_eq!(value_of(&h.get("c", "k").await), b"v1");
    let cache = h.registry.get("c").unwrap().cache.clone().expect("cache enabled");
    assert!(cache.hits() >= 1, "no hit recorded");
    // The staleness bound for writes outside the proxy is the cache TTL.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(value_of(&h.get("c", "k").await), b"v2");
}

#[tokio::test]
async fn writes_through_the_proxy_invalidate() {
    let h = Harness::with(&[cached("c", 60.0, 0)]);
    h.put(put("c", "k", "v1")).await.expect("put");
    assert_eq!(value_of(&h.get("c", "k").await), b"v1");
    h.put(put("c", "k", "v2")).await.expect("put");
    assert_eq!(value_of(&h.get("c", "k").await), b"v2");

    let delete = kv::DeleteRequest { namespace: "c".into(), key: b"k".to_vec(), ..Default::default() };
    h.call(Request::Delete(delete)).await.expect("delete");
    assert!(!h.get("c", "k").await.found, "a deleted key was served from the cache");

    let entries = vec![kv::PutEntry { key: b"k".to_vec(), value: b"v3".to_vec(), ..Default::default() }];
    let batch = kv::BatchPutRequest { namespace: "c".into(), entries, idempotency_token: None };
    h.call(Request::BatchPut(batch)).await.expect("batch put");
    assert_eq!(value_of(&h.get("c", "k").await), b"v3");
}

#[tokio::test]
async fn item_ttls_are_honoured_on_hits() {
    let h = Harness::with(&[cached("c", 60.0, 0)]);
    let mut short = put("c", "k", "v");
    short.ttl = Some(dur(Duration::from_millis(100)));
    h.put(short).await.expect("put");
    assert!(h.get("c", "k").await.found);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!h.get("c", "k").await.found, "an expired item was served from the cache");
}

#[tokio::test]
async fn batch_get_is_served_when_every_key_hits() {
    let h = Harness::with(&[cached("c", 60.0, 0)]);
    for k in ["a", "b"] {
        h.put(put("c", k, k)).await.expect("put");
    }
    let request = || kv::BatchGetRequest { namespace: "c".into(), keys: vec![b"a".to_vec(), b"b".to_vec()] };
    h.call(Request::BatchGet(request())).await.expect("fill");
    write_outside(&h, "c", "a", "changed").await;
    match h.call(Request::BatchGet(request())).await.expect("hit") {
        prism_engine::call::Reply::BatchGet(r) => {
            assert_eq!(r.items.len(), 2);
            assert_eq!(r.items[0].value, b"a", "served from the cache");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn namespaces_without_a_cache_always_read_the_backend() {
    let h = Harness::new();
    h.put(put("kv", "k", "v1")).await.expect("put");
    assert_eq!(value_of(&h.get("kv", "k").await), b"v1");
    write_outside(&h, "kv", "k", "v2").await;
    assert_eq!(value_of(&h.get("kv", "k").await), b"v2");
    assert!(h.registry.get("kv").unwrap().cache.is_none());
}

fn item(key: &str) -> Item {
    Item {
        key: Bytes::from(key.to_string()),
        value: Bytes::from_static(b"v"),
        version: 1,
        expires_at_ms: None,
    }
}

#[test]
fn entries_are_bounded_and_a_stale_read_cannot_refill() {
    let policy = CachePolicy { enabled: true, max_entries: 16, max_bytes: 0, ttl_seconds: 60.0 };
    let cache = ReadCache::new(&policy).expect("enabled");
    for i in 0..1000 {
        cache.insert_if_current(item(&format!("k{i}")), cache.epoch());
    }
    assert!(cache.len() <= 16, "cache holds {} entries over a bound of 16", cache.len());

    let before = cache.epoch();
    cache.invalidate([b"x".as_slice()]); // a write starts while a read is in flight
    cache.insert_if_current(item("x"), before);
    assert!(cache.get(b"x", 0).is_none(), "a read older than a write refilled the cache");
    assert!(ReadCache::new(&CachePolicy::default()).is_none(), "disabled policy built a cache");
}
