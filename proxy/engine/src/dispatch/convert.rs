//! Conversions between protobuf messages and backend types.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::backend::{Event, Item};
use crate::pb::{kv, ts};
use crate::time::{ms_to_timestamp, ns_to_timestamp, timestamp_to_ms, timestamp_to_ns};

pub fn item_to_pb(item: Item) -> kv::Item {
    kv::Item {
        key: item.key.to_vec(),
        value: item.value.to_vec(),
        version: item.version,
        expires_at: item.expires_at_ms.map(ms_to_timestamp),
    }
}

/// Inverse of `item_to_pb`, for replies the read cache keeps.
pub fn item_from_pb(item: &kv::Item) -> Item {
    Item {
        key: Bytes::copy_from_slice(&item.key),
        value: Bytes::copy_from_slice(&item.value),
        version: item.version,
        expires_at_ms: item.expires_at.as_ref().map(timestamp_to_ms),
    }
}

pub fn event_from_pb(event: ts::Event) -> Event {
    Event {
        series_id: event.series_id,
        time_ns: event.event_time.as_ref().map(timestamp_to_ns).unwrap_or(0),
        event_id: event.event_id,
        tags: event.tags.into_iter().collect(),
        value: event.value,
        payload: Bytes::from(event.payload),
    }
}

pub fn event_to_pb(event: &Event) -> ts::Event {
    ts::Event {
        series_id: event.series_id.clone(),
        event_time: Some(ns_to_timestamp(event.time_ns)),
        event_id: event.event_id.clone(),
        tags: event.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        value: event.value,
        payload: event.payload.to_vec(),
    }
}

pub fn sorted_tags(tags: std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    tags.into_iter().collect()
}
