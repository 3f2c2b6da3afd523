//! In-process metrics with lock-free counters, rendered as Prometheus text.
//! Per namespace and method: requests, errors by gRPC code, and a latency
//! histogram. The lookup takes a read lock on a small map; counters are atomics.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tonic::Code;

use crate::call::Method;

/// Histogram bucket upper bounds in microseconds.
const BUCKETS_US: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 10_000_000,
];
const CODES: usize = 17;

#[derive(Default)]
struct Series {
    requests: AtomicU64,
    errors: [AtomicU64; CODES],
    buckets: [AtomicU64; BUCKETS_US.len()],
    sum_us: AtomicU64,
}

type MethodSeries = [Series; Method::ALL.len()];

/// Counters of the security layers (ADR-010), across namespaces.
#[derive(Default)]
pub struct SecurityCounters {
    /// Audit lines written.
    pub audit_records: AtomicU64,
    /// Audit records lost: queue full, or the file could not be written.
    pub audit_dropped: AtomicU64,
    pub authz_denied: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl SecurityCounters {
    fn render(&self, out: &mut String) {
        let counters = [
            ("prism_audit_records_total", "Audit lines written.", &self.audit_records),
            (
                "prism_audit_dropped_total",
                "Audit records lost (queue full or write failure).",
                &self.audit_dropped,
            ),
            ("prism_authz_denied_total", "Data requests refused by an access policy.", &self.authz_denied),
            ("prism_rate_limited_total", "Data requests refused by a rate limit.", &self.rate_limited),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    namespaces: RwLock<HashMap<String, Arc<MethodSeries>>>,
    pub security: SecurityCounters,
}

fn method_index(method: Method) -> usize {
    Method::ALL.iter().position(|m| *m == method).expect("every method is listed")
}

/// The gRPC code name, e.g. `PERMISSION_DENIED` (metrics labels, audit lines).
pub fn code_label(code: i32) -> &'static str {
    match Code::from_i32(code) {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn series(&self, namespace: &str) -> Arc<MethodSeries> {
        if let Some(series) = self.namespaces.read().get(namespace) {
            return series.clone();
        }
        self.namespaces.write().entry(namespace.to_string()).or_default().clone()
    }

    pub fn record(&self, namespace: &str, method: Method, code: Code, elapsed: Duration) {
        let all = self.series(namespace);
        let series = &all[method_index(method)];
        series.requests.fetch_add(1, Ordering::Relaxed);
        if code != Code::Ok {
            series.errors[code as usize].fetch_add(1, Ordering::Relaxed);
        }
        let us = elapsed.as_micros() as u64;
        series.sum_us.fetch_add(us, Ordering::Relaxed);
        if let Some(i) = BUCKETS_US.iter().position(|b| us <= *b) {
            series.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests recorded for a namespace and method (tests and the admin use it).
    pub fn requests(&self, namespace: &str, method: Method) -> u64 {
        self.namespaces
            .read()
            .get(namespace)
            .map_or(0, |s| s[method_index(method)].requests.load(Ordering::Relaxed))
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let namespaces = self.namespaces.read();
        let mut names: Vec<&String> = namespaces.keys().collect();
        names.sort();
        let _ = writeln!(out, "# HELP prism_requests_total Data requests by namespace and method.");
        let _ = writeln!(out, "# TYPE prism_requests_total counter");
        for ns in &names {
            for (i, method) in Method::ALL.iter().enumerate() {
                let n = namespaces[*ns][i].requests.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "prism_requests_total{{namespace=\"{ns}\",method=\"{}\"}} {n}",
                        method.name()
                    );
                }
            }
        }
        let _ = writeln!(out, "# HELP prism_request_errors_total Failed data requests by gRPC code.");
        let _ = writeln!(out, "# TYPE prism_request_errors_total counter");
        for ns in &names {
            for (i, method) in Method::ALL.iter().enumerate() {
                for (code, counter) in namespaces[*ns][i].errors.iter().enumerate() {
                    let n = counter.load(Ordering::Relaxed);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "prism_request_errors_total{{namespace=\"{ns}\",method=\"{}\",code=\"{}\"}} {n}",
                            method.name(),
                            code_label(code as i32)
                        );
                    }
                }
            }
        }
        let _ = writeln!(out, "# HELP prism_request_duration_seconds Data request latency.");
        let _ = writeln!(out, "# TYPE prism_request_duration_seconds histogram");
        for ns in &names {
            for (i, method) in Method::ALL.iter().enumerate() {
                let series = &namespaces[*ns][i];
                let total = series.requests.load(Ordering::Relaxed);
                if total == 0 {
                    continue;
                }
                let labels = format!("namespace=\"{ns}\",method=\"{}\"", method.name());
                let mut cumulative = 0;
                for (b, bound) in BUCKETS_US.iter().enumerate() {
                    cumulative += series.buckets[b].load(Ordering::Relaxed);
                    let le = *bound as f64 / 1e6;
                    let _ = writeln!(
                        out,
                        "prism_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                    );
                }
                let _ =
                    writeln!(out, "prism_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}");
                let sum = series.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
                let _ = writeln!(out, "prism_request_duration_seconds_sum{{{labels}}} {sum}");
                let _ = writeln!(out, "prism_request_duration_seconds_count{{{labels}}} {total}");
            }
        }
        self.security.render(&mut out);
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}
