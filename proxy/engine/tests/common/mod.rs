//! Helpers shared by the integration tests: namespaces on the memory backend,
//! the full call stack, and small request builders.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use prism_engine::call::{Call, Pattern, Reply, Request};
use prism_engine::config::{Limits, NamespaceConfig, ServerConfig};
use prism_engine::identity::Identity;
use prism_engine::layers::load_shed::LoadShedLayer;
use prism_engine::metrics::Metrics;
use prism_engine::pb::{kv, ts};
use prism_engine::registry::Registry;
use prism_engine::security::Security;
use prism_engine::stack::{self, CallStack};
use prism_engine::tail::TailHub;
use prism_engine::PrismError;
use tower::ServiceExt;

pub fn memory_ns(name: &str, patterns: &[Pattern]) -> NamespaceConfig {
    NamespaceConfig {
        name: name.into(),
        patterns: patterns.to_vec(),
        backend: "memory".into(),
        limits: Limits::default(),
        ..Default::default()
    }
}

pub fn registry(configs: &[NamespaceConfig]) -> Arc<Registry> {
    let registry = Arc::new(Registry::new(None));
    registry.apply(configs).expect("memory namespaces need no plugin host");
    registry
}

/// The full data path over namespaces `kv`, `kv2` (KeyValue) and `ts` (TimeSeries).
pub struct Harness {
    pub stack: CallStack,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    pub tails: Arc<TailHub>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(&[
            memory_ns("kv", &[Pattern::KeyValue]),
            memory_ns("kv2", &[Pattern::KeyValue]),
            memory_ns("ts", &[Pattern::TimeSeries]),
        ])
    }

    pub fn with(configs: &[NamespaceConfig]) -> Self {
        let registry = registry(configs);
        let metrics = Arc::new(Metrics::new());
        let tails = Arc::new(TailHub::new());
        let stack = stack::build(
            &ServerConfig::default(),
            registry.clone(),
            metrics.clone(),
            LoadShedLayer::new(64),
            tails.clone(),
            &Security::disabled(),
        );
        Self { stack, metrics, registry, tails }
    }

    /// The full data path with the security layers `secure` builds from the
    /// harness's registry and metrics (authz, rate-limit and audit tests).
    pub fn with_security(
        configs: &[NamespaceConfig],
        secure: impl FnOnce(&Arc<Registry>, &Arc<Metrics>) -> Security,
    ) -> Self {
        let registry = registry(configs);
        let metrics = Arc::new(Metrics::new());
        let tails = Arc::new(TailHub::new());
        let security = secure(&registry, &metrics);
        let stack = stack::build(
            &ServerConfig::default(),
            registry.clone(),
            metrics.clone(),
            LoadShedLayer::new(64),
            tails.clone(),
            &security,
        );
        Self { stack, metrics, registry, tails }
    }

    /// A call made by `identity`, as if the authn layer had set it.
    pub async fn call_as(&self, identity: &Arc<Identity>, request: Request) -> Result<Reply, PrismError> {
        let mut call = Call::new(request, None);
        call.identity = identity.clone();
        self.stack.clone().oneshot(call).await
    }

    pub async fn call(&self, request: Request) -> Result<Reply, PrismError> {
        self.stack.clone().oneshot(Call::new(request, None)).await
    }

    pub async fn put(&self, request: kv::PutRequest) -> Result<kv::PutResponse, PrismError> {
        match self.call(Request::Put(request)).await? {
            Reply::Put(r) => Ok(r),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    pub async fn get(&self, ns: &str, key: &str) -> kv::GetResponse {
        let request = kv::GetRequest { namespace: ns.into(), key: key.into() };
        match self.call(Request::Get(request)).await.expect("get") {
            Reply::Get(r) => r,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    pub async fn scan(&self, request: kv::ScanRequest) -> Result<kv::ScanResponse, PrismError> {
        match self.call(Request::Scan(request)).await? {
            Reply::Scan(r) => Ok(r),
            other => panic!("unexpected reply {other:?}"),
        }
    }

    pub async fn append(&self, events: Vec<ts::Event>) -> ts::AppendResponse {
        let request = ts::AppendRequest { namespace: "ts".into(), events };
        match self.call(Request::Append(request)).await.expect("append") {
            Reply::Append(r) => r,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    pub async fn query(&self, request: ts::QueryRequest) -> Result<ts::QueryResponse, PrismError> {
        match self.call(Request::Query(request)).await? {
            Reply::Query(r) => Ok(r),
            other => panic!("unexpected reply {other:?}"),
        }
    }
}

/// An identity as the authn layer would build it; `claims` is a JSON object.
pub fn identity(
    principal: &str,
    groups: &[&str],
    claims: serde_json::Value,
    cert: Option<&str>,
) -> Arc<Identity> {
    Arc::new(Identity {
        principal: principal.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        claims: claims.as_object().cloned().unwrap_or_default(),
        cert: cert.map(str::to_string),
    })
}

pub fn put(ns: &str, key: &str, value: &str) -> kv::PutRequest {
    kv::PutRequest { namespace: ns.into(), key: key.into(), value: value.into(), ..Default::default() }
}

pub fn get_request(ns: &str, key: &str) -> Request {
    Request::Get(kv::GetRequest { namespace: ns.into(), key: key.into() })
}

pub fn ts_at(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

pub fn dur(d: Duration) -> prost_types::Duration {
    prost_types::Duration { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }
}

pub fn event(series: &str, seconds: i64, id: &str, value: Option<f64>, tags: &[(&str, &str)]) -> ts::Event {
    ts::Event {
        series_id: series.into(),
        event_time: Some(ts_at(seconds)),
        event_id: id.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        value,
        payload: Vec::new(),
    }
}

/// The field and message of an INVALID_ARGUMENT, or a panic naming what came instead.
pub fn invalid_field<T: std::fmt::Debug>(result: Result<T, PrismError>) -> (String, String) {
    match result {
        Err(PrismError::InvalidArgument { field, message }) => (field, message),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}
