//! The audit layer and log: one JSON line per call with who, where, what, a
//! keyed fingerprint of the key (never the key or a value), item count, code and
//! latency; rotation at max_bytes; and the full-queue rule (audit_required
//! namespaces refuse, others serve and count the drop).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{event, get_request, identity, memory_ns, put, Harness};
use prism_engine::audit::{AuditSink, Fingerprinter};
use prism_engine::call::{Call, Pattern, Reply, Request};
use prism_engine::config::{AuditConfig, NamespaceConfig, ProxyConfig, ServerConfig};
use prism_engine::layers::audit::AuditLayer;
use prism_engine::layers::authz::AuthzLayer;
use prism_engine::pb::kv::key_value_client::KeyValueClient;
use prism_engine::pb::{kv, ts};
use prism_engine::security::Security;
use prism_engine::server::Server;
use prism_engine::PrismError;
use serde_json::{json, Value};

const FP_KEY: &[u8] = b"audit-test-key";

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("prism-audit-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn log(&self) -> PathBuf {
        self.0.join("audit.log")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn audit_config(path: &Path) -> AuditConfig {
    AuditConfig { path: path.display().to_string(), ..AuditConfig::default() }
}

/// The full stack with authz and an audit log whose fingerprints use `FP_KEY`.
fn harness(configs: &[NamespaceConfig], config: AuditConfig) -> (Harness, Arc<AuditSink>) {
    let mut sink = None;
    let h = Harness::with_security(configs, |registry, metrics| {
        let opened = AuditSink::with_fingerprints(&config, Fingerprinter::with_key(FP_KEY), metrics.clone())
            .expect("open the audit log");
        sink = Some(opened.clone());
        Security {
            audit: AuditLayer::new(opened, registry.clone()),
            authz: AuthzLayer::new(metrics.clone()),
            ..Security::disabled()
        }
    });
    (h, sink.unwrap())
}

fn namespaces() -> Vec<NamespaceConfig> {
    let mut locked = memory_ns("locked", &[Pattern::KeyValue]);
    locked.access.write = vec!["alice".into()];
    let mut strict = memory_ns("strict", &[Pattern::KeyValue]);
    strict.audit_required = true;
    vec![memory_ns("kv", &[Pattern::KeyValue]), memory_ns("ts", &[Pattern::TimeSeries]), locked, strict]
}

fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}"))).collect()
}

fn fingerprint(data: &[u8]) -> String {
    Fingerprinter::with_key(FP_KEY).hex(data)
}

#[tokio::test]
async fn every_call_becomes_a_line_without_keys_or_values() {
    let dir = TempDir::new("lines");
    let (h, sink) = harness(&namespaces(), audit_config(&dir.log()));
    let alice = identity("alice", &[], json!({}), None);
    let bob = identity("bob", &[], json!({}), None);

    h.call_as(&alice, Request::Put(put("kv", "customer-4711", "sekrit-value-42"))).await.unwrap();
    h.call_as(&alice, get_request("kv", "customer-4711")).await.unwrap();
    let entries = ["batch-first-key", "batch-second-key", "batch-third-key"].map(|k| kv::PutEntry {
        key: k.into(),
        value: b"batch-value".to_vec(),
        ..Default::default()
    });
    let batch =
        kv::BatchPutRequest { namespace: "kv".into(), entries: entries.to_vec(), ..Default::default() };
    h.call_as(&alice, Request::BatchPut(batch)).await.unwrap();
    let scan = kv::ScanRequest {
        namespace: "kv".into(),
        selector: Some(kv::scan_request::Selector::Prefix(b"batch-".to_vec())),
        ..Default::default()
    };
    h.call_as(&alice, Request::Scan(scan)).await.unwrap();
    let events =
        vec![event("cpu-host-9", 1, "e1", Some(1.0), &[]), event("cpu-host-9", 2, "e2", Some(2.0), &[])];
    h.call_as(&alice, Request::Append(ts::AppendRequest { namespace: "ts".into(), events })).await.unwrap();
    let query =
        ts::QueryRequest { namespace: "ts".into(), series_id: "cpu-host-9".into(), ..Default::default() };
    h.call_as(&alice, Request::Query(query)).await.unwrap();
    assert!(h.call_as(&bob, Request::Put(put("locked", "bobs-key", "bobs-value"))).await.is_err());
    assert!(h.call_as(&bob, get_request("no-such-ns", "k")).await.is_err());
    assert!(sink.flush(), "the writer answers a flush");

    let text = std::fs::read_to_string(dir.log()).unwrap();
    for secret in
        ["customer-4711", "sekrit-value-42", "batch-first-key", "batch-value", "bobs-key", "bobs-value"]
    {
        assert!(!text.contains(secret), "'{secret}' leaked into the audit log:\n{text}");
    }
    let lines = lines(&dir.log());
    assert_eq!(lines.len(), 8, "{text}");
    let by_method: Vec<&str> = lines.iter().map(|l| l["method"].as_str().unwrap()).collect();
    assert_eq!(
        by_method,
        [
            "KeyValue/Put",
            "KeyValue/Get",
            "KeyValue/BatchPut",
            "KeyValue/Scan",
            "TimeSeries/Append",
            "TimeSeries/Query",
            "KeyValue/Put",
            "KeyValue/Get"
        ]
    );
    let (put_line, get_line) = (&lines[0], &lines[1]);
    assert_eq!(put_line["principal"], "alice");
    assert_eq!(put_line["namespace"], "kv");
    assert_eq!(put_line["code"], "OK");
    assert_eq!(put_line["items"], 1);
    assert_eq!(put_line["key_fingerprint"], fingerprint(b"customer-4711"));
    assert_eq!(get_line["key_fingerprint"], put_line["key_fingerprint"], "one key, one fingerprint");
    assert_eq!(get_line["items"], 1, "the get found the item");
    assert!(put_line["latency_us"].is_u64());
    let ts_text = put_line["ts"].as_str().unwrap();
    assert!(ts_text.len() == 24 && ts_text.ends_with('Z') && &ts_text[19..20] == ".", "{ts_text}");

    assert_eq!(lines[2]["key_fingerprint"], fingerprint(b"batch-first-key"), "first key of the batch");
    assert_eq!(lines[2]["items"], 3);
    assert_eq!(lines[3]["key_fingerprint"], fingerprint(b"batch-"), "scan prefix");
    assert_eq!(lines[3]["items"], 3, "items the scan returned");
    assert_eq!(lines[4]["key_fingerprint"], fingerprint(b"cpu-host-9"), "series id");
    assert_eq!(lines[4]["items"], 2);
    assert_eq!(lines[5]["items"], 2, "events the query returned");
    assert_eq!((&lines[6]["principal"], &lines[6]["code"]), (&json!("bob"), &json!("PERMISSION_DENIED")));
    assert_eq!(lines[6]["namespace"], "locked");
    assert_eq!((&lines[7]["namespace"], &lines[7]["code"]), (&json!("no-such-ns"), &json!("NOT_FOUND")));

    assert_eq!(h.metrics.security.audit_records.load(Ordering::Relaxed), 8);
    assert_eq!(h.metrics.security.audit_dropped.load(Ordering::Relaxed), 0);
    let metrics = h.metrics.render(&[]);
    assert!(metrics.contains("prism_audit_records_total 8\n"), "{metrics}");
}

#[tokio::test]
async fn a_full_queue_refuses_audit_required_namespaces_and_drops_for_others() {
    let dir = TempDir::new("full");
    let config = AuditConfig { channel_capacity: 1, ..audit_config(&dir.log()) };
    let (h, sink) = harness(&namespaces(), config);
    let alice = identity("alice", &[], json!({}), None);

    // Hold the only slot, as a stalled writer would leave the queue.
    let held = sink.try_reserve().expect("one free slot");
    let refused = h.call_as(&alice, Request::Put(put("strict", "refused-key", "v"))).await;
    match refused {
        Err(PrismError::Unavailable(message)) => {
            assert_eq!(message, "audit log is behind; namespace 'strict' requires auditing, retry")
        }
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    assert!(
        h.call_as(&alice, Request::Put(put("kv", "served-key", "v"))).await.is_ok(),
        "served, not audited"
    );
    assert_eq!(h.metrics.security.audit_dropped.load(Ordering::Relaxed), 2);

    drop(held);
    // The refused put did nothing; the served one did. With one slot, each record
    // must reach the writer before the next call can reserve.
    let found = |reply: Reply| matches!(reply, Reply::Get(r) if r.found);
    assert!(!found(h.call_as(&alice, get_request("strict", "refused-key")).await.unwrap()));
    assert!(sink.flush());
    assert!(found(h.call_as(&alice, get_request("kv", "served-key")).await.unwrap()));
    assert!(sink.flush());
    let lines = lines(&dir.log());
    let methods: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["namespace"].as_str().unwrap(), l["method"].as_str().unwrap())).collect();
    assert_eq!(methods, [("strict", "KeyValue/Get"), ("kv", "KeyValue/Get")], "only the audited calls");
}

#[tokio::test]
async fn the_log_rotates_at_max_bytes_keeping_keep_files() {
    let dir = TempDir::new("rotate");
    let config = AuditConfig { max_bytes: 1000, keep: 2, ..audit_config(&dir.log()) };
    let (h, sink) = harness(&namespaces(), config);
    let alice = identity("alice", &[], json!({}), None);
    for i in 0..40 {
        h.call_as(&alice, get_request("kv", &format!("key-{i}"))).await.unwrap();
    }
    assert!(sink.flush());

    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", dir.log().display()));
    for path in [dir.log(), rotated(1), rotated(2)] {
        let size = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).len();
        assert!(size > 0 && size <= 1000, "{}: {size} bytes", path.display());
    }
    assert!(!rotated(3).exists(), "only `keep` old files are kept");
    let newest = lines(&dir.log());
    let last = newest.last().expect("the live file has the latest lines");
    assert_eq!(last["key_fingerprint"], fingerprint(b"key-39"));
    let kept = newest.len() + lines(&rotated(1)).len() + lines(&rotated(2)).len();
    assert!(kept < 40, "the oldest file was dropped: {kept} lines kept");
}

#[tokio::test]
async fn failed_authentication_is_recorded_as_unauthenticated() {
    let dir = TempDir::new("unauth");
    let (_h, sink) = harness(&namespaces(), audit_config(&dir.log()));
    let call = Call::new(get_request("kv", "probe-key"), None);
    sink.record_unauthenticated(&call, &PrismError::Unauthenticated("token expired".into()));
    assert!(sink.flush());
    let lines = lines(&dir.log());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["principal"], "unauthenticated");
    assert_eq!(lines[0]["code"], "UNAUTHENTICATED");
    assert_eq!(lines[0]["reason"], "token expired");
    assert_eq!(lines[0]["key_fingerprint"], fingerprint(b"probe-key"));
}

#[test]
fn bad_audit_settings_name_the_field() {
    let metrics = Arc::new(prism_engine::metrics::Metrics::new());
    let dir = TempDir::new("bad");
    let zero = AuditConfig { channel_capacity: 0, ..audit_config(&dir.log()) };
    let err = AuditSink::open(&zero, metrics.clone()).err().expect("refused");
    assert!(err.to_string().contains("server.audit.channel_capacity"), "{err}");
    let file_as_dir =
        AuditConfig { path: dir.log().join("x").display().to_string(), ..AuditConfig::default() };
    std::fs::write(dir.log(), b"").unwrap();
    let err = AuditSink::open(&file_as_dir, metrics).err().expect("refused");
    assert!(err.to_string().contains("cannot open audit log"), "{err}");
}

#[test]
fn the_server_writes_the_log_and_flushes_it_on_shutdown() {
    let dir = TempDir::new("server");
    let config = ProxyConfig {
        server: ServerConfig {
            listen: "127.0.0.1:0".into(),
            metrics_listen: "127.0.0.1:0".into(),
            worker_threads: 1,
            audit: audit_config(&dir.log()),
            ..Default::default()
        },
        namespaces: vec![memory_ns("default", &[Pattern::KeyValue])],
    };
    let mut server = Server::start(config, None).expect("start");
    let url = format!("http://{}", server.grpc_addr);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut client = KeyValueClient::connect(url).await.expect("connect");
        let put = kv::PutRequest {
            namespace: "default".into(),
            key: b"grpc-key".to_vec(),
            value: b"grpc-value".to_vec(),
            ..Default::default()
        };
        client.put(put).await.expect("put");
    });
    drop(runtime); // closes the client's connection, so shutdown need not wait for it
    server.shutdown(Duration::from_secs(2));
    let text = std::fs::read_to_string(dir.log()).unwrap();
    assert!(!text.contains("grpc-key") && !text.contains("grpc-value"), "{text}");
    let lines = lines(&dir.log());
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!((&lines[0]["method"], &lines[0]["principal"]), (&json!("KeyValue/Put"), &json!("anonymous")));
}
