//! Microbenchmarks of the two ways to reach Python from tokio workers, used by
//! `tooling/bench/bridge_crossing.py` and recorded in ADR-003:
//! - `attach`: each request attaches its worker thread to Python and calls a
//!   function (what a naive binding does);
//! - `bridge`: each request goes through the bridge queue to the plugin host
//!   thread, which drains and answers in batches.

use std::sync::Arc;
use std::time::Instant;

use prism_engine::bridge::BridgeOp;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::bridge::Bridge;

fn runtime(workers: usize) -> PyResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Runs `requests` calls with `concurrency` in flight; returns ns per request.
fn drive<F, Fut>(py: Python<'_>, requests: usize, concurrency: usize, call: F) -> PyResult<f64>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    if requests == 0 || concurrency == 0 {
        return Err(PyValueError::new_err("requests and concurrency must be positive"));
    }
    let rt = runtime(2)?;
    let call = Arc::new(call);
    py.detach(move || {
        rt.block_on(async move {
            let started = Instant::now();
            let per_task = requests.div_ceil(concurrency);
            let mut tasks = Vec::new();
            for _ in 0..concurrency {
                let call = call.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..per_task {
                        call().await?;
                    }
                    Ok::<_, String>(())
                }));
            }
            for task in tasks {
                task.await.map_err(|e| e.to_string())??;
            }
            Ok(started.elapsed().as_nanos() as f64 / (per_task * concurrency) as f64)
        })
    })
    .map_err(|e: String| PyRuntimeError::new_err(e))
}

/// Each request attaches a tokio worker to Python and calls `function()`.
#[pyfunction]
#[pyo3(signature = (function, requests, concurrency = 1))]
pub fn attach_microbench(
    py: Python<'_>,
    function: Py<PyAny>,
    requests: usize,
    concurrency: usize,
) -> PyResult<f64> {
    let function = Arc::new(function);
    drive(py, requests, concurrency, move || {
        let function = function.clone();
        async move { Python::attach(|py| function.call0(py).map(|_| ()).map_err(|e| e.to_string())) }
    })
}

/// Each request is a `noop` through the bridge; a plugin host must be draining it.
#[pyfunction]
#[pyo3(signature = (bridge, requests, concurrency = 1))]
pub fn bridge_microbench(
    py: Python<'_>,
    bridge: &Bridge,
    requests: usize,
    concurrency: usize,
) -> PyResult<f64> {
    let queue = bridge.queue.clone();
    let namespace: Arc<str> = Arc::from("_bench");
    drive(py, requests, concurrency, move || {
        let queue = queue.clone();
        let namespace = namespace.clone();
        async move { queue.call(namespace, BridgeOp::Noop).await.map(|_| ()).map_err(|e| e.to_string()) }
    })
}
