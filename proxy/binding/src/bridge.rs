//! The host side of the bridge queue: `drain` and `complete` are the only two
//! crossings per batch of requests.

use std::sync::Arc;

use prism_engine::bridge::BridgeQueue;
use prism_engine::PrismError;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::convert::{op_to_py, reply_from_py};

#[pyclass(frozen, module = "prism._core")]
pub struct Bridge {
    pub(crate) queue: Arc<BridgeQueue>,
}

#[pymethods]
impl Bridge {
    #[new]
    fn new() -> PyResult<Self> {
        let queue = BridgeQueue::new().map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self { queue: Arc::new(queue) })
    }

    fn fileno(&self) -> i32 {
        self.queue.notify_fd()
    }

    #[pyo3(signature = (max_items = 4096))]
    fn drain<'py>(&self, py: Python<'py>, max_items: usize) -> PyResult<Bound<'py, PyList>> {
        let requests = self.queue.drain(max_items);
        let list = PyList::empty(py);
        for request in requests {
            let args = op_to_py(py, &request.op)?;
            let item = PyTuple::new(
                py,
                [
                    request.id.into_pyobject(py)?.into_any(),
                    request.namespace.as_ref().into_pyobject(py)?.into_any(),
                    request.op.kind().name().into_pyobject(py)?.into_any(),
                    args,
                ],
            )?;
            list.append(item)?;
        }
        Ok(list)
    }

    fn complete(&self, results: &Bound<'_, PyList>) -> PyResult<()> {
        for entry in results.iter() {
            let (id, ok, value): (u64, bool, Bound<'_, PyAny>) = entry.extract()?;
            let Some((kind, responder)) = self.queue.take_pending(id) else { continue };
            let outcome = if ok {
                reply_from_py(kind, &value).map_err(|e| {
                    PrismError::Internal(format!("plugin answered {} with a bad value: {e}", kind.name()))
                })
            } else {
                match value.extract::<(String, String)>() {
                    Ok((code, message)) => Err(PrismError::from_code(&code, message)),
                    Err(e) => Err(PrismError::Internal(format!("plugin error value malformed: {e}"))),
                }
            };
            let _ = responder.send(outcome);
        }
        Ok(())
    }

    fn close(&self) {
        self.queue.close();
    }

    fn pending(&self) -> usize {
        self.queue.pending_len()
    }
}
