//! PII from annotations through the real layers (ADR-011): values are checked
//! against the bound message, PII fields are sealed before the read cache and the
//! backend see them, and reads are opened for pii-read holders and masked for
//! everyone else. Key rotation, tampering, legacy values and bad bindings too.

mod pii_support;

use std::sync::Arc;

use futures::StreamExt;
use prost::Message;
use prost_reflect::{DynamicMessage, Value};
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use pii_support::{binding, contains, decode_user, master, sample_user, wrapped};
use prism_engine::call::{Call, Pattern, Reply, Request};
use prism_engine::config::{AccessPolicy, CachePolicy, NamespaceConfig, SchemaBinding};
use prism_engine::dispatch::Dispatch;
use prism_engine::identity::Identity;
use prism_engine::layers::cache::CacheLayer;
use prism_engine::layers::namespace::NamespaceLayer;
use prism_engine::layers::pii::PiiLayer;
use prism_engine::pb::{kv, ts};
use prism_engine::pii::envelope;
use prism_engine::registry::Registry;
use prism_engine::stack::CallStack;
use prism_engine::tail::TailHub;
use prism_engine::PrismError;

const DEK1: [u8; 32] = [1; 32];
const DEK2: [u8; 32] = [2; 32];

fn namespace(name: &str, pattern: Pattern, schema: Option<SchemaBinding>) -> NamespaceConfig {
    NamespaceConfig {
        name: name.into(),
        patterns: vec![pattern],
        backend: "memory".into(),
        cache: CachePolicy { enabled: true, ..Default::default() },
        access: AccessPolicy { pii_read: vec!["alice".into()], ..Default::default() },
        schema,
        ..Default::default()
    }
}

fn users(keys: &[(u32, [u8; 32])]) -> NamespaceConfig {
    let keys = keys.iter().map(|(v, k)| wrapped("users", *v, *k)).collect();
    namespace("users", Pattern::KeyValue, Some(binding("acme.User", keys)))
}

fn events() -> NamespaceConfig {
    namespace("events", Pattern::TimeSeries, Some(binding("acme.User", vec![wrapped("events", 1, DEK1)])))
}

/// The data path from the namespace layer down, with and without the PII layer
/// (the second one sees what the cache and the backend hold).
struct Gateway {
    registry: Arc<Registry>,
    protected: CallStack,
    raw: CallStack,
}

impl Gateway {
    fn new(configs: &[NamespaceConfig]) -> Self {
        let registry = Arc::new(Registry::new(None));
        registry.set_master_key(master());
        registry.apply(configs).expect("valid namespaces");
        let tails = Arc::new(TailHub::new());
        let protected = ServiceBuilder::new()
            .layer(NamespaceLayer::new(registry.clone()))
            .layer(PiiLayer)
            .layer(CacheLayer)
            .service(Dispatch::new(tails.clone()));
        let raw =
            ServiceBuilder::new().layer(NamespaceLayer::new(registry.clone())).service(Dispatch::new(tails));
        Self { registry, protected: BoxCloneSyncService::new(protected), raw: BoxCloneSyncService::new(raw) }
    }

    async fn call_as(&self, who: &str, request: Request) -> Result<Reply, PrismError> {
        let mut call = Call::new(request, None);
        call.identity = Arc::new(Identity { principal: who.into(), ..Identity::anonymous() });
        self.protected.clone().oneshot(call).await
    }

    /// Straight to the backend, bypassing the PII layer and the cache.
    async fn raw(&self, request: Request) -> Result<Reply, PrismError> {
        self.raw.clone().oneshot(Call::new(request, None)).await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<u64, PrismError> {
        let request =
            kv::PutRequest { namespace: "users".into(), key: key.into(), value, ..Default::default() };
        match self.call_as("writer", Request::Put(request)).await? {
            Reply::Put(r) => Ok(r.version),
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn get_as(&self, who: &str, key: &str) -> Result<Vec<u8>, PrismError> {
        let request = kv::GetRequest { namespace: "users".into(), key: key.into() };
        match self.call_as(who, Request::Get(request)).await? {
            Reply::Get(kv::GetResponse { item: Some(item), .. }) => Ok(item.value),
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn raw_get(&self, key: &str) -> Vec<u8> {
        let request = kv::GetRequest { namespace: "users".into(), key: key.into() };
        match self.raw(Request::Get(request)).await.unwrap() {
            Reply::Get(kv::GetResponse { item: Some(item), .. }) => item.value,
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn raw_put(&self, key: &str, value: Vec<u8>) {
        let request =
            kv::PutRequest { namespace: "users".into(), key: key.into(), value, ..Default::default() };
        self.raw(Request::Put(request)).await.unwrap();
    }
}

fn string(message: &DynamicMessage, path: &[&str]) -> String {
    let mut current = message.clone();
    for name in &path[..path.len() - 1] {
        current = current.get_field_by_name(name).unwrap().as_message().unwrap().clone();
    }
    current.get_field_by_name(path[path.len() - 1]).unwrap().as_str().unwrap().to_string()
}

/// The masked form of `sample_user`, field by field.
fn assert_masked(masked: &DynamicMessage) {
    assert_eq!(string(masked, &["name"]), "Alice Public");
    assert_eq!(string(masked, &["email"]), "***");
    assert_eq!(masked.get_field_by_name("age").unwrap().as_i32(), Some(41));
    assert!(!masked.has_field_by_name("ssn"), "bytes PII is left out");
    assert!(!masked.has_field_by_name("salary"), "numeric PII is left out");
    assert_eq!(string(masked, &["address", "street"]), "***");
    assert_eq!(string(masked, &["address", "city"]), "Springfield");
    let contacts = masked.get_field_by_name("contacts").unwrap().as_list().unwrap().to_vec();
    let emails: Vec<_> = contacts
        .iter()
        .map(|c| c.as_message().unwrap().get_field_by_name("email").unwrap().as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails, ["***", ""], "positions kept; an element without PII stays as it was");
    let phones = masked.get_field_by_name("phones").unwrap().as_list().unwrap().to_vec();
    assert_eq!(phones, [Value::String("***".into()), Value::String("***".into())]);
    let by_kind = masked.get_field_by_name("by_kind").unwrap().as_map().unwrap().clone();
    let home = by_kind.values().next().unwrap().as_message().unwrap();
    assert_eq!(string(home, &["email"]), "***");
    assert_eq!(string(home, &["kind"]), "home");
    assert_eq!(masked.get_field_by_name("scores").unwrap().as_list().unwrap().len(), 2);
}

#[tokio::test]
async fn pii_is_sealed_at_rest_opened_for_pii_readers_and_masked_for_others() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    let user = sample_user();
    gw.put("u1", user.encode_to_vec()).await.unwrap();

    let raw = gw.raw_get("u1").await;
    assert!(!contains(&raw, b"SECRET"), "no PII plaintext in the backend");
    assert!(contains(&raw, b"Alice Public") && contains(&raw, b"Springfield"), "public fields stay readable");

    let plain = decode_user(&gw.get_as("alice", "u1").await.unwrap());
    assert_eq!(plain, decode_user(&user.encode_to_vec()), "pii-read gets the original message");

    let masked = gw.get_as("bob", "u1").await.unwrap();
    assert!(!contains(&masked, b"SECRET"));
    assert_masked(&decode_user(&masked));
}

#[tokio::test]
async fn cache_hits_are_opened_or_masked_per_caller_and_the_cache_holds_ciphertext() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    gw.put("u1", sample_user().encode_to_vec()).await.unwrap();
    // Filled by a pii-read caller, then hit by one without it, and the other way round.
    let first = gw.get_as("alice", "u1").await.unwrap();
    let ns = gw.registry.get("users").unwrap();
    let cache = ns.cache.as_ref().unwrap();
    let cached = cache.get(b"u1", prism_engine::time::now_ms()).expect("the read filled the cache");
    assert!(!contains(&cached.value, b"SECRET"), "the cache holds the sealed form");
    let hits = cache.hits();
    let masked = gw.get_as("bob", "u1").await.unwrap();
    assert_eq!(cache.hits(), hits + 1, "served from the cache");
    assert_masked(&decode_user(&masked));
    assert_eq!(decode_user(&gw.get_as("alice", "u1").await.unwrap()), decode_user(&first));

    let request = kv::BatchGetRequest { namespace: "users".into(), keys: vec![b"u1".to_vec()] };
    match gw.call_as("bob", Request::BatchGet(request)).await.unwrap() {
        Reply::BatchGet(r) => assert_masked(&decode_user(&r.items[0].value)),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_retried_write_with_an_idempotency_token_replays_despite_fresh_sealing() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    let token = Some(kv::IdempotencyToken {
        id: "retry-1".into(),
        generated_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
    });
    let put = |value: Vec<u8>| kv::PutRequest {
        namespace: "users".into(),
        key: b"u1".to_vec(),
        value,
        idempotency_token: token.clone(),
        ..Default::default()
    };
    let version = |reply: Reply| match reply {
        Reply::Put(r) => r.version,
        other => panic!("unexpected {other:?}"),
    };
    let first = version(gw.call_as("w", Request::Put(put(sample_user().encode_to_vec()))).await.unwrap());
    let retry = version(gw.call_as("w", Request::Put(put(sample_user().encode_to_vec()))).await.unwrap());
    assert_eq!(first, retry, "the retry replays the first outcome");
    let mut other = sample_user();
    other.set_field_by_name("email", Value::String("SECRET-other@example.com".into()));
    match gw.call_as("w", Request::Put(put(other.encode_to_vec()))).await {
        Err(PrismError::InvalidArgument { field, .. }) => assert_eq!(field, "idempotency_token.id"),
        other => panic!("a different write under the same token is refused, got {other:?}"),
    }
    // Without a token, two writes of the same value are sealed with different nonces.
    gw.put("a", sample_user().encode_to_vec()).await.unwrap();
    gw.put("b", sample_user().encode_to_vec()).await.unwrap();
    let (a, b) = (gw.raw_get("a").await, gw.raw_get("b").await);
    assert_ne!(envelope::split(&a).unwrap().1[5..17], envelope::split(&b).unwrap().1[5..17]);
}

#[tokio::test]
async fn scan_and_batch_writes_go_through_the_same_rules() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    let entries = (0..3)
        .map(|i| kv::PutEntry {
            key: format!("s{i}").into(),
            value: sample_user().encode_to_vec(),
            ..Default::default()
        })
        .collect();
    gw.call_as(
        "writer",
        Request::BatchPut(kv::BatchPutRequest { namespace: "users".into(), entries, ..Default::default() }),
    )
    .await
    .unwrap();
    assert!(!contains(&gw.raw_get("s2").await, b"SECRET"));
    let scan = |who: &'static str| {
        let request = kv::ScanRequest {
            namespace: "users".into(),
            selector: Some(kv::scan_request::Selector::Prefix(b"s".to_vec())),
            ..Default::default()
        };
        gw.call_as(who, Request::Scan(request))
    };
    let Reply::Scan(masked) = scan("bob").await.unwrap() else { panic!("scan") };
    assert_eq!(masked.items.len(), 3);
    masked.items.iter().for_each(|item| assert_masked(&decode_user(&item.value)));
    let Reply::Scan(plain) = scan("alice").await.unwrap() else { panic!("scan") };
    let expected = decode_user(&sample_user().encode_to_vec());
    plain.items.iter().for_each(|item| assert_eq!(decode_user(&item.value), expected));
}

#[tokio::test]
async fn values_that_do_not_match_the_schema_are_refused_naming_the_field() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    let refused = |result: Result<u64, PrismError>| match result {
        Err(PrismError::InvalidArgument { field, message }) => (field, message),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    };
    // age (3) sent as a string
    let mut wrong_type = Vec::new();
    prost::encoding::string::encode(3, &"forty".to_string(), &mut wrong_type);
    let (field, message) = refused(gw.put("bad", wrong_type).await);
    assert_eq!(field, "value.age");
    assert!(message.contains("acme.User") && message.contains("field 'age' (3)"), "{message}");
    assert!(!message.contains("forty"), "values never appear in errors: {message}");

    // address.city (5.2) sent as a varint
    let mut inner = Vec::new();
    prost::encoding::int32::encode(2, &7, &mut inner);
    let mut nested = Vec::new();
    prost::encoding::bytes::encode(5, &inner, &mut nested);
    let (field, message) = refused(gw.put("bad", nested).await);
    assert_eq!(field, "value.address.city");
    assert!(message.contains("field 'city' (2)"), "{message}");

    // a field number the schema does not have
    let mut unknown = sample_user().encode_to_vec();
    prost::encoding::int32::encode(99, &1, &mut unknown);
    let (field, message) = refused(gw.put("bad", unknown).await);
    assert_eq!(field, "value");
    assert!(message.contains("field number 99 is not in acme.User"), "{message}");

    // PII that is not UTF-8: refused, and its bytes are not echoed
    let mut bad_utf8 = Vec::new();
    prost::encoding::bytes::encode(2, &b"SECRET\xff".to_vec(), &mut bad_utf8);
    let (field, message) = refused(gw.put("bad", bad_utf8).await);
    assert_eq!(field, "value.email");
    assert!(!message.contains("SECRET"), "{message}");

    // the envelope field cannot be smuggled in by a client
    let mut forged = Vec::new();
    prost::encoding::bytes::encode(prism_engine::pii::envelope::ENVELOPE_FIELD, &vec![1u8; 40], &mut forged);
    let (_, message) = refused(gw.put("bad", forged).await);
    assert!(message.contains("is not in acme.User"), "{message}");

    // in a batch, the entry is named; nothing of the batch is written
    let mut contacts = Vec::new();
    prost::encoding::bytes::encode(6, &vec![0x10, 0x01], &mut contacts); // contacts[0].email as a varint
    let entries = vec![
        kv::PutEntry { key: b"ok".to_vec(), value: sample_user().encode_to_vec(), ..Default::default() },
        kv::PutEntry { key: b"bad".to_vec(), value: contacts, ..Default::default() },
    ];
    let batch = gw
        .call_as(
            "w",
            Request::BatchPut(kv::BatchPutRequest {
                namespace: "users".into(),
                entries,
                ..Default::default()
            }),
        )
        .await;
    match batch {
        Err(PrismError::InvalidArgument { field, .. }) => {
            assert_eq!(field, "entries[1].value.contacts[0].email")
        }
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
    let request = kv::GetRequest { namespace: "users".into(), key: b"ok".to_vec() };
    let Reply::Get(got) = gw.raw(Request::Get(request)).await.unwrap() else { panic!("get") };
    assert!(!got.found, "a refused batch writes nothing");
}

fn event(id: &str, payload: Vec<u8>) -> ts::Event {
    ts::Event {
        series_id: "s".into(),
        event_time: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        event_id: id.into(),
        payload,
        ..Default::default()
    }
}

#[tokio::test]
async fn time_series_payloads_are_sealed_and_queries_and_tails_open_or_mask_them() {
    let gw = Gateway::new(&[events()]);
    let tail = |who: &'static str| {
        let request =
            ts::TailRequest { namespace: "events".into(), series_id: "s".into(), ..Default::default() };
        gw.call_as(who, Request::Tail(request))
    };
    let Reply::Tail(mut bob_tail) = tail("bob").await.unwrap() else { panic!("tail") };
    let Reply::Tail(mut alice_tail) = tail("alice").await.unwrap() else { panic!("tail") };

    let append = ts::AppendRequest {
        namespace: "events".into(),
        events: vec![event("e1", sample_user().encode_to_vec())],
    };
    gw.call_as("writer", Request::Append(append)).await.unwrap();
    let bad = ts::AppendRequest { namespace: "events".into(), events: vec![event("e2", vec![0x18, 0xff])] };
    match gw.call_as("writer", Request::Append(bad)).await {
        Err(PrismError::InvalidArgument { field, .. }) => assert_eq!(field, "events[0].payload.age"),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }

    let query = |who: &'static str| {
        let request =
            ts::QueryRequest { namespace: "events".into(), series_id: "s".into(), ..Default::default() };
        gw.call_as(who, Request::Query(request))
    };
    let raw = gw.raw(Request::Query(ts::QueryRequest {
        namespace: "events".into(),
        series_id: "s".into(),
        ..Default::default()
    }));
    let Reply::Query(raw) = raw.await.unwrap() else { panic!("query") };
    assert!(!contains(&raw.events[0].payload, b"SECRET"));
    let Reply::Query(masked) = query("bob").await.unwrap() else { panic!("query") };
    assert_masked(&decode_user(&masked.events[0].payload));
    let Reply::Query(plain) = query("alice").await.unwrap() else { panic!("query") };
    assert_eq!(decode_user(&plain.events[0].payload), decode_user(&sample_user().encode_to_vec()));

    let live = tokio::time::timeout(std::time::Duration::from_secs(5), bob_tail.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_masked(&decode_user(&live.payload));
    let live = tokio::time::timeout(std::time::Duration::from_secs(5), alice_tail.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(decode_user(&live.payload), decode_user(&sample_user().encode_to_vec()));
}

/// The key version in a stored value's envelope header.
fn sealed_version(stored: &[u8]) -> u32 {
    let (_, envelope) = prism_engine::pii::envelope::split(stored).expect("an envelope");
    u32::from_be_bytes(envelope[1..5].try_into().unwrap())
}

#[tokio::test]
async fn rotation_seals_new_writes_with_the_newest_key_and_old_values_stay_readable() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    gw.put("old", sample_user().encode_to_vec()).await.unwrap();
    gw.registry.apply(&[users(&[(1, DEK1), (2, DEK2)])]).unwrap();
    gw.put("new", sample_user().encode_to_vec()).await.unwrap();
    assert_eq!(sealed_version(&gw.raw_get("old").await), 1);
    assert_eq!(sealed_version(&gw.raw_get("new").await), 2);
    let expected = decode_user(&sample_user().encode_to_vec());
    for key in ["old", "new"] {
        assert_eq!(decode_user(&gw.get_as("alice", key).await.unwrap()), expected, "{key}");
    }
    // Once version 1 is retired, its values no longer open: an error, never garbage.
    gw.registry.apply(&[users(&[(2, DEK2)])]).unwrap();
    match gw.get_as("alice", "old").await {
        Err(PrismError::Internal(m)) => {
            assert!(m.contains("version 1") && m.contains("no longer lists"), "{m}")
        }
        other => panic!("expected INTERNAL, got {other:?}"),
    }
    match gw.get_as("bob", "old").await {
        Err(PrismError::Internal(_)) => {}
        other => panic!("masked reads check the envelope too, got {other:?}"),
    }
}

#[tokio::test]
async fn tampered_or_moved_envelopes_fail_to_open() {
    let gw = Gateway::new(&[users(&[(1, DEK1)])]);
    gw.put("u1", sample_user().encode_to_vec()).await.unwrap();
    let stored = gw.raw_get("u1").await;
    let mut tampered = stored.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    gw.raw_put("u1", tampered).await;
    for who in ["alice", "bob"] {
        match gw.get_as(who, "u1").await {
            Err(PrismError::Internal(m)) => assert!(m.contains("wrong key or corrupted"), "{m}"),
            other => panic!("expected INTERNAL, got {other:?}"),
        }
    }
    // The untouched envelope under another key does not open: the row is bound.
    gw.raw_put("u2", stored).await;
    assert!(matches!(gw.get_as("alice", "u2").await, Err(PrismError::Internal(_))));
}

#[tokio::test]
async fn values_written_before_the_schema_was_bound_are_returned_and_their_pii_masked() {
    let gw = Gateway::new(&[namespace("users", Pattern::KeyValue, None)]);
    gw.put("legacy", sample_user().encode_to_vec()).await.unwrap();
    gw.put("opaque", b"\xff\xfenot protobuf".to_vec()).await.unwrap();
    gw.registry.apply(&[users(&[(1, DEK1)])]).unwrap();
    assert_eq!(gw.get_as("alice", "legacy").await.unwrap(), sample_user().encode_to_vec(), "as stored");
    assert_masked(&decode_user(&gw.get_as("bob", "legacy").await.unwrap()));
    assert_eq!(
        gw.get_as("bob", "opaque").await.unwrap(),
        b"\xff\xfenot protobuf",
        "not a message: as stored"
    );
}
