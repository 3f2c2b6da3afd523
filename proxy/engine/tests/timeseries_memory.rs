//! TimeSeries semantics through the full stack on the memory backend:
//! idempotent appends, ordered and filtered queries with paging, aggregates
//! and live tails.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{dur, event, invalid_field, ts_at, Harness};
use futures::StreamExt;
use prism_engine::call::{Reply, Request};
use prism_engine::pb::ts;

fn query(series: &str) -> ts::QueryRequest {
    ts::QueryRequest { namespace: "ts".into(), series_id: series.into(), ..Default::default() }
}

fn ids(response: &ts::QueryResponse) -> Vec<String> {
    response.events.iter().map(|e| e.event_id.clone()).collect()
}

/// Ten events at t = 0, 10, .., 90 s; even ones tagged host=a, odd ones host=b.
async fn seeded() -> Harness {
    let h = Harness::new();
    let events = (0..10)
        .map(|i| {
            let host = if i % 2 == 0 { "a" } else { "b" };
            event("cpu", i * 10, &format!("e{i}"), Some(i as f64), &[("host", host)])
        })
        .collect();
    let appended = h.append(events).await;
    assert_eq!((appended.appended, appended.duplicates), (10, 0));
    h
}

#[tokio::test]
async fn appends_are_idempotent_on_series_time_and_id() {
    let h = seeded().await;
    let again =
        h.append(vec![event("cpu", 0, "e0", Some(99.0), &[]), event("cpu", 0, "other", None, &[])]).await;
    assert_eq!((again.appended, again.duplicates), (1, 1));
    let all = h.query(query("cpu")).await.unwrap();
    assert_eq!(all.events.len(), 11);
    assert_eq!(all.events[0].value, Some(0.0), "the duplicate did not overwrite");
}

#[tokio::test]
async fn query_orders_ascending_and_descending_within_a_half_open_range() {
    let h = seeded().await;
    let mut request = query("cpu");
    request.start = Some(ts_at(20));
    request.end = Some(ts_at(50));
    assert_eq!(ids(&h.query(request.clone()).await.unwrap()), ["e2", "e3", "e4"]);
    request.order = ts::Order::Descending as i32;
    assert_eq!(ids(&h.query(request).await.unwrap()), ["e4", "e3", "e2"]);
    assert!(h.query(query("absent")).await.unwrap().events.is_empty());
}

#[tokio::test]
async fn query_filters_by_tags() {
    let h = seeded().await;
    let mut request = query("cpu");
    request.tag_filter.insert("host".into(), "b".into());
    assert_eq!(ids(&h.query(request.clone()).await.unwrap()), ["e1", "e3", "e5", "e7", "e9"]);
    request.tag_filter.insert("dc".into(), "x".into());
    assert!(h.query(request).await.unwrap().events.is_empty(), "every filter tag must match");
}

#[tokio::test]
async fn query_pages_in_both_orders() {
    let h = seeded().await;
    for (order, expected) in [
        (ts::Order::Ascending, vec!["e0", "e2", "e4", "e6", "e8"]),
        (ts::Order::Descending, vec!["e8", "e6", "e4", "e2", "e0"]),
    ] {
        let mut request = query("cpu");
        request.order = order as i32;
        request.limit = 2;
        request.tag_filter.insert("host".into(), "a".into());
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = h.query(request.clone()).await.unwrap();
            pages += 1;
            assert!(page.events.len() <= 2);
            seen.extend(ids(&page));
            if page.next_page_token.is_empty() {
                break;
            }
            request.page_token = page.next_page_token;
        }
        assert_eq!(seen, expected, "{order:?}");
        assert_eq!(pages, 3);
    }
}

#[tokio::test]
async fn query_page_tokens_are_bound_to_their_query() {
    let h = seeded().await;
    let mut request = query("cpu");
    request.limit = 3;
    let token = h.query(request.clone()).await.unwrap().next_page_token;
    assert!(!token.is_empty());
    let mut other_series = query("mem");
    other_series.page_token = token.clone();
    let (field, message) = invalid_field(h.query(other_series).await);
    assert_eq!(field, "page_token");
    assert!(message.contains("different query"), "{message}");
    let mut other_order = request.clone();
    other_order.order = ts::Order::Descending as i32;
    other_order.page_token = token.clone();
    assert!(invalid_field(h.query(other_order).await).1.contains("different query"));
    let mut garbage = request.clone();
    garbage.page_token = "%%%".into();
    assert!(invalid_field(h.query(garbage).await).1.contains("malformed"));
}

#[tokio::test]
async fn aggregate_matches_a_hand_computation() {
    let h = Harness::new();
    let mut events = Vec::new();
    for i in 0..40i64 {
        let value = (i % 7 != 3).then(|| ((i * 37) % 11) as f64 - 4.5);
        let host = if i % 3 == 0 { "a" } else { "b" };
        events.push(event("load", 100 + i * 7, &format!("e{i}"), value, &[("host", host)]));
    }
    h.append(events.clone()).await;

    let (start, end, width) = (120i64, 350i64, 60i64);
    let request = ts::AggregateRequest {
        namespace: "ts".into(),
        series_id: "load".into(),
        start: Some(ts_at(start)),
        end: Some(ts_at(end)),
        bucket_width: Some(dur(Duration::from_secs(width as u64))),
        tag_filter: [("host".to_string(), "b".to_string())].into(),
    };
    let Reply::Aggregate(response) = h.call(Request::Aggregate(request)).await.unwrap() else { panic!() };

    // bucket start -> (count, values)
    let mut expected: BTreeMap<i64, (u64, Vec<f64>)> = BTreeMap::new();
    for e in &events {
        let t = e.event_time.unwrap().seconds;
        if t < start || t >= end || e.tags["host"] != "b" {
            continue;
        }
        let bucket = start + (t - start) / width * width;
        let slot = expected.entry(bucket).or_default();
        slot.0 += 1;
        slot.1.extend(e.value);
    }
    assert_eq!(response.buckets.len(), expected.len());
    for (bucket, (start_s, (count, values))) in response.buckets.iter().zip(&expected) {
        assert_eq!(bucket.start.unwrap().seconds, *start_s);
        assert_eq!(bucket.count, *count);
        assert_eq!(bucket.value_count, values.len() as u64);
        let sum: f64 = values.iter().sum();
        assert!((bucket.sum - sum).abs() < 1e-9, "{} vs {sum}", bucket.sum);
        assert_eq!(bucket.min, values.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(bucket.max, values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        assert!((bucket.avg - sum / values.len() as f64).abs() < 1e-9);
    }
}

#[tokio::test]
async fn tail_receives_events_appended_after_it_started() {
    let h = seeded().await;
    let tail = ts::TailRequest {
        namespace: "ts".into(),
        series_id: "cpu".into(),
        from: None,
        tag_filter: [("host".to_string(), "a".to_string())].into(),
    };
    let Reply::Tail(mut stream) = h.call(Request::Tail(tail)).await.unwrap() else { panic!() };
    h.append(vec![
        event("cpu", 200, "skip", Some(1.0), &[("host", "b")]),
        event("other", 200, "other-series", Some(1.0), &[("host", "a")]),
        event("cpu", 210, "live", Some(2.0), &[("host", "a")]),
    ])
    .await;
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("an event in time");
    let received = next.expect("stream open").expect("event");
    assert_eq!(received.event_id, "live", "stored events, other tags and other series are not sent");
    assert_eq!(received.event_time, Some(ts_at(210)));
}

#[tokio::test]
async fn tail_from_a_time_catches_up_then_follows_without_duplicates() {
    let h = seeded().await;
    let tail = ts::TailRequest {
        namespace: "ts".into(),
        series_id: "cpu".into(),
        from: Some(ts_at(70)),
        tag_filter: Default::default(),
    };
    let Reply::Tail(mut stream) = h.call(Request::Tail(tail)).await.unwrap() else { panic!() };
    h.append(vec![event("cpu", 90, "e9", Some(9.0), &[]), event("cpu", 95, "new", None, &[])]).await;
    let mut got = Vec::new();
    while got.len() < 4 {
        let next = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("in time");
        got.push(next.unwrap().unwrap().event_id);
    }
    assert_eq!(got, ["e7", "e8", "e9", "new"]);
    let extra = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    assert!(extra.is_err(), "nothing sent twice: {extra:?}");
}

#[tokio::test]
async fn closing_the_hub_ends_tails_with_unavailable() {
    let h = Harness::new();
    let tail = ts::TailRequest { namespace: "ts".into(), series_id: "cpu".into(), ..Default::default() };
    let Reply::Tail(mut stream) = h.call(Request::Tail(tail.clone())).await.unwrap() else { panic!() };
    h.tails.close();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("in time");
    let status = next.expect("a final status").unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().is_none());

    // A tail opened after the close ends the same way instead of hanging.
    let Reply::Tail(mut late) = h.call(Request::Tail(tail)).await.unwrap() else { panic!() };
    let next = tokio::time::timeout(Duration::from_secs(5), late.next()).await.expect("in time");
    assert_eq!(next.expect("a final status").unwrap_err().code(), tonic::Code::Unavailable);
}
