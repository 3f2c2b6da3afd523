//! `Proxy`: owns the engine's server. Blocking calls detach from Python so
//! the interpreter keeps running while the core starts, serves and drains.

use std::time::Duration;

use prism_engine::config::{NamespaceConfig, ProxyConfig};
use prism_engine::server::{Server, StartError};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::Mutex;

use crate::bridge::Bridge;

#[pyclass(module = "prism._core")]
pub struct Proxy {
    config: ProxyConfig,
    bridge: Py<Bridge>,
    server: Mutex<Option<Server>>,
    grpc_address: String,
    metrics_address: String,
}

fn start_error(err: StartError) -> PyErr {
    match err {
        StartError::Config(e) => PyValueError::new_err(e.to_string()),
        StartError::Bind { addr, source } => {
            let reason = match source.kind() {
                std::io::ErrorKind::AddrInUse => "address in use".to_string(),
                _ => source.to_string(),
            };
            let errno = source.raw_os_error().unwrap_or(0);
            PyOSError::new_err((errno, format!("cannot listen on {addr}: {reason}")))
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

#[pymethods]
impl Proxy {
    #[new]
    fn new(config_json: &str, bridge: Py<Bridge>) -> PyResult<Self> {
        let config = ProxyConfig::from_json(config_json).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self {
            config,
            bridge,
            server: Mutex::new(None),
            grpc_address: String::new(),
            metrics_address: String::new(),
        })
    }

    fn start(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.server.lock().expect("lock").is_some() {
            return Err(PyRuntimeError::new_err("the proxy is already running"));
        }
        let config = self.config.clone();
        let queue = self.bridge.get().queue.clone();
        let server = py.detach(move || Server::start(config, Some(queue))).map_err(start_error)?;
        self.grpc_address = server.grpc_addr.to_string();
        self.metrics_address = server.metrics_addr.to_string();
        *self.server.lock().expect("lock") = Some(server);
        Ok(())
    }

    #[getter]
    fn grpc_address(&self) -> &str {
        &self.grpc_address
    }

    #[getter]
    fn metrics_address(&self) -> &str {
        &self.metrics_address
    }

    fn update_namespaces(&self, namespaces_json: &str) -> PyResult<()> {
        let namespaces: Vec<NamespaceConfig> = serde_json::from_str(namespaces_json)
            .map_err(|e| PyValueError::new_err(format!("invalid namespaces: {e}")))?;
        let guard = self.server.lock().expect("lock");
        let server = guard.as_ref().ok_or_else(|| PyRuntimeError::new_err("the proxy is not running"))?;
        server.update_namespaces(&namespaces).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Reports a namespace's backend health on the gRPC health service.
    fn set_namespace_health(&self, py: Python<'_>, namespace: &str, serving: bool) -> PyResult<()> {
        let guard = self.server.lock().expect("lock");
        let server = guard.as_ref().ok_or_else(|| PyRuntimeError::new_err("the proxy is not running"))?;
        py.detach(|| server.set_namespace_health(namespace, serving));
        Ok(())
    }

    #[pyo3(signature = (grace_seconds = 10.0))]
    fn shutdown(&self, py: Python<'_>, grace_seconds: f64) {
        let server = self.server.lock().expect("lock").take();
        if let Some(mut server) = server {
            let grace = Duration::from_secs_f64(grace_seconds.max(0.0));
            py.detach(move || server.shutdown(grace));
        }
    }
}
