//! Starts and stops the data plane: a tokio runtime owned by the server, the
//! gRPC listener (KeyValue, TimeSeries, health, reflection) and the metrics
//! listener. Listeners bind synchronously so the caller learns at once when a
//! port is taken.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::bridge::BridgeQueue;
use crate::config::{NamespaceConfig, ProxyConfig};
use crate::layers::load_shed::LoadShedLayer;
use crate::metrics::Metrics;
use crate::pb::{kv, ts, FILE_DESCRIPTOR_SET};
use crate::registry::Registry;
use crate::security::Security;
use crate::services::{KeyValueService, TimeSeriesService};
use crate::tail::TailHub;
use crate::PrismError;

/// Largest message accepted or sent; batches and pages are bounded by limits.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] PrismError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot build gRPC reflection: {0}")]
    Reflection(String),
}

pub struct Server {
    runtime: Option<Runtime>,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    bridge: Option<Arc<BridgeQueue>>,
    shutdown: watch::Sender<bool>,
    tails: Arc<TailHub>,
    health: tonic_health::server::HealthReporter,
    grpc_task: Option<JoinHandle<()>>,
    /// Flushed and closed on shutdown, after in-flight requests are done.
    audit: crate::layers::audit::AuditLayer,
    pub grpc_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
}

fn bind(addr: &str) -> Result<std::net::TcpListener, StartError> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
    listener.set_nonblocking(true).map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
    Ok(listener)
}

impl Server {
    pub fn start(config: ProxyConfig, bridge: Option<Arc<BridgeQueue>>) -> Result<Self, StartError> {
        config.validate()?;
        let registry = Arc::new(Registry::new(bridge.clone()));
        // Namespaces with PII fields unwrap their data keys with this master key (ADR-011).
        registry.set_keys(config.server.keys.clone());
        registry.apply(&config.namespaces)?;
        let metrics = Arc::new(Metrics::new());

        let grpc_listener = bind(&config.server.listen)?;
        let metrics_listener = bind(&config.server.metrics_listen)?;
        let grpc_addr = grpc_listener.local_addr().map_err(StartError::Runtime)?;
        let metrics_addr = metrics_listener.local_addr().map_err(StartError::Runtime)?;

        // Transport security and the metadata bound come from server.auth (ADR-010):
        // rustls, and in the mtls modes the client-certificate check in the handshake.
        let mut transport = tonic::transport::Server::builder()
            .http2_max_header_list_size(config.server.auth.max_metadata_bytes);
        if let Some(tls) = crate::auth::tls::server_tls(&config.server.auth)? {
            transport = transport.tls_config(tls).map_err(|e| {
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                PrismError::invalid(
                    "server.auth.tls",
                    format!("cannot use the certificate and key ({e}{cause})"),
                )
            })?;
        }
        for warning in crate::auth::tls::startup_warnings(&config.server.auth, grpc_addr) {
            eprintln!("{warning}");
            tracing::warn!("{warning}");
        }

        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("prism-worker");
        if config.server.worker_threads > 0 {
            builder.worker_threads(config.server.worker_threads);
        }
        let runtime = builder.build().map_err(StartError::Runtime)?;

        let shed = LoadShedLayer::new(config.server.max_concurrency);
        let tails = Arc::new(TailHub::new());
        let security =
            runtime.block_on(async { Security::from_config(&config.server, &registry, &metrics) })?;
        let stack = crate::stack::build(
            &config.server,
            registry.clone(),
            metrics.clone(),
            shed.clone(),
            tails.clone(),
            &security,
        );
        let (shutdown, shutdown_rx) = watch::channel(false);

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartError::Reflection(e.to_string()))?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| StartError::Reflection(e.to_string()))?;

        let kv_service = kv::key_value_server::KeyValueServer::new(KeyValueService::new(stack.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let ts_service = ts::time_series_server::TimeSeriesServer::new(TimeSeriesService::new(stack))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health = reporter.clone();
        let grpc_task = runtime.block_on(async {
            reporter.set_serving::<kv::key_value_server::KeyValueServer<KeyValueService>>().await;
            reporter.set_serving::<ts::time_series_server::TimeSeriesServer<TimeSeriesService>>().await;
            let listener = tokio::net::TcpListener::from_std(grpc_listener)
                .map_err(|source| StartError::Bind { addr: grpc_addr.to_string(), source })?;
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            let mut stop = shutdown_rx.clone();
            let router = transport
                .add_service(health_service)
                .add_service(reflection_v1)
                .add_service(reflection_v1alpha)
                .add_service(kv_service)
                .add_service(ts_service);
            let serve = router.serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
                // Health flips first so probes stop routing here while we drain.
                reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
            });
            let task = tokio::spawn(async move {
                if let Err(err) = serve.await {
                    tracing::error!("gRPC server stopped: {err}");
                }
            });

            let listener = tokio::net::TcpListener::from_std(metrics_listener)
                .map_err(|source| StartError::Bind { addr: metrics_addr.to_string(), source })?;
            let app = crate::metrics_http::router(metrics.clone(), bridge.clone(), shed, registry.clone());
            let mut stop = shutdown_rx.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stopping| *stopping).await;
                    })
                    .await;
            });
            Ok::<_, StartError>(task)
        })?;

        Ok(Self {
            runtime: Some(runtime),
            registry,
            metrics,
            bridge,
            shutdown,
            tails,
            health,
            grpc_task: Some(grpc_task),
            audit: security.audit.clone(),
            grpc_addr,
            metrics_addr,
        })
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn bridge(&self) -> Option<&Arc<BridgeQueue>> {
        self.bridge.as_ref()
    }

    /// Health service name under which a namespace's backend health is reported.
    pub fn namespace_health_service(namespace: &str) -> String {
        format!("prism.namespace.{namespace}")
    }

    /// Publishes a namespace's backend health on the gRPC health service
    /// (`grpc.health.v1.Health/Check` with service `prism.namespace.<name>`).
    pub fn set_namespace_health(&self, namespace: &str, serving: bool) {
        let status = if serving {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        let service = Self::namespace_health_service(namespace);
        let reporter = self.health.clone();
        if let Some(runtime) = self.runtime.as_ref() {
            runtime.block_on(async move { reporter.set_service_status(service, status).await });
        }
    }

    /// Replaces the namespace table; in-flight requests keep their snapshot.
    pub fn update_namespaces(&self, namespaces: &[NamespaceConfig]) -> Result<(), PrismError> {
        let config = ProxyConfig { server: Default::default(), namespaces: namespaces.to_vec() };
        config.validate()?;
        self.registry.apply(namespaces)
    }

    /// Stops accepting, waits up to `grace` for in-flight requests, then stops.
    pub fn shutdown(&mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        self.tails.close();
        if let (Some(runtime), Some(task)) = (self.runtime.as_ref(), self.grpc_task.take()) {
            let _ = runtime.block_on(async { tokio::time::timeout(grace, task).await });
        }
        self.audit.close();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.runtime.is_some() {
            self.shutdown(Duration::from_secs(1));
        }
    }
}
