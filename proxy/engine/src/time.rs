//! Time conversions between protobuf well-known types and the integers the
//! backends store (nanoseconds for event times, milliseconds for expiry).

use std::time::{SystemTime, UNIX_EPOCH};

use prost_types::{Duration, Timestamp};

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Nanoseconds since the epoch; saturates outside the i64 range (years ±292).
pub fn timestamp_to_ns(ts: &Timestamp) -> i64 {
    (ts.seconds as i128 * 1_000_000_000 + ts.nanos as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

pub fn timestamp_to_ms(ts: &Timestamp) -> i64 {
    timestamp_to_ns(ts).div_euclid(1_000_000)
}

pub fn ns_to_timestamp(ns: i64) -> Timestamp {
    Timestamp { seconds: ns.div_euclid(1_000_000_000), nanos: ns.rem_euclid(1_000_000_000) as i32 }
}

pub fn ms_to_timestamp(ms: i64) -> Timestamp {
    ns_to_timestamp(ms.saturating_mul(1_000_000))
}

/// Signed nanoseconds of a duration (negative durations stay negative).
pub fn duration_to_ns(d: &Duration) -> i128 {
    d.seconds as i128 * 1_000_000_000 + d.nanos as i128
}
