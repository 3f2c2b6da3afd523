//! Request limits and shape checks against the namespace's config: key,
//! value, batch and page sizes, TTLs, ranges and required fields. A request
//! refused here has written nothing; the error names the field to fix.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply, Request};
use crate::config::Limits;
use crate::pb::{kv, ts};
use crate::time::{duration_to_ns, timestamp_to_ns};
use crate::PrismError;

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("{field} must not be empty")]
    Empty { field: String },
    #[error("{field} is {size} {unit}, over the namespace limit of {limit} ({limit_name})")]
    TooLarge { field: String, size: usize, limit: usize, unit: &'static str, limit_name: &'static str },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl LimitError {
    pub fn field(&self) -> &str {
        match self {
            LimitError::Empty { field }
            | LimitError::TooLarge { field, .. }
            | LimitError::Invalid { field, .. } => field,
        }
    }
}

impl From<LimitError> for PrismError {
    fn from(err: LimitError) -> Self {
        PrismError::invalid(err.field(), err.to_string())
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> LimitError {
    LimitError::Invalid { field: field.into(), message: message.into() }
}

fn check_key(field: &str, key: &[u8], limits: &Limits) -> Result<(), LimitError> {
    if key.is_empty() {
        return Err(LimitError::Empty { field: field.into() });
    }
    if key.len() > limits.max_key_bytes {
        return Err(LimitError::TooLarge {
            field: field.into(),
            size: key.len(),
            limit: limits.max_key_bytes,
            unit: "bytes",
            limit_name: "max_key_bytes",
        });
    }
    Ok(())
}

fn check_value(field: &str, value: &[u8], limits: &Limits) -> Result<(), LimitError> {
    if value.len() > limits.max_value_bytes {
        return Err(LimitError::TooLarge {
            field: field.into(),
            size: value.len(),
            limit: limits.max_value_bytes,
            unit: "bytes",
            limit_name: "max_value_bytes",
        });
    }
    Ok(())
}

fn check_batch(field: &str, len: usize, limits: &Limits) -> Result<(), LimitError> {
    if len == 0 {
        return Err(LimitError::Empty { field: field.into() });
    }
    if len > limits.max_batch_items {
        return Err(LimitError::TooLarge {
            field: field.into(),
            size: len,
            limit: limits.max_batch_items,
            unit: "items",
            limit_name: "max_batch_items",
        });
    }
    Ok(())
}

fn check_ttl(field: &str, ttl: Option<&prost_types::Duration>) -> Result<(), LimitError> {
    if let Some(ttl) = ttl {
        if duration_to_ns(ttl) < 0 {
            return Err(invalid(field, "must not be negative (omit it for no expiry)"));
        }
    }
    Ok(())
}

fn check_conditions(field: &str, if_absent: bool, if_version: u64) -> Result<(), LimitError> {
    if if_absent && if_version > 0 {
        return Err(invalid(field, "set if_absent or if_version, not both"));
    }
    Ok(())
}

fn check_page(limit: u32, limit_bytes: u64, limits: &Limits) -> Result<(), LimitError> {
    if limit as usize > limits.max_page_items {
        return Err(LimitError::TooLarge {
            field: "limit".into(),
            size: limit as usize,
            limit: limits.max_page_items,
            unit: "items",
            limit_name: "max_page_items",
        });
    }
    if limit_bytes as usize > limits.max_page_bytes {
        return Err(LimitError::TooLarge {
            field: "limit_bytes".into(),
            size: limit_bytes as usize,
            limit: limits.max_page_bytes,
            unit: "bytes",
            limit_name: "max_page_bytes",
        });
    }
    Ok(())
}

fn check_time_range(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Result<(), LimitError> {
    if let (Some(start), Some(end)) = (start, end) {
        if timestamp_to_ns(start) > timestamp_to_ns(end) {
            return Err(invalid("start", "start is after end; the range is [start, end)"));
        }
    }
    Ok(())
}

fn check_series(series_id: &str) -> Result<(), LimitError> {
    if series_id.is_empty() {
        return Err(LimitError::Empty { field: "series_id".into() });
    }
    Ok(())
}

fn check_event(i: usize, event: &ts::Event, limits: &Limits) -> Result<(), LimitError> {
    let field = |name: &str| format!("events[{i}].{name}");
    if event.series_id.is_empty() {
        return Err(LimitError::Empty { field: field("series_id") });
    }
    check_key(&field("series_id"), event.series_id.as_bytes(), limits)?;
    if event.event_time.is_none() {
        return Err(invalid(field("event_time"), "is required"));
    }
    if event.event_id.is_empty() {
        return Err(invalid(
            field("event_id"),
            "must not be empty: (series, event time, event id) makes appends idempotent",
        ));
    }
    check_value(&field("payload"), &event.payload, limits)
}

fn check_kv_token(token: Option<&kv::IdempotencyToken>) -> Result<(), LimitError> {
    match token {
        Some(token) if token.id.is_empty() => Err(LimitError::Empty { field: "idempotency_token.id".into() }),
        _ => Ok(()),
    }
}

/// Validates a request against its namespace's limits.
pub fn check(request: &Request, limits: &Limits) -> Result<(), LimitError> {
    match request {
        Request::Get(r) => check_key("key", &r.key, limits),
        Request::Exists(r) => check_key("key", &r.key, limits),
        Request::BatchGet(r) => {
            check_batch("keys", r.keys.len(), limits)?;
            r.keys.iter().enumerate().try_for_each(|(i, k)| check_key(&format!("keys[{i}]"), k, limits))
        }
        Request::Put(r) => {
            check_key("key", &r.key, limits)?;
            check_value("value", &r.value, limits)?;
            check_ttl("ttl", r.ttl.as_ref())?;
            check_conditions("if_version", r.if_absent, r.if_version)?;
            check_kv_token(r.idempotency_token.as_ref())
        }
        Request::BatchPut(r) => {
            check_batch("entries", r.entries.len(), limits)?;
            for (i, e) in r.entries.iter().enumerate() {
                check_key(&format!("entries[{i}].key"), &e.key, limits)?;
                check_value(&format!("entries[{i}].value"), &e.value, limits)?;
                check_ttl(&format!("entries[{i}].ttl"), e.ttl.as_ref())?;
                check_conditions(&format!("entries[{i}].if_version"), e.if_absent, e.if_version)?;
            }
            let mut keys: Vec<&[u8]> = r.entries.iter().map(|e| e.key.as_slice()).collect();
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return Err(invalid("entries", "a key appears twice in one batch"));
            }
            check_kv_token(r.idempotency_token.as_ref())
        }
        Request::Delete(r) => {
            check_key("key", &r.key, limits)?;
            check_kv_token(r.idempotency_token.as_ref())
        }
        Request::BatchDelete(r) => {
            check_batch("keys", r.keys.len(), limits)?;
            r.keys.iter().enumerate().try_for_each(|(i, k)| check_key(&format!("keys[{i}]"), k, limits))?;
            check_kv_token(r.idempotency_token.as_ref())
        }
        Request::Scan(r) => {
            check_page(r.limit, r.limit_bytes, limits)?;
            if let Some(kv::scan_request::Selector::Range(range)) = &r.selector {
                if !range.end.is_empty() && range.start > range.end {
                    return Err(invalid("range.start", "start is after end; the range is [start, end)"));
                }
            }
            Ok(())
        }
        Request::Append(r) => {
            check_batch("events", r.events.len(), limits)?;
            r.events.iter().enumerate().try_for_each(|(i, e)| check_event(i, e, limits))
        }
        Request::Query(r) => {
            check_series(&r.series_id)?;
            check_page(r.limit, 0, limits)?;
            check_time_range(r.start.as_ref(), r.end.as_ref())
        }
        Request::Aggregate(r) => {
            check_series(&r.series_id)?;
            if r.start.is_none() || r.end.is_none() {
                return Err(invalid("start", "start and end are both required for Aggregate"));
            }
            check_time_range(r.start.as_ref(), r.end.as_ref())?;
            let width = r.bucket_width.as_ref().map(duration_to_ns).unwrap_or(0);
            if width <= 0 {
                return Err(invalid("bucket_width", "must be a positive duration"));
            }
            // In i128: two far-apart i64 nanosecond bounds overflow an i64 difference.
            let span = timestamp_to_ns(r.end.as_ref().expect("checked")) as i128
                - timestamp_to_ns(r.start.as_ref().expect("checked")) as i128;
            if span / width > MAX_BUCKETS {
                return Err(invalid(
                    "bucket_width",
                    format!("the range holds more than {MAX_BUCKETS} buckets; widen the buckets"),
                ));
            }
            Ok(())
        }
        Request::Tail(r) => check_series(&r.series_id),
    }
}

/// Upper bound on buckets per Aggregate call, to bound response size.
pub const MAX_BUCKETS: i128 = 100_000;

#[derive(Clone, Default)]
pub struct LimitsLayer;

impl<S> Layer<S> for LimitsLayer {
    type Service = EnforceLimits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EnforceLimits { inner }
    }
}

#[derive(Clone)]
pub struct EnforceLimits<S> {
    inner: S,
}

impl<S> Service<Call> for EnforceLimits<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture>,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> CallFuture {
        let Some(namespace) = call.namespace.as_ref() else {
            let err = PrismError::Internal("limits layer reached without a namespace".into());
            return Box::pin(async move { Err(err) });
        };
        match check(&call.request, &namespace.limits) {
            Ok(()) => self.inner.call(call),
            Err(err) => Box::pin(async move { Err(err.into()) }),
        }
    }
}
