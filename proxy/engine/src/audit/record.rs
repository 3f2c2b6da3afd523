//! One audit record: what the data path captures (cheap: reference counts, a
//! copy of the key, integers) and the JSON line the writer thread makes of it.
//! The key is fingerprinted on the writer thread; values are never captured.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tonic::Code;

use super::fingerprint::Fingerprinter;
use crate::call::Method;
use crate::identity::Identity;
use crate::metrics::code_label;
use crate::registry::Namespace;

/// Who made the access.
#[derive(Debug, Clone)]
pub enum Principal {
    Caller(Arc<Identity>),
    /// Authentication failed; there is no identity to name.
    Unauthenticated,
}

/// The namespace the request named: the live entry when it exists (no copy), else
/// the name as sent, cut to a bounded length.
#[derive(Debug, Clone)]
pub enum NamespaceName {
    Known(Arc<Namespace>),
    Other(Box<str>),
}

/// Longest unknown namespace name recorded (valid names are at most 128 characters).
const MAX_OTHER_NAME: usize = 128;

impl NamespaceName {
    pub fn other(name: &str) -> Self {
        let mut end = name.len().min(MAX_OTHER_NAME);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        NamespaceName::Other(name[..end].into())
    }

    fn as_str(&self) -> &str {
        match self {
            NamespaceName::Known(ns) => &ns.name,
            NamespaceName::Other(name) => name,
        }
    }
}

/// Bytes to fingerprint (a key, a scan prefix, a series id); short ones inline so
/// the common case does not allocate.
#[derive(Clone, Default)]
pub enum Subject {
    #[default]
    None,
    Inline(u8, [u8; Subject::INLINE]),
    Heap(Box<[u8]>),
}

impl Subject {
    /// Keys up to this size (most keys) are copied without an allocation.
    const INLINE: usize = 126;

    /// Empty input is no subject (an empty scan prefix touches the whole namespace).
    pub fn of(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            Subject::None
        } else if bytes.len() <= Self::INLINE {
            let mut inline = [0u8; Self::INLINE];
            inline[..bytes.len()].copy_from_slice(bytes);
            Subject::Inline(bytes.len() as u8, inline)
        } else {
            Subject::Heap(bytes.into())
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Subject::None => None,
            Subject::Inline(len, buf) => Some(&buf[..*len as usize]),
            Subject::Heap(bytes) => Some(bytes),
        }
    }
}

// Never print a raw key, even in debug output.
impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bytes() {
            None => f.write_str("Subject::None"),
            Some(bytes) => write!(f, "Subject({} bytes)", bytes.len()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    /// When the call reached the audit layer; the writer turns it into wall-clock
    /// time, so the data path reads the clock once per call, not twice.
    pub at: Instant,
    pub principal: Principal,
    pub namespace: NamespaceName,
    pub method: Method,
    pub subject: Subject,
    pub items: u64,
    pub code: Code,
    pub latency_us: u64,
    /// Why authentication failed (unauthenticated records only).
    pub reason: Option<String>,
    /// The client's address (unauthenticated records only: there is no principal).
    pub peer: Option<std::net::SocketAddr>,
}

/// Turns records into JSON lines on the writer thread: fingerprints keys and
/// maps `Instant`s to wall-clock time through an anchor refreshed per batch.
pub struct LineFormat {
    fingerprints: Fingerprinter,
    anchor: Instant,
    anchor_ms: i64,
    /// `YYYY-MM-DDTHH:MM:SS.` of the last second written: lines of one second
    /// share it, so the calendar arithmetic runs once a second, not once a line.
    second: std::cell::Cell<(i64, [u8; 20])>,
}

impl LineFormat {
    pub fn new(fingerprints: Fingerprinter) -> Self {
        let second = std::cell::Cell::new((i64::MIN, [0u8; 20]));
        let mut format = Self { fingerprints, anchor: Instant::now(), anchor_ms: 0, second };
        format.refresh();
        format
    }

    /// Re-reads the wall clock (it may have been stepped since).
    pub fn refresh(&mut self) {
        self.anchor = Instant::now();
        self.anchor_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    }

    fn unix_ms(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.anchor) {
            Some(after) => self.anchor_ms + after.as_millis() as i64,
            None => self.anchor_ms - self.anchor.duration_since(at).as_millis() as i64,
        }
    }

    /// Appends `record` as one JSON line (with its newline) to `out`.
    pub fn write(&self, record: &Record, out: &mut Vec<u8>) {
        let ms = self.unix_ms(record.at);
        let (second, mut prefix) = self.second.get();
        if second != ms.div_euclid(1000) {
            let mut full = Vec::with_capacity(24);
            write_rfc3339_ms(&mut full, ms);
            prefix.copy_from_slice(&full[..20]);
            self.second.set((ms.div_euclid(1000), prefix));
        }
        let mut ts = [0u8; 24];
        ts[..20].copy_from_slice(&prefix);
        let millis = ms.rem_euclid(1000);
        ts[20] = b'0' + (millis / 100) as u8;
        ts[21] = b'0' + (millis / 10 % 10) as u8;
        ts[22] = b'0' + (millis % 10) as u8;
        ts[23] = b'Z';
        record.write_json(out, &self.fingerprints, &ts);
    }
}

impl Record {
    fn write_json(&self, out: &mut Vec<u8>, fingerprints: &Fingerprinter, ts: &[u8; 24]) {
        out.extend_from_slice(b"{\"ts\":\"");
        out.extend_from_slice(ts);
        out.extend_from_slice(b"\",\"principal\":");
        let principal = match &self.principal {
            Principal::Caller(identity) => identity.principal.as_str(),
            Principal::Unauthenticated => "unauthenticated",
        };
        write_str(out, principal);
        out.extend_from_slice(b",\"namespace\":");
        write_str(out, self.namespace.as_str());
        out.extend_from_slice(b",\"method\":\"");
        out.extend_from_slice(self.method.name().as_bytes());
        out.push(b'"');
        if let Some(bytes) = self.subject.bytes() {
            out.extend_from_slice(b",\"key_fingerprint\":\"");
            fingerprints.write_hex(out, bytes);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"items\":");
        write_u64(out, self.items);
        out.extend_from_slice(b",\"code\":\"");
        out.extend_from_slice(code_label(self.code as i32).as_bytes());
        out.extend_from_slice(b"\",\"latency_us\":");
        write_u64(out, self.latency_us);
        if let Some(reason) = &self.reason {
            out.extend_from_slice(b",\"reason\":");
            write_str(out, reason);
        }
        if let Some(peer) = &self.peer {
            out.extend_from_slice(b",\"peer\":");
            write_str(out, &peer.to_string());
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A JSON string; names that need no escaping (the usual case) are copied as they are.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Serializing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `width` digits of `n`, zero-padded (n < 10^width).
fn write_padded(out: &mut Vec<u8>, n: i64, width: u32) {
    let mut divisor = 10i64.pow(width - 1);
    while divisor > 0 {
        out.push(b'0' + (n / divisor % 10) as u8);
        divisor /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), from milliseconds since the epoch (years 0-9999).
pub fn write_rfc3339_ms(out: &mut Vec<u8>, ms: i64) {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    let parts: [(i64, u32, u8); 7] = [
        (year.clamp(0, 9999), 4, b'-'),
        (i64::from(month), 2, b'-'),
        (i64::from(day), 2, b'T'),
        (secs / 3600, 2, b':'),
        (secs / 60 % 60, 2, b':'),
        (secs % 60, 2, b'.'),
        (ms_of_day % 1000, 3, b'Z'),
    ];
    for (n, width, separator) in parts {
        write_padded(out, n, width);
        out.push(separator);
    }
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> String {
        let mut out = Vec::new();
        write_rfc3339_ms(&mut out, ms);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(ts(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(ts(1_700_000_000_999), "2023-11-14T22:13:20.999Z");
        assert_eq!(ts(4_102_444_799_000), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn lines_of_one_second_share_the_cached_prefix_and_the_next_second_renews_it() {
        let mut format = LineFormat::new(Fingerprinter::with_key(b"k"));
        format.anchor_ms = 1_700_000_000_998;
        let line_at = |offset_ms: u64| {
            let record = Record {
                at: format.anchor + std::time::Duration::from_millis(offset_ms),
                principal: Principal::Unauthenticated,
                namespace: NamespaceName::other("n"),
                method: Method::KvGet,
                subject: Subject::None,
                items: 0,
                code: Code::Ok,
                latency_us: 0,
                reason: None,
                peer: None,
            };
            let mut out = Vec::new();
            format.write(&record, &mut out);
            let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
            json["ts"].as_str().unwrap().to_string()
        };
        assert_eq!(line_at(0), "2023-11-14T22:13:20.998Z");
        assert_eq!(line_at(1), "2023-11-14T22:13:20.999Z");
        assert_eq!(line_at(2), "2023-11-14T22:13:21.000Z");
        assert_eq!(line_at(1), "2023-11-14T22:13:20.999Z", "an older record after a newer one");
        assert_eq!(line_at(60_002), "2023-11-14T22:14:21.000Z");
    }

    #[test]
    fn lines_escape_names_and_never_hold_the_key() {
        let identity = Identity { principal: "al\"ice".into(), ..Identity::anonymous() };
        let record = Record {
            at: Instant::now(),
            principal: Principal::Caller(Arc::new(identity)),
            namespace: NamespaceName::other("orders"),
            method: Method::KvPut,
            subject: Subject::of(b"secret-key"),
            items: 1,
            code: Code::PermissionDenied,
            latency_us: 7,
            reason: None,
            peer: None,
        };
        let mut out = Vec::new();
        LineFormat::new(Fingerprinter::with_key(b"k")).write(&record, &mut out);
        let line = String::from_utf8(out).unwrap();
        assert!(line.ends_with("}\n") && !line.contains("secret-key"), "{line}");
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["principal"], "al\"ice");
        assert_eq!(json["method"], "KeyValue/Put");
        assert_eq!(json["code"], "PERMISSION_DENIED");
        assert_eq!(json["key_fingerprint"].as_str().unwrap().len(), 32);
        assert_eq!(json["latency_us"], 7);
        assert_eq!(json["items"], 1);
        let ts = json["ts"].as_str().unwrap();
        assert!(ts.starts_with("20") && ts.len() == 24, "{ts}");
    }

    #[test]
    fn long_subjects_go_to_the_heap_and_unknown_names_are_cut() {
        assert!(matches!(Subject::of(&[7u8; Subject::INLINE]), Subject::Inline(126, _)));
        assert!(matches!(Subject::of(&[7u8; Subject::INLINE + 1]), Subject::Heap(_)));
        assert!(matches!(Subject::of(b""), Subject::None));
        let NamespaceName::Other(name) = NamespaceName::other(&"é".repeat(100)) else { unreachable!() };
        assert!(name.len() <= MAX_OTHER_NAME);
    }
}
