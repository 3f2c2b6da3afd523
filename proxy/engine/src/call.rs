//! The typed request that travels through the tower stack. Each RPC handler
//! turns its decoded protobuf into a `Call`, so layers see the namespace, the
//! method and the payload instead of HTTP bodies.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use serde::Deserialize;

use crate::identity::{Credentials, Identity};
use crate::pb::{kv, ts};
use crate::registry::Namespace;
use crate::routes_generated::{self, Route};

/// A data API that a namespace can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    KeyValue,
    TimeSeries,
}

impl Pattern {
    pub fn name(self) -> &'static str {
        match self {
            Pattern::KeyValue => "keyvalue",
            Pattern::TimeSeries => "timeseries",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    KvGet,
    KvBatchGet,
    KvExists,
    KvPut,
    KvBatchPut,
    KvDelete,
    KvBatchDelete,
    KvScan,
    TsAppend,
    TsQuery,
    TsAggregate,
    TsTail,
}

impl Method {
    pub const ALL: [Method; 12] = [
        Method::KvGet,
        Method::KvBatchGet,
        Method::KvExists,
        Method::KvPut,
        Method::KvBatchPut,
        Method::KvDelete,
        Method::KvBatchDelete,
        Method::KvScan,
        Method::TsAppend,
        Method::TsQuery,
        Method::TsAggregate,
        Method::TsTail,
    ];

    /// `Service/Method`, as in the gRPC path and the metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Method::KvGet => "KeyValue/Get",
            Method::KvBatchGet => "KeyValue/BatchGet",
            Method::KvExists => "KeyValue/Exists",
            Method::KvPut => "KeyValue/Put",
            Method::KvBatchPut => "KeyValue/BatchPut",
            Method::KvDelete => "KeyValue/Delete",
            Method::KvBatchDelete => "KeyValue/BatchDelete",
            Method::KvScan => "KeyValue/Scan",
            Method::TsAppend => "TimeSeries/Append",
            Method::TsQuery => "TimeSeries/Query",
            Method::TsAggregate => "TimeSeries/Aggregate",
            Method::TsTail => "TimeSeries/Tail",
        }
    }

    /// The full gRPC path, e.g. `/prism.keyvalue.v1.KeyValue/Get`.
    pub fn path(self) -> &'static str {
        match self {
            Method::KvGet => "/prism.keyvalue.v1.KeyValue/Get",
            Method::KvBatchGet => "/prism.keyvalue.v1.KeyValue/BatchGet",
            Method::KvExists => "/prism.keyvalue.v1.KeyValue/Exists",
            Method::KvPut => "/prism.keyvalue.v1.KeyValue/Put",
            Method::KvBatchPut => "/prism.keyvalue.v1.KeyValue/BatchPut",
            Method::KvDelete => "/prism.keyvalue.v1.KeyValue/Delete",
            Method::KvBatchDelete => "/prism.keyvalue.v1.KeyValue/BatchDelete",
            Method::KvScan => "/prism.keyvalue.v1.KeyValue/Scan",
            Method::TsAppend => "/prism.timeseries.v1.TimeSeries/Append",
            Method::TsQuery => "/prism.timeseries.v1.TimeSeries/Query",
            Method::TsAggregate => "/prism.timeseries.v1.TimeSeries/Aggregate",
            Method::TsTail => "/prism.timeseries.v1.TimeSeries/Tail",
        }
    }

    /// What the protos' `prism.*` options say about this method: the permission it
    /// needs, whether it may be retried or cached, the capability it needs
    /// (generated into `routes_generated.rs` by `make codegen`).
    pub fn route(self) -> &'static Route {
        // Cannot fail for long: tests/routes.rs checks every Method has a route.
        routes_generated::route(self.path()).expect("every Method has a generated route")
    }

    /// The pattern capability a backend must claim to serve this method
    /// (the `prism.capability` option of the RPC in the proto).
    pub fn capability(self) -> &'static str {
        self.route().capability
    }

    pub fn pattern(self) -> Pattern {
        match self {
            Method::TsAppend | Method::TsQuery | Method::TsAggregate | Method::TsTail => Pattern::TimeSeries,
            _ => Pattern::KeyValue,
        }
    }
}

/// A decoded request of any data RPC.
#[derive(Debug, Clone)]
pub enum Request {
    Get(kv::GetRequest),
    BatchGet(kv::BatchGetRequest),
    Exists(kv::ExistsRequest),
    Put(kv::PutRequest),
    BatchPut(kv::BatchPutRequest),
    Delete(kv::DeleteRequest),
    BatchDelete(kv::BatchDeleteRequest),
    Scan(kv::ScanRequest),
    Append(ts::AppendRequest),
    Query(ts::QueryRequest),
    Aggregate(ts::AggregateRequest),
    Tail(ts::TailRequest),
}

impl Request {
    pub fn method(&self) -> Method {
        match self {
            Request::Get(_) => Method::KvGet,
            Request::BatchGet(_) => Method::KvBatchGet,
            Request::Exists(_) => Method::KvExists,
            Request::Put(_) => Method::KvPut,
            Request::BatchPut(_) => Method::KvBatchPut,
            Request::Delete(_) => Method::KvDelete,
            Request::BatchDelete(_) => Method::KvBatchDelete,
            Request::Scan(_) => Method::KvScan,
            Request::Append(_) => Method::TsAppend,
            Request::Query(_) => Method::TsQuery,
            Request::Aggregate(_) => Method::TsAggregate,
            Request::Tail(_) => Method::TsTail,
        }
    }

    pub fn namespace(&self) -> &str {
        match self {
            Request::Get(r) => &r.namespace,
            Request::BatchGet(r) => &r.namespace,
            Request::Exists(r) => &r.namespace,
            Request::Put(r) => &r.namespace,
            Request::BatchPut(r) => &r.namespace,
            Request::Delete(r) => &r.namespace,
            Request::BatchDelete(r) => &r.namespace,
            Request::Scan(r) => &r.namespace,
            Request::Append(r) => &r.namespace,
            Request::Query(r) => &r.namespace,
            Request::Aggregate(r) => &r.namespace,
            Request::Tail(r) => &r.namespace,
        }
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<ts::Event, tonic::Status>> + Send>>;

/// A response of any data RPC.
pub enum Reply {
    Get(kv::GetResponse),
    BatchGet(kv::BatchGetResponse),
    Exists(kv::ExistsResponse),
    Put(kv::PutResponse),
    BatchPut(kv::BatchPutResponse),
    Delete(kv::DeleteResponse),
    BatchDelete(kv::BatchDeleteResponse),
    Scan(kv::ScanResponse),
    Append(ts::AppendResponse),
    Query(ts::QueryResponse),
    Aggregate(ts::AggregateResponse),
    Tail(EventStream),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Tail(_) => f.write_str("Reply::Tail(..)"),
            _ => f.write_str("Reply(..)"),
        }
    }
}

/// One request on its way through the stack.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub request: Request,
    /// The client's deadline (`grpc-timeout`), if it sent one.
    pub deadline: Option<Duration>,
    /// Set by the namespace layer; every layer below may rely on it.
    pub namespace: Option<Arc<Namespace>>,
    /// What the caller presented; the authn layer turns it into `identity`.
    pub credentials: Credentials,
    /// Set by the authn layer (`anonymous` until then, and in mode `none`).
    pub identity: Arc<Identity>,
}

impl Call {
    pub fn new(request: Request, deadline: Option<Duration>) -> Self {
        Self::with_credentials(request, deadline, Credentials::default())
    }

    pub fn with_credentials(request: Request, deadline: Option<Duration>, credentials: Credentials) -> Self {
        Self {
            method: request.method(),
            request,
            deadline,
            namespace: None,
            credentials,
            identity: anonymous(),
        }
    }

    pub fn namespace_name(&self) -> &str {
        self.request.namespace()
    }
}

/// One shared anonymous identity, so unauthenticated calls do not allocate one each.
pub fn anonymous() -> Arc<Identity> {
    static ANONYMOUS: std::sync::OnceLock<Arc<Identity>> = std::sync::OnceLock::new();
    ANONYMOUS.get_or_init(|| Arc::new(Identity::anonymous())).clone()
}
