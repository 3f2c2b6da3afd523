//! What an audit record says about a request and its reply: the subject to
//! fingerprint (the key, the first key of a batch, the scan prefix or range
//! start, the series id) and the item count (items sent for writes, items
//! returned for reads). Nothing here copies a value.

use crate::call::{Reply, Request};
use crate::pb::kv::scan_request::Selector;

use super::record::Subject;

/// The subject of a request, and its item count when that is known up front (writes).
pub fn request(request: &Request) -> (Subject, Option<u64>) {
    let first = |keys: &[Vec<u8>]| keys.first().map_or(Subject::None, |k| Subject::of(k));
    match request {
        Request::Get(r) => (Subject::of(&r.key), None),
        Request::Exists(r) => (Subject::of(&r.key), None),
        Request::BatchGet(r) => (first(&r.keys), None),
        Request::Put(r) => (Subject::of(&r.key), Some(1)),
        Request::BatchPut(r) => {
            let subject = r.entries.first().map_or(Subject::None, |e| Subject::of(&e.key));
            (subject, Some(r.entries.len() as u64))
        }
        Request::Delete(r) => (Subject::of(&r.key), Some(1)),
        Request::BatchDelete(r) => (first(&r.keys), Some(r.keys.len() as u64)),
        Request::Scan(r) => {
            let subject = match &r.selector {
                Some(Selector::Prefix(prefix)) => Subject::of(prefix),
                Some(Selector::Range(range)) => Subject::of(&range.start),
                None => Subject::None,
            };
            (subject, None)
        }
        Request::Append(r) => {
            let subject = r.events.first().map_or(Subject::None, |e| Subject::of(e.series_id.as_bytes()));
            (subject, Some(r.events.len() as u64))
        }
        Request::Query(r) => (Subject::of(r.series_id.as_bytes()), None),
        Request::Aggregate(r) => (Subject::of(r.series_id.as_bytes()), None),
        Request::Tail(r) => (Subject::of(r.series_id.as_bytes()), None),
    }
}

/// Items a read returned (a tail's events are not counted: they flow later).
pub fn reply_items(reply: &Reply) -> u64 {
    match reply {
        Reply::Get(r) => u64::from(r.found),
        Reply::Exists(r) => u64::from(r.exists),
        Reply::BatchGet(r) => r.items.len() as u64,
        Reply::Scan(r) => r.items.len() as u64,
        Reply::Query(r) => r.events.len() as u64,
        Reply::Aggregate(r) => r.buckets.len() as u64,
        Reply::Put(_)
        | Reply::BatchPut(_)
        | Reply::Delete(_)
        | Reply::BatchDelete(_)
        | Reply::Append(_)
        | Reply::Tail(_) => 0,
    }
}
