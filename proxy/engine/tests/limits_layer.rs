//! Request limits and shape checks: each refusal names the field to fix and,
//! for size limits, the namespace setting that was exceeded.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{dur, event, memory_ns, ts_at};
use prism_engine::call::{Call, Pattern, Reply, Request};
use prism_engine::config::Limits;
use prism_engine::layers::limits::{check, LimitError, LimitsLayer};
use prism_engine::layers::namespace::NamespaceLayer;
use prism_engine::layers::CallFuture;
use prism_engine::pb::{kv, ts};
use prism_engine::PrismError;
use tonic_types::StatusExt;
use tower::{Layer, ServiceExt};

fn limits() -> Limits {
    Limits {
        max_key_bytes: 8,
        max_value_bytes: 16,
        max_batch_items: 3,
        max_page_items: 10,
        max_page_bytes: 100,
        default_page_items: 5,
        default_page_bytes: 50,
    }
}

/// Runs the check and returns (field, message) of the refusal.
fn refused(request: Request) -> (String, String) {
    let err = check(&request, &limits()).expect_err("should be refused");
    common::invalid_field::<()>(Err(PrismError::from(err)))
}

fn accepted(request: Request) {
    if let Err(err) = check(&request, &limits()) {
        panic!("refused a valid request: {err}");
    }
}

fn put(key: &str, value: &str) -> kv::PutRequest {
    common::put("ns", key, value)
}

fn entry(key: &str) -> kv::PutEntry {
    kv::PutEntry { key: key.into(), value: b"v".to_vec(), ..Default::default() }
}

fn batch_put(entries: Vec<kv::PutEntry>) -> Request {
    Request::BatchPut(kv::BatchPutRequest { namespace: "ns".into(), entries, idempotency_token: None })
}

fn scan(limit: u32, limit_bytes: u64, selector: Option<kv::scan_request::Selector>) -> Request {
    Request::Scan(kv::ScanRequest {
        namespace: "ns".into(),
        selector,
        limit,
        limit_bytes,
        page_token: String::new(),
    })
}

fn aggregate(start: Option<i64>, end: Option<i64>, width: Option<prost_types::Duration>) -> Request {
    Request::Aggregate(ts::AggregateRequest {
        namespace: "ns".into(),
        series_id: "s".into(),
        start: start.map(ts_at),
        end: end.map(ts_at),
        bucket_width: width,
        tag_filter: Default::default(),
    })
}

#[test]
fn empty_key_is_refused() {
    let err = check(&Request::Put(put("", "v")), &limits()).unwrap_err();
    assert_eq!(err, LimitError::Empty { field: "key".into() });
    assert_eq!(err.to_string(), "key must not be empty");
    let get = Request::Get(kv::GetRequest { namespace: "ns".into(), key: Vec::new() });
    assert_eq!(refused(get).0, "key");
}

#[test]
fn key_over_limit_names_max_key_bytes() {
    accepted(Request::Put(put("12345678", "v")));
    let (field, message) = refused(Request::Put(put("123456789", "v")));
    assert_eq!(field, "key");
    assert!(message.contains("9 bytes") && message.contains("limit of 8 (max_key_bytes)"), "{message}");
}

#[test]
fn value_over_limit_names_max_value_bytes() {
    accepted(Request::Put(put("k", &"x".repeat(16))));
    let (field, message) = refused(Request::Put(put("k", &"x".repeat(17))));
    assert_eq!(field, "value");
    assert!(message.contains("max_value_bytes"), "{message}");
}

#[test]
fn batches_must_be_non_empty_and_within_max_batch_items() {
    accepted(batch_put(vec![entry("a"), entry("b"), entry("c")]));
    let (field, message) = refused(batch_put(vec![entry("a"), entry("b"), entry("c"), entry("d")]));
    assert_eq!(field, "entries");
    assert!(message.contains("4 items") && message.contains("max_batch_items"), "{message}");
    assert_eq!(refused(batch_put(Vec::new())).0, "entries");
    let keys = vec![b"a".to_vec(); 4];
    let get = Request::BatchGet(kv::BatchGetRequest { namespace: "ns".into(), keys });
    assert!(refused(get).1.contains("max_batch_items"));
}

#[test]
fn batch_entries_are_checked_one_by_one() {
    let (field, _) = refused(batch_put(vec![entry("a"), entry("")]));
    assert_eq!(field, "entries[1].key");
    let mut big = entry("b");
    big.value = vec![0; 17];
    assert_eq!(refused(batch_put(vec![entry("a"), big])).0, "entries[1].value");
    let keys = vec![b"a".to_vec(), b"123456789".to_vec()];
    let delete = Request::BatchDelete(kv::BatchDeleteRequest {
        namespace: "ns".into(),
        keys,
        idempotency_token: None,
    });
    assert_eq!(refused(delete).0, "keys[1]");
}

#[test]
fn duplicate_keys_in_a_batch_are_refused() {
    let (field, message) = refused(batch_put(vec![entry("a"), entry("b"), entry("a")]));
    assert_eq!(field, "entries");
    assert!(message.contains("appears twice"), "{message}");
}

#[test]
fn negative_ttl_is_refused_and_zero_is_allowed() {
    let mut request = put("k", "v");
    request.ttl = Some(prost_types::Duration { seconds: 0, nanos: 0 });
    accepted(Request::Put(request.clone()));
    request.ttl = Some(prost_types::Duration { seconds: -1, nanos: 0 });
    let (field, message) = refused(Request::Put(request));
    assert_eq!(field, "ttl");
    assert!(message.contains("must not be negative"), "{message}");
    let mut e = entry("a");
    e.ttl = Some(prost_types::Duration { seconds: 0, nanos: -5 });
    assert_eq!(refused(batch_put(vec![e])).0, "entries[0].ttl");
}

#[test]
fn if_absent_and_if_version_together_are_refused() {
    let mut request = put("k", "v");
    request.if_absent = true;
    accepted(Request::Put(request.clone()));
    request.if_version = 3;
    let (field, message) = refused(Request::Put(request));
    assert_eq!(field, "if_version");
    assert!(message.contains("not both"), "{message}");
}

#[test]
fn idempotency_token_needs_an_id() {
    let mut request = put("k", "v");
    request.idempotency_token = Some(kv::IdempotencyToken { id: String::new(), generated_at: None });
    assert_eq!(refused(Request::Put(request)).0, "idempotency_token.id");
}

#[test]
fn page_limits_are_bounded_by_the_namespace() {
    accepted(scan(10, 100, None));
    let (field, message) = refused(scan(11, 0, None));
    assert_eq!(field, "limit");
    assert!(message.contains("max_page_items"), "{message}");
    let (field, message) = refused(scan(0, 101, None));
    assert_eq!(field, "limit_bytes");
    assert!(message.contains("max_page_bytes"), "{message}");
    let query =
        ts::QueryRequest { namespace: "ns".into(), series_id: "s".into(), limit: 11, ..Default::default() };
    assert_eq!(refused(Request::Query(query)).0, "limit");
}

#[test]
fn scan_range_start_after_end_is_refused() {
    use kv::scan_request::Selector;
    let range =
        |start: &str, end: &str| Some(Selector::Range(kv::KeyRange { start: start.into(), end: end.into() }));
    accepted(scan(0, 0, range("a", "b")));
    accepted(scan(0, 0, range("z", "")));
    let (field, message) = refused(scan(0, 0, range("b", "a")));
    assert_eq!(field, "range.start");
    assert!(message.contains("start is after end"), "{message}");
}

#[test]
fn query_start_after_end_is_refused() {
    let query = |start: i64, end: i64| {
        Request::Query(ts::QueryRequest {
            namespace: "ns".into(),
            series_id: "s".into(),
            start: Some(ts_at(start)),
            end: Some(ts_at(end)),
            ..Default::default()
        })
    };
    accepted(query(1, 2));
    let (field, message) = refused(query(3, 2));
    assert_eq!(field, "start");
    assert!(message.contains("[start, end)"), "{message}");
    let unnamed = ts::QueryRequest { namespace: "ns".into(), ..Default::default() };
    assert_eq!(refused(Request::Query(unnamed)).0, "series_id");
}

#[test]
fn aggregate_needs_a_bounded_range_and_a_sane_bucket_width() {
    let second = Some(dur(Duration::from_secs(1)));
    accepted(aggregate(Some(0), Some(60), second));
    let (field, message) = refused(aggregate(None, Some(60), second));
    assert_eq!(field, "start");
    assert!(message.contains("both required"), "{message}");
    assert_eq!(refused(aggregate(Some(0), None, second)).0, "start");
    assert_eq!(refused(aggregate(Some(60), Some(0), second)).0, "start");
    let (field, message) = refused(aggregate(Some(0), Some(60), None));
    assert_eq!(field, "bucket_width");
    assert!(message.contains("positive"), "{message}");
    let zero = Some(prost_types::Duration { seconds: 0, nanos: 0 });
    assert_eq!(refused(aggregate(Some(0), Some(60), zero)).0, "bucket_width");
    let negative = Some(prost_types::Duration { seconds: -1, nanos: 0 });
    assert_eq!(refused(aggregate(Some(0), Some(60), negative)).0, "bucket_width");
}

#[test]
fn aggregate_with_too_many_buckets_is_refused() {
    let max = prism_engine::layers::limits::MAX_BUCKETS as i64;
    // Exactly MAX_BUCKETS one-second buckets is allowed; one more is not.
    let second = Some(dur(Duration::from_secs(1)));
    accepted(aggregate(Some(0), Some(max), second));
    let (field, message) = refused(aggregate(Some(0), Some(max + 1), second));
    assert_eq!(field, "bucket_width");
    assert!(message.contains("more than 100000 buckets"), "{message}");
    let nanosecond = Some(prost_types::Duration { seconds: 0, nanos: 1 });
    assert_eq!(refused(aggregate(Some(0), Some(1), nanosecond)).0, "bucket_width");
}

#[test]
fn appended_events_need_time_id_and_bounded_payload() {
    let append =
        |events: Vec<ts::Event>| Request::Append(ts::AppendRequest { namespace: "ns".into(), events });
    accepted(append(vec![event("s", 1, "a", Some(1.0), &[])]));
    let mut no_time = event("s", 1, "a", None, &[]);
    no_time.event_time = None;
    let (field, message) = refused(append(vec![no_time]));
    assert_eq!(field, "events[0].event_time");
    assert!(message.contains("required"), "{message}");
    let (field, message) = refused(append(vec![event("s", 1, "a", None, &[]), event("s", 2, "", None, &[])]));
    assert_eq!(field, "events[1].event_id");
    assert!(message.contains("idempotent"), "{message}");
    assert_eq!(refused(append(vec![event("", 1, "a", None, &[])])).0, "events[0].series_id");
    let mut heavy = event("s", 1, "a", None, &[]);
    heavy.payload = vec![0; 17];
    assert!(refused(append(vec![heavy])).1.contains("max_value_bytes"));
    assert_eq!(refused(append(Vec::new())).0, "events");
}

#[tokio::test]
async fn layer_refuses_before_the_inner_service_and_maps_to_bad_request() {
    let mut config = memory_ns("ns", &[Pattern::KeyValue]);
    config.limits = limits();
    let registry = common::registry(&[config]);
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let inner = tower::service_fn(move |_call: Call| -> CallFuture {
        counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(Reply::Put(kv::PutResponse::default())) })
    });
    let service = NamespaceLayer::new(registry).layer(LimitsLayer.layer(inner));

    let err =
        service.clone().oneshot(Call::new(Request::Put(put("123456789", "v")), None)).await.unwrap_err();
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let violation = &status.get_details_bad_request().expect("BadRequest").field_violations[0];
    assert_eq!(violation.field, "key");
    assert_eq!(reached.load(Ordering::SeqCst), 0);

    service.oneshot(Call::new(Request::Put(put("k", "v")), None)).await.expect("within limits");
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn layer_without_a_resolved_namespace_is_internal() {
    let inner = tower::service_fn(|_call: Call| -> CallFuture {
        Box::pin(async { Ok(Reply::Put(kv::PutResponse::default())) })
    });
    let err =
        LimitsLayer.layer(inner).oneshot(Call::new(Request::Put(put("k", "v")), None)).await.unwrap_err();
    assert!(matches!(err, PrismError::Internal(_)), "{err:?}");
}

#[test]
fn aggregate_over_the_whole_timestamp_range_is_refused_not_overflowed() {
    // Far-apart bounds whose distance in nanoseconds does not fit in an i64.
    let hour = Some(dur(Duration::from_secs(3600)));
    let (field, _) = refused(aggregate(Some(-10_000_000_000), Some(10_000_000_000), hour));
    assert_eq!(field, "bucket_width");
}
