//! TimeSeries semantics on top of any backend.

use std::collections::{BTreeMap, HashSet, VecDeque};

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::convert::{event_from_pb, event_to_pb, sorted_tags};
use crate::backend::{AggQuery, Backend, TsQuery};
use crate::call::{Reply, Request};
use crate::page_token::{decode_query, encode_query, stable_hash};
use crate::pb::ts;
use crate::registry::Namespace;
use crate::tail::TailHub;
use crate::time::{duration_to_ns, ns_to_timestamp, timestamp_to_ns};
use crate::PrismError;

/// Events read per backend call while a tail catches up on stored events.
const TAIL_PAGE: usize = 500;
/// Positions a tail remembers to drop duplicates (catch-up overlap, retried appends).
const SENT_MEMORY: usize = 65_536;

/// The most recent positions a tail sent, oldest forgotten first.
#[derive(Default)]
struct Sent {
    set: HashSet<(i64, String)>,
    order: VecDeque<(i64, String)>,
}

impl Sent {
    /// Records a position; false when it was already sent.
    fn insert(&mut self, time_ns: i64, event_id: &str) -> bool {
        let position = (time_ns, event_id.to_string());
        if !self.set.insert(position.clone()) {
            return false;
        }
        self.order.push_back(position);
        if self.order.len() > SENT_MEMORY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

pub async fn handle(ns: &Namespace, request: Request, tails: &TailHub) -> Result<Reply, PrismError> {
    match request {
        Request::Append(r) => {
            let events: Vec<_> = r.events.into_iter().map(event_from_pb).collect();
            let outcome = ns.backend.ts_append(events.clone()).await?;
            // Published only after the backend acknowledged durability.
            tails.publish(&ns.name, &events);
            Ok(Reply::Append(ts::AppendResponse {
                appended: outcome.appended,
                duplicates: outcome.duplicates,
            }))
        }
        Request::Query(r) => query(ns, r).await.map(Reply::Query),
        Request::Aggregate(r) => aggregate(ns, r).await.map(Reply::Aggregate),
        Request::Tail(r) => Ok(Reply::Tail(tail(ns, r, tails))),
        _ => Err(PrismError::Internal("a KeyValue request reached TimeSeries dispatch".into())),
    }
}

fn tag_parts(tags: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in tags {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

async fn query(ns: &Namespace, r: ts::QueryRequest) -> Result<ts::QueryResponse, PrismError> {
    let start_ns = r.start.as_ref().map_or(i64::MIN, timestamp_to_ns);
    let end_ns = r.end.as_ref().map_or(i64::MAX, timestamp_to_ns);
    let tag_filter = sorted_tags(r.tag_filter);
    let descending = r.order == ts::Order::Descending as i32;
    let fingerprint = stable_hash(&[
        &ns.token_salt.to_le_bytes(),
        r.series_id.as_bytes(),
        &start_ns.to_le_bytes(),
        &end_ns.to_le_bytes(),
        &tag_parts(&tag_filter),
        &[descending as u8],
    ]);
    let after = match r.page_token.as_str() {
        "" => None,
        token => Some(decode_query(token, fingerprint)?),
    };
    let limit = if r.limit == 0 { ns.limits.default_page_items } else { r.limit as usize };
    let mut events = ns
        .backend
        .ts_query(TsQuery {
            series_id: r.series_id,
            start_ns,
            end_ns,
            tag_filter,
            descending,
            after,
            limit: limit + 1,
        })
        .await?;
    let more = events.len() > limit;
    events.truncate(limit);
    let next_page_token = match (more, events.last()) {
        (true, Some(last)) => encode_query(fingerprint, last.time_ns, &last.event_id),
        _ => String::new(),
    };
    Ok(ts::QueryResponse { events: events.iter().map(event_to_pb).collect(), next_page_token })
}

async fn aggregate(ns: &Namespace, r: ts::AggregateRequest) -> Result<ts::AggregateResponse, PrismError> {
    let start_ns = r.start.as_ref().map_or(0, timestamp_to_ns);
    let end_ns = r.end.as_ref().map_or(0, timestamp_to_ns);
    let width_ns = r.bucket_width.as_ref().map_or(0, duration_to_ns).min(i64::MAX as i128) as i64;
    let stats = ns
        .backend
        .ts_aggregate(AggQuery {
            series_id: r.series_id,
            start_ns,
            end_ns,
            width_ns,
            tag_filter: sorted_tags(r.tag_filter),
        })
        .await?;
    let buckets = stats
        .into_iter()
        .map(|b| ts::Bucket {
            start: Some(ns_to_timestamp(b.start_ns)),
            count: b.count,
            value_count: b.value_count,
            sum: b.sum,
            min: b.min,
            max: b.max,
            avg: if b.value_count > 0 { b.sum / b.value_count as f64 } else { 0.0 },
        })
        .collect();
    Ok(ts::AggregateResponse { buckets })
}

/// Stored events from `from` first (when given), then live ones. The live
/// subscription starts before the catch-up read, so nothing falls in between;
/// events already sent (stored ones, or a retried append of a live one) are not
/// sent twice; the memory of sent events is bounded by `SENT_MEMORY`.
fn tail(ns: &Namespace, r: ts::TailRequest, tails: &TailHub) -> crate::call::EventStream {
    let mut live = tails.subscribe(&ns.name, &r.series_id);
    let backend = ns.backend.clone();
    let (tx, rx) = mpsc::channel(256);
    let from_ns = r.from.as_ref().map(timestamp_to_ns);
    let filter = sorted_tags(r.tag_filter);
    let series_id = r.series_id;
    tokio::spawn(async move {
        let mut seen = Sent::default();
        if let Some(from_ns) = from_ns {
            match catch_up(&*backend, &series_id, from_ns, &filter, &tx, &mut seen).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(err) => {
                    let _ = tx.send(Err(err.into())).await;
                    return;
                }
            }
        }
        loop {
            let event = tokio::select! {
                _ = tx.closed() => return,
                received = live.recv() => received,
            };
            match event {
                Ok(event) => {
                    let wanted = from_ns.is_none_or(|from| event.time_ns >= from)
                        && event.matches(&filter)
                        && seen.insert(event.time_ns, &event.event_id);
                    if wanted && tx.send(Ok(event_to_pb(&event))).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let message = format!(
                        "tail fell {n} events behind; reconnect with `from` set to the last event time received"
                    );
                    let _ = tx.send(Err(tonic::Status::resource_exhausted(message))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let message = "the server is shutting down; reconnect the tail elsewhere";
                    let _ = tx.send(Err(tonic::Status::unavailable(message))).await;
                    return;
                }
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Sends stored events; `Ok(false)` when the client went away.
async fn catch_up(
    backend: &dyn Backend,
    series_id: &str,
    from_ns: i64,
    filter: &BTreeMap<String, String>,
    tx: &mpsc::Sender<Result<ts::Event, tonic::Status>>,
    seen: &mut Sent,
) -> Result<bool, PrismError> {
    let mut after = None;
    loop {
        let page = backend
            .ts_query(TsQuery {
                series_id: series_id.to_string(),
                start_ns: from_ns,
                end_ns: i64::MAX,
                tag_filter: filter.clone(),
                descending: false,
                after: after.clone(),
                limit: TAIL_PAGE,
            })
            .await?;
        for event in &page {
            seen.insert(event.time_ns, &event.event_id);
            if tx.send(Ok(event_to_pb(event))).await.is_err() {
                return Ok(false);
            }
        }
        match page.last() {
            Some(last) if page.len() == TAIL_PAGE => {
                after = Some((last.time_ns, last.event_id.clone()));
            }
            _ => return Ok(true),
        }
    }
}
