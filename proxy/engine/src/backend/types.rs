//! Plain data exchanged with backends (no protobuf, no Python).

use std::collections::BTreeMap;

use bytes::Bytes;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Bytes,
    pub value: Bytes,
    pub version: u64,
    pub expires_at_ms: Option<i64>,
}

impl Item {
    pub fn size(&self) -> usize {
        self.key.len() + self.value.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutEntry {
    pub key: Bytes,
    pub value: Bytes,
    pub expires_at_ms: Option<i64>,
    pub if_absent: bool,
    /// Compare-and-set: when > 0 the live item must have exactly this version.
    pub if_version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    pub version: u64,
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeleteEntry {
    pub key: Bytes,
    pub if_version: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanQuery {
    /// Inclusive lower bound.
    pub start: Bytes,
    /// Exclusive upper bound; `None` is unbounded.
    pub end: Option<Bytes>,
    /// Resume strictly after this key.
    pub after: Option<Bytes>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub series_id: String,
    pub time_ns: i64,
    pub event_id: String,
    pub tags: BTreeMap<String, String>,
    pub value: Option<f64>,
    pub payload: Bytes,
}

impl Event {
    pub fn matches(&self, filter: &BTreeMap<String, String>) -> bool {
        filter.iter().all(|(k, v)| self.tags.get(k) == Some(v))
    }

    pub fn position(&self) -> (i64, &str) {
        (self.time_ns, self.event_id.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AppendOutcome {
    pub appended: u32,
    pub duplicates: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TsQuery {
    pub series_id: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub tag_filter: BTreeMap<String, String>,
    pub descending: bool,
    /// Resume strictly after this (time, event id) in the query's order.
    pub after: Option<(i64, String)>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggQuery {
    pub series_id: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub width_ns: i64,
    pub tag_filter: BTreeMap<String, String>,
}

impl AggQuery {
    pub fn bucket_of(&self, time_ns: i64) -> i64 {
        let offset = (time_ns as i128 - self.start_ns as i128).div_euclid(self.width_ns as i128);
        (self.start_ns as i128 + offset * self.width_ns as i128) as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketStat {
    pub start_ns: i64,
    pub count: u64,
    pub value_count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl BucketStat {
    pub fn empty(start_ns: i64) -> Self {
        Self { start_ns, count: 0, value_count: 0, sum: 0.0, min: 0.0, max: 0.0 }
    }

    pub fn add(&mut self, value: Option<f64>) {
        self.count += 1;
        if let Some(v) = value {
            if self.value_count == 0 {
                self.min = v;
                self.max = v;
            } else {
                self.min = self.min.min(v);
                self.max = self.max.max(v);
            }
            self.value_count += 1;
            self.sum += v;
        }
    }
}
